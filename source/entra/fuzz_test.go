package entra

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// validatingHandler fails the test on an event that does not validate, and
// checks the location of every report.
type validatingHandler struct {
	tb    testing.TB
	lines int // the input's number of lines, at least 1
}

func (h *validatingHandler) Event(e audit.Event) error {
	if err := e.Validate(); err != nil {
		h.tb.Errorf("event from %s is invalid: %v", e.Source, err)
	}
	if !strings.HasPrefix(e.Source, "fuzz.json:") {
		h.tb.Errorf("event Source = %q, want fuzz.json:<line>", e.Source)
	}
	return nil
}

func (h *validatingHandler) Skip(line int, reason string) {
	if line < 1 || line > h.lines || reason == "" {
		h.tb.Errorf("Skip(%d, %q) outside the input's %d lines or without reason", line, reason, h.lines)
	}
}

func (h *validatingHandler) Reject(err *source.RecordError) {
	if err.File != "fuzz.json" || err.Line < 1 || err.Line > h.lines || err.Reason == "" {
		h.tb.Errorf("Reject(%v) outside the input's %d lines or without reason", err, h.lines)
	}
}

// fuzzSeedFiles returns the synthetic test data and, where the folder
// beside the checkout exists, the shared Entra samples. A missing sample
// folder leaves the other seeds, so the fuzz test still runs.
func fuzzSeedFiles(f *testing.F) []string {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	shared, err := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "entra-*.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	return append(files, shared...)
}

func FuzzParse(f *testing.F) {
	for _, name := range fuzzSeedFiles(f) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for l := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(l, "{") {
				f.Add([]byte(l))
			}
		}
	}
	f.Add([]byte(baseSignIn))
	f.Add([]byte(baseGraph))
	f.Add([]byte(`{"records":[` + baseSignIn + "," + baseGraph + "]}"))
	f.Add([]byte(`{"value":[{"id":"1","createdDateTime":"2025-03-07T09:06:07","status":{"errorCode":"0"},"uniqueTokenIdentifier":"x=="}]}`))
	f.Add([]byte("[\n" + baseSignIn + ",\n"))
	f.Add([]byte(baseRow))
	f.Add([]byte(baseGraphRow))
	f.Add([]byte("[" + asText(f, asText(f, baseRow, "Status"), "LocationDetails") + "," + baseGraphRow + "]"))
	f.Add([]byte(`{"TimeGenerated":"2025-03-07T09:06:07Z","Id":"1","ResultType":"0","UniqueTokenIdentifier":"x","LocationDetails":"{\"geoCoordinates\":{\"latitude\":\"1\"}}"}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Detect(data)

		h := &validatingHandler{tb: t, lines: strings.Count(string(data), "\n") + 1}
		in := source.Input{Reader: strings.NewReader(string(data)), Name: "fuzz.json"}
		if err := Format().Parse(context.Background(), in, h); err != nil {
			t.Errorf("Parse = %v, want nil", err)
		}
	})
}
