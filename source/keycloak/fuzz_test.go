package keycloak

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/source"
)

// sampleFiles are the sample logs under testdata.
var sampleFiles = []string{elasticFile, samplesFile, consoleFile, listenerFile, kcadmFile}

// FuzzParse feeds Parse arbitrary files. Parse must not panic or fail, must
// emit only events that validate, and must place every event, skip and
// rejection on a line of the input.
func FuzzParse(f *testing.F) {
	for _, name := range sampleFiles {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
		for _, line := range strings.Split(string(data), "\n") {
			f.Add(line)
		}
	}
	f.Add(ecsLine)

	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Count(text, "\n") + 1
		parse := func() *collector {
			c := &collector{}
			in := source.Input{Reader: strings.NewReader(text), Name: "fuzz.log"}
			opts := Options{Date: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
			if err := Format(opts).Parse(context.Background(), in, c); err != nil {
				t.Fatalf("Parse() = %v, want nil", err)
			}
			return c
		}

		c := parse()

		for _, e := range c.events {
			if err := e.Validate(); err != nil {
				t.Errorf("event %+v: Validate() = %v, want nil: an invalid event must be rejected instead", e, err)
			}
			if !strings.HasPrefix(e.Source, "fuzz.log:") {
				t.Errorf("Source = %q, want fuzz.log:<line>", e.Source)
				continue
			}
			if n := sourceLine(t, e.Source); n < 1 || n > lines {
				t.Errorf("Source = %q, want a line from 1 to %d", e.Source, lines)
			}
		}
		for _, r := range c.rejects {
			if r.File != "fuzz.log" || r.Line < 1 || r.Line > lines || r.Reason == "" {
				t.Errorf("reject %q at %s:%d, want a reason at fuzz.log:1 to %d", r.Reason, r.File, r.Line, lines)
			}
		}
		for n, reason := range c.skips {
			if n < 1 || n > lines || reason == "" {
				t.Errorf("skip %q at line %d, want a reason at line 1 to %d", reason, n, lines)
			}
		}
		if again := parse(); !reflect.DeepEqual(again.events, c.events) {
			t.Errorf("second Parse() events = %+v, want the first's %+v", again.events, c.events)
		}
	})
}

// FuzzDecodeObject checks that the fastjson path of jsonDecoder gives what
// encoding/json gives: the same object, or the same error.
func FuzzDecodeObject(f *testing.F) {
	for _, name := range sampleFiles {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			f.Add(line)
		}
	}
	f.Add(`{"a":1,"a":"x","b":[1.5e3,null,true],"c":{"d":"\u00e9\ud800"}}`)

	var d jsonDecoder
	f.Fuzz(func(t *testing.T, text string) {
		got, gotErr := d.object(text)
		want, wantErr := decodeObject(text)

		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("object(%q) error = %v, want %v", text, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("object(%q) = %#v, want %#v", text, got, want)
		}
	})
}
