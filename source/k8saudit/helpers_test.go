package k8saudit

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// result collects what Parse reports.
type result struct {
	events  []audit.Event
	skips   []skip
	rejects []*source.RecordError
}

type skip struct {
	line   int
	reason string
}

func (r *result) Event(e audit.Event) error    { r.events = append(r.events, e); return nil }
func (r *result) Skip(line int, reason string) { r.skips = append(r.skips, skip{line, reason}) }
func (r *result) Reject(err *source.RecordError) {
	r.rejects = append(r.rejects, err)
}

// eventAt returns the event whose Source is file:line and whose kind is k.
func (r *result) eventAt(tb testing.TB, file string, line int, k audit.Kind) audit.Event {
	tb.Helper()
	want := source.Location(file, line)
	for _, e := range r.events {
		if e.Source == want && e.Kind == k {
			return e
		}
	}
	tb.Fatalf("no %s event from %s among %d events", k, want, len(r.events))
	return audit.Event{}
}

func (r *result) skipAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, s := range r.skips {
		if s.line == line {
			return s.reason
		}
	}
	tb.Fatalf("line %d was not skipped; skips: %v", line, r.skips)
	return ""
}

func (r *result) rejectAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, e := range r.rejects {
		if e.Line == line {
			return e.Reason
		}
	}
	tb.Fatalf("line %d was not rejected; rejects: %v", line, r.rejects)
	return ""
}

// String prints everything Parse reported, for failure messages.
func (r *result) String() string {
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "event %s %s %s token=%s status=%d\n", e.Source, e.Kind, e.TraceID, e.TokenID, e.Status)
	}
	for _, s := range r.skips {
		fmt.Fprintf(&b, "skip %d: %s\n", s.line, s.reason)
	}
	for _, e := range r.rejects {
		fmt.Fprintf(&b, "reject %v\n", e)
	}
	return b.String()
}

// parseText runs a parser with the given pending window over text.
func parseText(tb testing.TB, name, text string, window int) (*result, error) {
	tb.Helper()
	r := &result{}
	err := newParser(name, r, window).parse(context.Background(), strings.NewReader(text))
	return r, err
}

// parseFile runs Format().Parse over the file at path and fails tb on an
// error.
func parseFile(tb testing.TB, path string) *result {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()

	r := &result{}
	in := source.Input{Reader: f, Name: filepath.Base(path)}
	if err := Format().Parse(context.Background(), in, r); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", path, err)
	}
	return r
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// line returns the 1-based line n of text.
func line(tb testing.TB, text string, n int) string {
	tb.Helper()
	lines := strings.Split(text, "\n")
	if n < 1 || n > len(lines) {
		tb.Fatalf("text has %d lines, no line %d", len(lines), n)
	}
	return lines[n-1]
}

// failingHandler returns err from Event.
type failingHandler struct {
	result
	err error
}

func (h *failingHandler) Event(audit.Event) error { return h.err }

var _ io.Reader = (*documentReader)(nil)
