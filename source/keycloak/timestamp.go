package keycloak

import (
	"fmt"
	"strings"
	"time"
)

// Layouts of full timestamps, tried in order. Go's parser accepts a
// fractional second after the seconds with a comma or a point even where a
// layout shows none, which covers JBoss's "21:01:42,548" and any precision.
var (
	// zonedLayouts carry their own offset: JSON console logs and ECS write
	// RFC 3339, and some logging configurations drop the offset's colon.
	zonedLayouts = []string{
		"2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05Z0700",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02 15:04:05Z0700",
	}

	// localLayouts carry no zone; Options.Location places them. The first
	// is the JBoss and Quarkus default "yyyy-MM-dd HH:mm:ss,SSS".
	localLayouts = []string{
		"2006-01-02 15:04:05",
		"2006-01-02T15:04:05",
	}
)

// timeOfDayLayout reads the "HH:mm:ss,SSS" of lines without a date, such
// as WildFly's default console format prints.
const timeOfDayLayout = "15:04:05"

// clock places the times of one file: its zone for times without one, and
// the date for times of day.
type clock struct {
	location *time.Location
	date     time.Time // midnight of the day for times of day; zero when unknown

	// modTime is the file's modification time when date was taken from it,
	// and zero when Options.Date gave the date.
	modTime time.Time

	// lastTimeOfDay is the previous time of day read, to notice midnight.
	lastTimeOfDay time.Duration
	seenTimeOfDay bool
}

// newClock resolves opts for a file whose modification time is modTime.
func newClock(opts Options, modTime time.Time) clock {
	c := clock{location: opts.Location}
	if c.location == nil {
		c.location = time.UTC
	}

	var year int
	var month time.Month
	var day int
	switch {
	case !opts.Date.IsZero():
		year, month, day = opts.Date.Date()
	case !modTime.IsZero():
		year, month, day = modTime.In(c.location).Date()
		c.modTime = modTime
	default:
		return c
	}
	c.date = time.Date(year, month, day, 0, 0, 0, 0, c.location)
	return c
}

// parse returns the UTC time of a timestamp text, to the millisecond.
func (c *clock) parse(text string) (time.Time, error) {
	var t time.Time
	var err error
	switch {
	case isTimeOfDay(text):
		t, err = c.parseTimeOfDay(text)
	default:
		t, err = c.parseFull(text)
	}
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC().Truncate(time.Millisecond), nil
}

func (c clock) parseFull(text string) (time.Time, error) {
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, text); err == nil {
			return t, nil
		}
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, text, c.location); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w %q: want a date and time such as 2021-10-22 21:01:42,548 or RFC 3339, or a time of day such as 16:30:11,662",
		errInvalidTimestamp, shorten(text))
}

func (c *clock) parseTimeOfDay(text string) (time.Time, error) {
	t, err := time.Parse(timeOfDayLayout, text)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %q: want a time of day such as 16:30:11,662", errInvalidTimestamp, shorten(text))
	}
	if c.date.IsZero() {
		return time.Time{}, fmt.Errorf("%w (%s): the file's modification time is unknown, so pass the date of the log with Options.Date",
			errNoDate, text)
	}
	// A time of day more than 12 hours before the previous one means the
	// log has passed midnight. Lines a little out of order stay on their
	// day.
	sinceMidnight := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute +
		time.Duration(t.Second())*time.Second + time.Duration(t.Nanosecond())
	first := !c.seenTimeOfDay
	if !first && sinceMidnight < c.lastTimeOfDay-12*time.Hour {
		c.date = c.date.AddDate(0, 0, 1)
	}
	c.lastTimeOfDay, c.seenTimeOfDay = sinceMidnight, true

	year, month, day := c.date.Date()
	at := time.Date(year, month, day, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), c.location)

	// A line was written before the file was last modified. So a first
	// line later in the day than the modification time is from the day
	// before, as when a log runs past midnight.
	//
	// NOTE: the date is still wrong for a file whose first line is more
	// than a day older than its modification time; Options.Date fixes it.
	if first && !c.modTime.IsZero() && at.After(c.modTime) {
		c.date = c.date.AddDate(0, 0, -1)
		at = at.AddDate(0, 0, -1)
	}
	return at, nil
}

// assumedDate returns the date of the first line that carries a time of
// day only, when the file's modification time gave it, and false when
// Options.Date gave it or no such line was read.
func (c *clock) assumedDate() (time.Time, bool) {
	if c.modTime.IsZero() || !c.seenTimeOfDay {
		return time.Time{}, false
	}
	return c.date, true
}

// isTimeOfDay reports whether text starts like "16:30:11", with no date.
func isTimeOfDay(text string) bool {
	colon := strings.IndexByte(text, ':')
	return colon == 1 || colon == 2
}

// shorten cuts a value quoted in a reason, so that one bad record cannot
// flood the report.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		cut--
	}
	return s[:cut] + "..."
}
