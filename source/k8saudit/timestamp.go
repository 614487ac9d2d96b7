package k8saudit

import "time"

// parseTimestamp parses an RFC 3339 time as time.Parse(time.RFC3339Nano, s)
// does, and returns it in UTC. It reads the UTC form that the API server
// writes, such as 2025-05-19T09:44:36.348992Z, without time.Parse, which
// takes about four times as long, and hands every other form to time.Parse.
func parseTimestamp(s string) (time.Time, error) {
	if t, ok := parseUTCTimestamp(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// parseUTCTimestamp reads YYYY-MM-DDTHH:MM:SS, a fraction of one to nine
// digits after a ".", and "Z". It reports false for any other text and
// for a date or time out of range, which time.Parse rejects.
func parseUTCTimestamp(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := parseDigits(s[0:4])
	month, ok2 := parseDigits(s[5:7])
	day, ok3 := parseDigits(s[8:10])
	hour, ok4 := parseDigits(s[11:13])
	minute, ok5 := parseDigits(s[14:16])
	second, ok6 := parseDigits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}

	nanosecond := 0
	if fraction := s[19 : len(s)-1]; fraction != "" {
		digits := fraction[1:]
		if fraction[0] != '.' || len(digits) < 1 || len(digits) > 9 {
			return time.Time{}, false
		}
		n, ok := parseDigits(digits)
		if !ok {
			return time.Time{}, false
		}
		for range 9 - len(digits) {
			n *= 10
		}
		nanosecond = n
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, nanosecond, time.UTC), true
}

// parseDigits reads s, which must be one or more decimal digits.
func parseDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}

// daysIn returns the number of days of a month of the Gregorian calendar.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
