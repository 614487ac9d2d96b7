package detect

import (
	"fmt"
	"strings"
	"time"
)

// FormatDuration writes d the way anomaly summaries give spans of event
// time: to the millisecond below 10 s ("2.4s", so that a span just past a
// 2 s grace does not read "2s"), to the second below an hour ("4m10s"), to
// the minute below two days ("5h3m"), and in whole days past that ("21
// days", "20777 days, about 56 years"). A negative d is written with a
// leading minus sign.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	const day = 24 * time.Hour
	switch {
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 2*day:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	days := int64(d / day)
	if years := float64(d) / float64(365.2425*float64(day)); years >= 2 {
		return fmt.Sprintf("%d days, about %.0f years", days, years)
	}
	return fmt.Sprintf("%d days", days)
}
