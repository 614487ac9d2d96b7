package k8saudit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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

// FuzzDecode checks that the scanner path of recordDecoder gives what
// decodeRecord gives: the same record, or the same error.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Add([]byte(`{"auditID":"a","AuditID":"b","stage":null,"user":{"extra":{"k":["v",null]}},"responseStatus":{"code":2e2}}`))

	var d recordDecoder
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, gotErr := d.decode(raw)
		want, wantErr := decodeRecord(raw)

		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("decode(%q) error = %v, want %v", raw, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		normalize(t, got)
		normalize(t, want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decode(%q) = %+v, want %+v", raw, got, want)
		}
	})
}

// normalize drops from r what the fast path of recordDecoder does not copy:
// the annotations and extra keys that the importer does not read, and the
// bodies of requests other than TokenRequests. It compacts the bodies that
// remain, so that they compare by content.
func normalize(tb testing.TB, r *record) {
	tb.Helper()
	r.User.Extra = keepKeys(r.User.Extra, credentialIDKey)
	r.Annotations = keepKeys(r.Annotations, issuedCredentialIDKey, legacyIssuedCredentialIDKey)
	if ref := r.ObjectRef; ref != nil && text(ref.Resource) == "serviceaccounts" && text(ref.Subresource) == "token" && text(r.Verb) == "create" {
		r.RequestObject, r.ResponseObject = compactJSON(tb, r.RequestObject), compactJSON(tb, r.ResponseObject)
		return
	}
	r.RequestObject, r.ResponseObject = nil, nil
}

// keepKeys returns m with only keys, or nil when m is nil.
func keepKeys[V any](m map[string]V, keys ...string) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V)
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// compactJSON removes the white space of raw, so that bodies compare by
// content.
func compactJSON(tb testing.TB, raw json.RawMessage) json.RawMessage {
	tb.Helper()
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		tb.Fatalf("body %q is not valid JSON: %v", raw, err)
	}
	return b.Bytes()
}
