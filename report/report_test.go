package report_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tokentrail/tokentrail/report"
)

func TestWriteJSONLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, map[string]any{"path": "/a?b=<c>&d", "n": []int{1}}); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"n\": [\n    1\n  ],\n  \"path\": \"/a?b=\\u003cc\\u003e\\u0026d\"\n}\n"
	if got := buf.String(); got != want {
		t.Errorf("WriteJSON = %q, want %q", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteJSONReportsWriteError(t *testing.T) {
	if err := report.WriteJSON(failingWriter{}, 1); err == nil {
		t.Error("WriteJSON to a failing writer = nil, want the error")
	}
}
