package k8saudit

import (
	"context"
	"errors"
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
	if !strings.HasPrefix(e.Source, "fuzz.jsonl:") {
		h.tb.Errorf("event Source = %q, want fuzz.jsonl:<line>", e.Source)
	}
	return nil
}

func (h *validatingHandler) Skip(line int, reason string) {
	if line < 1 || line > h.lines || reason == "" {
		h.tb.Errorf("Skip(%d, %q) outside the input's %d lines or without reason", line, reason, h.lines)
	}
}

func (h *validatingHandler) Reject(err *source.RecordError) {
	if err.File != "fuzz.jsonl" || err.Line < 1 || err.Line > h.lines || err.Reason == "" {
		h.tb.Errorf("Reject(%v) outside the input's %d lines or without reason", err, h.lines)
	}
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		for l := range strings.SplitSeq(string(b), "\n") {
			f.Add([]byte(l))
		}
	}
	pretty, _ := indentedList(f, baseRecord, x509Record(f, "x1"))
	f.Add([]byte(pretty))
	f.Add([]byte(`{"kind":"EventList","items":[` + baseRecord + `]}`))
	f.Add([]byte("[\n" + baseRecord + ",\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Detect(data)

		h := &validatingHandler{tb: t, lines: strings.Count(string(data), "\n") + 1}
		in := source.Input{Reader: strings.NewReader(string(data)), Name: "fuzz.jsonl"}
		err := Format().Parse(context.Background(), in, h)
		if err != nil && !errors.Is(err, ErrUnreadableDocument) {
			t.Errorf("Parse = %v, want nil or ErrUnreadableDocument", err)
		}
	})
}
