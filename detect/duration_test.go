package detect

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestFormatDuration(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0s"},
		{"milliseconds", 350 * time.Millisecond, "350ms"},
		{"just past a 2s grace", 2400 * time.Millisecond, "2.4s"},
		{"a millisecond past 2s", 2001 * time.Millisecond, "2.001s"},
		{"under ten seconds", 9999 * time.Millisecond, "9.999s"},
		{"ten seconds", 10*time.Second + 400*time.Millisecond, "10s"},
		{"minutes", 4*time.Minute + 10*time.Second, "4m10s"},
		{"whole minutes", 10 * time.Minute, "10m"},
		{"ten seconds past", 10*time.Minute + 10*time.Second, "10m10s"},
		{"one minute", time.Minute, "1m"},
		{"hours drop the seconds", 5*time.Hour + 3*time.Minute + 20*time.Second, "5h3m"},
		{"whole hours", 2 * time.Hour, "2h"},
		{"hours and ten minutes", 2*time.Hour + 10*time.Minute, "2h10m"},
		{"just under two days", 47*time.Hour + 59*time.Minute, "47h59m"},
		{"two days", 2 * day, "2 days"},
		{"weeks", 21*day + 5*time.Hour, "21 days"},
		{"decades", 498657 * time.Hour, "20777 days, about 57 years"},
		{"negative", -2400 * time.Millisecond, "-2.4s"},
		{"most negative", math.MinInt64, "-106751 days, about 292 years"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatDuration(tt.d); got != tt.want {
				t.Errorf("FormatDuration(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
}

// A second redemption 2.4 s after the first, past the 2 s grace, must not
// read "2s after" in the summary.
func TestRefreshReuseSummaryKeepsSubsecond(t *testing.T) {
	got := run(t, Config{}, []audit.Event{
		event("f1", 0, audit.KindRefreshed),
		event("f2", 2400*time.Millisecond, audit.KindRefreshed),
	})
	if len(got) != 1 {
		t.Fatalf("anomalies = %+v, want one refresh_token_reuse", summarize(got))
	}
	if !strings.Contains(got[0].Summary, "2.4s after") {
		t.Errorf("Summary = %q, want it to say 2.4s after", got[0].Summary)
	}
}
