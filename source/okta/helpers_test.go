package okta

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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

// eventsAt returns the events whose Source is file:line.
func (r *result) eventsAt(file string, line int) []audit.Event {
	want := source.Location(file, line)
	var out []audit.Event
	for _, e := range r.events {
		if e.Source == want {
			out = append(out, e)
		}
	}
	return out
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
		fmt.Fprintf(&b, "event %s %s %s token=%s session=%s\n", e.Source, e.Kind, e.Action, e.TokenID, e.SessionID)
	}
	for _, s := range r.skips {
		fmt.Fprintf(&b, "skip %d: %s\n", s.line, s.reason)
	}
	for _, e := range r.rejects {
		fmt.Fprintf(&b, "reject %v\n", e)
	}
	return b.String()
}

func checkTotals(tb testing.TB, r *result, events, skipped, rejected int) {
	tb.Helper()
	if len(r.events) != events {
		tb.Errorf("events = %d, want %d", len(r.events), events)
	}
	if len(r.skips) != skipped {
		tb.Errorf("skipped = %d, want %d", len(r.skips), skipped)
	}
	if len(r.rejects) != rejected {
		tb.Errorf("rejected = %d, want %d", len(r.rejects), rejected)
	}
	if tb.Failed() {
		tb.Logf("parse result:\n%s", r)
	}
}

// checkEvents compares the events of one record with want, in order.
func checkEvents(tb testing.TB, got []audit.Event, want ...audit.Event) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("got %d events, want %d:\n got %+v", len(got), len(want), got)
		return
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			tb.Errorf("event %d from %s:\n got %+v\nwant %+v", i, want[i].Source, got[i], want[i])
		}
	}
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// parseData imports data as the file name with Format().Parse and fails tb
// when Parse returns an error.
func parseData(tb testing.TB, name string, data []byte) *result {
	tb.Helper()
	r := &result{}
	in := source.Input{Reader: bytes.NewReader(data), Name: name}
	if err := Format().Parse(context.Background(), in, r); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", name, err)
	}
	return r
}

// parseFile imports the file at path under its base name.
func parseFile(tb testing.TB, path string) *result {
	tb.Helper()
	return parseData(tb, filepath.Base(path), readFile(tb, path))
}
