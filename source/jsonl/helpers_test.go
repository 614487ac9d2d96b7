package jsonl

import (
	"context"
	"fmt"
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
	skips   []string
	rejects []*source.RecordError
}

func (r *result) Event(e audit.Event) error { r.events = append(r.events, e); return nil }
func (r *result) Skip(line int, reason string) {
	r.skips = append(r.skips, fmt.Sprintf("%d: %s", line, reason))
}
func (r *result) Reject(err *source.RecordError) {
	r.rejects = append(r.rejects, err)
}

// String prints everything Parse reported, for failure messages.
func (r *result) String() string {
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "event %s %s token=%s fp=%.12s\n", e.Source, e.Kind, e.TokenID, e.Fingerprint)
	}
	for _, s := range r.skips {
		fmt.Fprintf(&b, "skip %s\n", s)
	}
	for _, e := range r.rejects {
		fmt.Fprintf(&b, "reject %v\n", e)
	}
	return b.String()
}

func (r *result) eventAt(tb testing.TB, location string) audit.Event {
	tb.Helper()
	for _, e := range r.events {
		if e.Source == location {
			return e
		}
	}
	tb.Fatalf("no event from %s:\n%s", location, r)
	return audit.Event{}
}

func (r *result) skipAt(tb testing.TB, line int) string {
	tb.Helper()
	prefix := fmt.Sprintf("%d: ", line)
	for _, s := range r.skips {
		if reason, ok := strings.CutPrefix(s, prefix); ok {
			return reason
		}
	}
	tb.Fatalf("line %d was not skipped:\n%s", line, r)
	return ""
}

func (r *result) rejectAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, e := range r.rejects {
		if e.Line == line {
			return e.Reason
		}
	}
	tb.Fatalf("line %d was not rejected:\n%s", line, r)
	return ""
}

func mustMapping(tb testing.TB, spec string) Mapping {
	tb.Helper()
	m, err := ParseMapping(spec)
	if err != nil {
		tb.Fatalf("ParseMapping(%q) = %v", spec, err)
	}
	return m
}

// parseText runs Format(m).Parse over text and fails tb on an error.
func parseText(tb testing.TB, m Mapping, name, text string) *result {
	tb.Helper()
	r := &result{}
	in := source.Input{Reader: strings.NewReader(text), Name: name}
	if err := Format(m).Parse(context.Background(), in, r); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", name, err)
	}
	return r
}

// parseFile runs Format(m).Parse over a file in testdata.
func parseFile(tb testing.TB, m Mapping, name string) *result {
	tb.Helper()
	return parseText(tb, m, name, readFile(tb, name))
}

func readFile(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// checkTotals compares the number of events and rejections.
func checkTotals(tb testing.TB, r *result, events, rejected int) {
	tb.Helper()
	checkCounts(tb, r, events, 0, rejected)
}

// checkCounts is checkTotals for a parse that also skipped records.
func checkCounts(tb testing.TB, r *result, events, skipped, rejected int) {
	tb.Helper()
	if len(r.events) != events {
		tb.Errorf("events = %d, want %d", len(r.events), events)
	}
	if len(r.rejects) != rejected {
		tb.Errorf("rejected = %d, want %d", len(r.rejects), rejected)
	}
	if len(r.skips) != skipped {
		tb.Errorf("skipped = %d, want %d", len(r.skips), skipped)
	}
	if tb.Failed() {
		tb.Logf("parse result:\n%s", r)
	}
}
