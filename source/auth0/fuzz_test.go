package auth0

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

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json*")
	if err != nil {
		f.Fatal(err)
	}
	// The Elastic sample sits beside a development checkout only.
	files = append(files, filepath.Join("..", "..", "..", "shared", "data", "auth0-logs-elastic-integrations.jsonl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			f.Fatal(err)
		}
		f.Add(b)
		for l := range strings.SplitSeq(string(b), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Add([]byte(record("sapi", `"details":{"request":{"auth":{"credentials":{"jti":"`+testJWT+`"}}},"response":{"statusCode":"200"}}`)))
	f.Add([]byte(record("sertft", `"details":{"access_token_jti":"j-1","refresh_token":{"session_id":"s-1"}},"scope":["a",1]`)))
	f.Add([]byte(record("gd_auth_failed", `"details":{"prompts":[{"session_id":"s-1"}]},"location_info":{"latitude":"nan","longitude":1e400}`)))
	f.Add([]byte("[" + record("s", `"details":{"session_id":"s-1"}`) + ",\n" + record("slo", "") + "]"))

	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Detect(data)

		h := &validatingHandler{tb: t, lines: strings.Count(string(data), "\n") + 1}
		in := source.Input{Reader: strings.NewReader(string(data)), Name: "fuzz.json"}
		if err := Format().Parse(context.Background(), in, h); err != nil {
			t.Errorf("Parse = %v, want nil", err)
		}
	})
}
