package entra

import (
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

// eventAt returns the event whose Source is file:line.
func (r *result) eventAt(tb testing.TB, file string, line int) audit.Event {
	tb.Helper()
	want := source.Location(file, line)
	for _, e := range r.events {
		if e.Source == want {
			return e
		}
	}
	tb.Fatalf("no event from %s among %d events:\n%v", want, len(r.events), r)
	return audit.Event{}
}

func (r *result) skipAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, s := range r.skips {
		if s.line == line {
			return s.reason
		}
	}
	tb.Fatalf("line %d was not skipped:\n%v", line, r)
	return ""
}

func (r *result) rejectAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, e := range r.rejects {
		if e.Line == line {
			return e.Reason
		}
	}
	tb.Fatalf("line %d was not rejected:\n%v", line, r)
	return ""
}

// String prints everything Parse reported, for failure messages.
func (r *result) String() string {
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "event %s %s token=%s session=%s\n", e.Source, e.Kind, e.TokenID, e.SessionID)
	}
	for _, s := range r.skips {
		fmt.Fprintf(&b, "skip %d: %s\n", s.line, s.reason)
	}
	for _, e := range r.rejects {
		fmt.Fprintf(&b, "reject %v\n", e)
	}
	return b.String()
}

// checkTotals compares the numbers of events, skips and rejections.
func checkTotals(tb testing.TB, r *result, events, skips, rejects int) {
	tb.Helper()
	if len(r.events) != events || len(r.skips) != skips || len(r.rejects) != rejects {
		tb.Errorf("events, skips, rejects = %d, %d, %d, want %d, %d, %d\n%v",
			len(r.events), len(r.skips), len(r.rejects), events, skips, rejects, r)
	}
}

// checkEvent compares every field of got with want.
func checkEvent(tb testing.TB, got, want audit.Event) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("event from %s:\n got %+v\nwant %+v", got.Source, got, want)
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
