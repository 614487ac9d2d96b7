package detect

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// FormatDuration writes d the way anomaly summaries give spans of event
// time. Below 10 s it keeps milliseconds ("2.4s"), so that a span just past
// a 2 s grace does not read "2s". Below an hour it rounds to the second
// ("4m10s", "10m"), below two days to the minute ("5h3m", "2h"), and past
// that it gives whole days ("21 days", "20777 days, about 57 years"). A
// negative d is written with a leading minus sign.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		if d == math.MinInt64 {
			d++ // its negation would overflow; a nanosecond is lost in the rounding
		}
		return "-" + FormatDuration(-d)
	}
	const day = 24 * time.Hour
	switch {
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return trimZeroUnits(d.Round(time.Second).String())
	case d < 2*day:
		return trimZeroUnits(d.Round(time.Minute).String())
	}
	days := int64(d / day)
	if years := float64(d) / float64(365.2425*float64(day)); years >= 2 {
		return fmt.Sprintf("%d days, about %.0f years", days, years)
	}
	return fmt.Sprintf("%d days", days)
}

// trimZeroUnits drops the trailing zero seconds and minutes of a
// time.Duration string: "10m0s" reads "10m", "5h3m0s" "5h3m", and "2h0m0s"
// "2h".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
