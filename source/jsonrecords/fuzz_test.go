package jsonrecords

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// fuzzSeeds are small inputs of every layout and of the usual mistakes.
var fuzzSeeds = []string{
	"{\"a\":1}\n{\"b\":[1,2,{\"c\":null}]}\n",
	"{\"a\":1}\r\n\r\n{\"b\":\"\\u00e9\\n\"}\r\n",
	"\xef\xbb\xbf{\"a\":1}\n",
	`[{"a":1},{"b":2}]`,
	"[\n  {\n    \"a\": 1\n  },\n  2,\n  {\n    \"b\": true\n  }\n]\n",
	"{\"@odata.context\":\"x\",\"value\":[{\"a\":1},{\"b\":2}],\"next\":\"y\"}",
	"{\"records\":[\n{\"a\":1}\n]}\n{\"records\":[{\"b\":2}]}\n",
	"{\"kind\":\"EventList\",\"items\":[{\"a\":1}]}",
	"{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n",
	"{\"a\":1,\n\"b\":2}\n",
	"{\"a\":x}\n{\"b\":1}\n",
	"[{\"a\":1},{\"b\" 2}]",
	"[{\"a\":1}",
	"{\"a\":\"\xff\"}\n",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	"42\n\"s\"\ntrue\n[1]\n",
	"{\"a\":-0.5e+10,\"b\":1E2}",
}

// FuzzRead checks that Read never fails on input it can read, that every
// record it passes is a valid JSON object that fastjson parses, that line
// numbers never decrease, and that First agrees with Read.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	// The real sample logs beside a development checkout, when present.
	samples, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "*"))
	for _, name := range samples {
		if b, err := os.ReadFile(name); err == nil && len(b) < 1<<20 {
			f.Add(b)
			f.Add(append(append([]byte("["), bytes.ReplaceAll(bytes.TrimSpace(b), []byte("\n"), []byte(",\n"))...), ']'))
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, newline) + 1
		h := &checkingHandler{tb: t, lines: lines}
		var first []byte
		last := 0
		err := Read(context.Background(), source.Input{Reader: bytes.NewReader(data), Name: "fuzz.json"}, h, func(line int, raw []byte) error {
			checkRecord(t, raw)
			if line < last || line < 1 || line > lines {
				t.Errorf("record line %d after line %d, in an input of %d lines", line, last, lines)
			}
			last = line
			if first == nil {
				first = bytes.Clone(raw)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Read error = %v, want nil", err)
		}

		raw, ok := First(data)
		if ok {
			checkRecord(t, raw)
		}
		if len(data) <= headSize && !bytes.Equal(raw, first) {
			t.Errorf("First = %q, %v, want Read's first record %q", raw, ok, first)
		}
	})
}

// checkRecord fails tb unless raw is one valid JSON object that fastjson
// parses.
func checkRecord(tb testing.TB, raw []byte) {
	tb.Helper()
	if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
		tb.Errorf("record %.80q is not an object from '{' to '}'", raw)
	}
	if !json.Valid(raw) || !utf8.Valid(raw) || len(raw) > source.MaxLineBytes {
		tb.Errorf("record %.80q is not valid JSON and UTF-8 within the limit", raw)
	}
	if _, err := fastjson.ParseBytes(raw); err != nil {
		tb.Errorf("fastjson.ParseBytes(%.80q) error = %v", raw, err)
	}
}

// checkingHandler fails the test on a rejection outside the input or with a
// reason that is empty or long enough to quote the record.
type checkingHandler struct {
	tb    testing.TB
	lines int
}

func (h *checkingHandler) Event(audit.Event) error { return nil }
func (h *checkingHandler) Skip(int, string)        {}
func (h *checkingHandler) Reject(err *source.RecordError) {
	if err.File != "fuzz.json" || err.Line < 1 || err.Line > h.lines || err.Reason == "" || len(err.Reason) > 120 {
		h.tb.Errorf("Reject(%v) outside the input's %d lines, without a reason or with a long one", err, h.lines)
	}
	if !utf8.ValidString(err.Reason) || strings.ContainsAny(err.Reason, "\n\x00") {
		h.tb.Errorf("Reject reason %q is not one line of text", err.Reason)
	}
}

// FuzzScan compares scan with encoding/json's validator on one value.
func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`0`, `-0.0e-0`, `01`, `"\u12"`, `"\ud800"`, `[1,]`, `{"a":1,}`, `  true `, `nul`, `1.`, `"a` + "\t" + `"`} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		r := scan(data, atValue, MaxDepth, true, false)
		if r.outcome == tooDeep {
			return // encoding/json allows 10000 levels
		}
		got := r.outcome == scanned && skipSpace(data, r.end) == len(data)
		if want := json.Valid(data); got != want {
			t.Errorf("scan(%q) = %+v, valid %v; json.Valid = %v", data, r, got, want)
		}
		if r.outcome == badSyntax && (r.at < 0 || r.at >= len(data)) {
			t.Errorf("scan(%q) reports an error at %d, outside the input", data, r.at)
		}
	})
}
