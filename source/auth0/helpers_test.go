package auth0

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

func (r *result) Event(e audit.Event) error      { r.events = append(r.events, e); return nil }
func (r *result) Skip(line int, reason string)   { r.skips = append(r.skips, skip{line, reason}) }
func (r *result) Reject(err *source.RecordError) { r.rejects = append(r.rejects, err) }

// eventByID returns the event whose ID is id.
func (r *result) eventByID(tb testing.TB, id string) audit.Event {
	tb.Helper()
	for _, e := range r.events {
		if e.ID == id {
			return e
		}
	}
	tb.Fatalf("no event with ID %s among %d events:\n%s", id, len(r.events), r)
	return audit.Event{}
}

// skipAt returns the reason of the skip at line.
func (r *result) skipAt(tb testing.TB, line int) string {
	tb.Helper()
	for _, s := range r.skips {
		if s.line == line {
			return s.reason
		}
	}
	tb.Fatalf("line %d was not skipped:\n%s", line, r)
	return ""
}

// rejectAt returns the reason of the rejection at line.
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

// parseText runs Format().Parse over text, named name, and fails tb when
// Parse returns an error.
func parseText(tb testing.TB, name, text string) *result {
	tb.Helper()
	r := &result{}
	in := source.Input{Reader: strings.NewReader(text), Name: name}
	if err := Format().Parse(context.Background(), in, r); err != nil {
		tb.Fatalf("Parse(%s) = %v, want nil", name, err)
	}
	return r
}

// parseFile runs Format().Parse over the file at path, named by its base
// name.
func parseFile(tb testing.TB, path string) *result {
	tb.Helper()
	return parseText(tb, filepath.Base(path), readFile(tb, path))
}

// parseRecord converts one record, as Parse does for a record at line 1 of
// "test.json".
func parseRecord(tb testing.TB, raw string) *result {
	tb.Helper()
	r := &result{}
	p := &parser{file: "test.json", h: r}
	if err := p.record(1, []byte(raw)); err != nil {
		tb.Fatalf("record(%s) = %v, want nil", raw, err)
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

// recordLine returns the line on which the record with log_id id starts in
// an array pretty-printed with an indent of two spaces: the last line before
// the log_id that opens an element of the array.
func recordLine(tb testing.TB, text, id string) int {
	tb.Helper()
	lines := strings.Split(text, "\n")
	start := 0
	for i, l := range lines {
		if l == "  {" {
			start = i + 1
		}
		if strings.Contains(l, `"log_id": "`+id+`"`) {
			return start
		}
	}
	tb.Fatalf("no record with log_id %s", id)
	return 0
}

func mustTime(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

// checkEvent compares every field of got with want.
func checkEvent(tb testing.TB, got, want audit.Event) {
	tb.Helper()
	if !reflect.DeepEqual(got, want) {
		tb.Errorf("event from %s:\n got %+v\nwant %+v", want.Source, got, want)
	}
}

// checkTotals compares the number of events, skips and rejections.
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
