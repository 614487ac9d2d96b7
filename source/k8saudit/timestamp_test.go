package k8saudit

import (
	"testing"
	"time"
)

// checkTimestamp fails tb when parseTimestamp and time.Parse disagree on s.
func checkTimestamp(tb testing.TB, s string) {
	tb.Helper()
	got, gotErr := parseTimestamp(s)
	want, wantErr := time.Parse(time.RFC3339Nano, s)
	if (gotErr != nil) != (wantErr != nil) {
		tb.Fatalf("parseTimestamp(%q) error = %v, want %v", s, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if want = want.UTC(); got != want {
		tb.Errorf("parseTimestamp(%q) = %v, want %v", s, got, want)
	}
}

func TestParseTimestampMatchesTimeParse(t *testing.T) {
	for _, s := range []string{
		"2025-05-19T09:44:36.348992Z",
		"2025-05-19T09:44:36Z",
		"2025-05-19T09:44:36.1Z",
		"2025-05-19T09:44:36.123456789Z",
		"2025-05-19T09:44:36.1234567891Z",
		"2025-05-19T09:44:36.Z",
		"2025-05-19T09:44:36,5Z",
		"2025-05-19T09:44:36.348992+02:00",
		"2025-05-19t09:44:36Z",
		"2025-05-19T09:44:36z",
		"2024-02-29T00:00:00Z",
		"2025-02-29T00:00:00Z",
		"2000-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z",
		"2025-04-31T00:00:00Z",
		"2025-12-31T23:59:59.999999999Z",
		"2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z",
		"2025-01-00T00:00:00Z",
		"2025-01-01T24:00:00Z",
		"2025-01-01T23:60:00Z",
		"2025-01-01T23:59:60Z",
		"0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z",
		"+025-01-01T00:00:00Z",
		"2025-01-01T00:00:0xZ",
		"2025-01-01 00:00:00Z",
		"2025-01-01T00:00:00.-1Z",
		"",
		"Z",
	} {
		t.Run(s, func(t *testing.T) { checkTimestamp(t, s) })
	}
}

func FuzzParseTimestamp(f *testing.F) {
	f.Add("2025-05-19T09:44:36.348992Z")
	f.Add("2024-02-29T23:59:59Z")
	f.Add("2025-05-19T09:44:36.348992+02:00")
	f.Fuzz(func(t *testing.T, s string) { checkTimestamp(t, s) })
}
