package auth0

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/shareddata"
)

// sample returns the first 64 KiB of the file at path, as a Detect caller
// passes it.
func sample(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b[:min(len(b), 64<<10)]
}

func TestDetectTestdata(t *testing.T) {
	for _, name := range []string{"management-api-logs.json", "log-stream.jsonl", "eventbridge-events.jsonl", "event-grid-events.json"} {
		if !Detect(sample(t, filepath.Join("testdata", name))) {
			t.Errorf("Detect(%s) = false, want true", name)
		}
	}
}

// TestDetectSharedSamples checks that, of the real sample logs of every
// format, Detect recognises the Auth0 ones only.
func TestDetectSharedSamples(t *testing.T) {
	dir := shareddata.Dir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	recognised := 0
	for _, entry := range entries {
		name := entry.Name()
		if entry.IsDir() || strings.HasSuffix(name, ".md") {
			continue
		}
		want := strings.HasPrefix(name, "auth0-")
		if got := Detect(sample(t, filepath.Join(dir, name))); got != want {
			t.Errorf("Detect(%s) = %v, want %v", name, got, want)
		}
		if want {
			recognised++
		}
	}
	if recognised == 0 {
		t.Error("no Auth0 sample found")
	}
}

// TestDetectOtherImporters checks the test files of the other importers.
func TestDetectOtherImporters(t *testing.T) {
	files, err := filepath.Glob("../*/testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if strings.Contains(path, "/auth0/") || strings.HasSuffix(path, ".md") || strings.Contains(filepath.Base(path), "LICENSE") {
			continue
		}
		if info, err := os.Stat(path); err != nil || info.IsDir() {
			continue
		}
		if Detect(sample(t, path)) {
			t.Errorf("Detect(%s) = true, want false", path)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		want   bool
	}{
		{"bare record", `{"date":"2025-03-01T10:00:00Z","type":"s","log_id":"9001"}`, true},
		{"wrapped record", `{"log_id":"9001","data":{"date":"2025-03-01T10:00:00Z","type":"s"}}`, true},
		{"array", "[\n  {\"date\":\"2025-03-01T10:00:00Z\",\"type\":\"sapi\",\"_id\":\"9001\"}\n]", true},
		{"cut inside the first record", `{"log_id":"9001","data":{"date":"2025-03-01T10:00:00Z","ty`, false},
		{"no date", `{"log_id":"9001","type":"s"}`, false},
		{"no type", `{"log_id":"9001","date":"2025-03-01T10:00:00Z"}`, false},
		{"no log_id", `{"type":"s","date":"2025-03-01T10:00:00Z"}`, false},
		{"Okta event", `{"uuid":"u1","published":"2025-03-01T10:00:00Z","eventType":"user.session.start"}`, false},
		{"text", "2025-03-01 10:00:00 INFO login ok\n", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.sample)); got != tt.want {
			t.Errorf("%s: Detect = %v, want %v", tt.name, got, tt.want)
		}
	}
}
