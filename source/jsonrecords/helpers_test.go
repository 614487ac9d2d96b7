package jsonrecords

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// collector records what Read reports, one string per record or rejection
// in the order reported: "3 {...}" for a record on line 3 and
// "reject 4: reason" for a rejection.
type collector struct {
	got []string
}

func (c *collector) Event(audit.Event) error { return nil }
func (c *collector) Skip(int, string)        {}
func (c *collector) Reject(err *source.RecordError) {
	c.got = append(c.got, fmt.Sprintf("reject %d: %s", err.Line, err.Reason))
}

func (c *collector) record(line int, raw []byte) error {
	c.got = append(c.got, fmt.Sprintf("%d %s", line, raw))
	return nil
}

// readAll runs Read on input and returns what it reported and its error.
func readAll(tb testing.TB, input io.Reader) ([]string, error) {
	tb.Helper()
	c := &collector{}
	err := Read(context.Background(), source.Input{Reader: input, Name: "log.json"}, c, c.record)
	return c.got, err
}

// readString is readAll on a string input that must not fail.
func readString(tb testing.TB, input string) []string {
	tb.Helper()
	got, err := readAll(tb, strings.NewReader(input))
	if err != nil {
		tb.Fatalf("Read(%.60q) error = %v, want nil", input, err)
	}
	return got
}

// equalLists reports a difference between got and want, line by line.
func equalLists(tb testing.TB, name string, got, want []string) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Errorf("%s: got %d results, want %d\ngot:\n%s\nwant:\n%s", name, len(got), len(want), strings.Join(got, "\n"), strings.Join(want, "\n"))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			tb.Errorf("%s: result %d = %q, want %q", name, i, got[i], want[i])
		}
	}
}

// failingReader returns data and then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// oneByteReader returns one byte per read, as a slow pipe may.
type oneByteReader struct{ r io.Reader }

func (r oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return r.r.Read(p[:1])
}

// repeatReader returns prefix, then n copies of fill, then suffix, without
// holding them in memory.
type repeatReader struct {
	prefix, suffix string
	fill           byte
	n              int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	switch {
	case r.prefix != "":
		k := copy(p, r.prefix)
		r.prefix = r.prefix[k:]
		return k, nil
	case r.n > 0:
		k := min(len(p), r.n)
		for i := range k {
			p[i] = r.fill
		}
		r.n -= k
		return k, nil
	case r.suffix != "":
		k := copy(p, r.suffix)
		r.suffix = r.suffix[k:]
		return k, nil
	}
	return 0, io.EOF
}
