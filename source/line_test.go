package source_test

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/source"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	input := "first\r\nsecond\n\n" + long + "\nafter long\nlast without newline"
	lr := source.NewLineReader(strings.NewReader(input), 50)

	type result struct {
		line    string
		number  int
		tooLong bool
	}
	want := []result{
		{"first", 1, false},
		{"second", 2, false},
		{"", 3, false},
		{"", 4, true},
		{"after long", 5, false},
		{"last without newline", 6, false},
	}
	for _, w := range want {
		line, n, err := lr.Next()
		tooLong := errors.Is(err, source.ErrLineTooLong)
		if err != nil && !tooLong {
			t.Fatalf("Next() error = %v at line %d", err, w.number)
		}
		if string(line) != w.line || n != w.number || tooLong != w.tooLong {
			t.Errorf("Next() = %q, %d, too long %v; want %q, %d, %v", line, n, tooLong, w.line, w.number, w.tooLong)
		}
	}
	if _, _, err := lr.Next(); err != io.EOF {
		t.Errorf("Next() at the end = %v, want io.EOF", err)
	}
	if lr.BytesRead() != int64(len(input)) {
		t.Errorf("BytesRead() = %d, want %d", lr.BytesRead(), len(input))
	}
}

func TestLineReaderHugeLineBoundedMemory(t *testing.T) {
	// A 10 MB line is consumed without being kept.
	huge := strings.Repeat("y", 10<<20)
	lr := source.NewLineReader(strings.NewReader(huge+"\nok\n"), 1<<20)

	_, n, err := lr.Next()
	if !errors.Is(err, source.ErrLineTooLong) || n != 1 {
		t.Fatalf("Next() = line %d, %v; want line 1, ErrLineTooLong", n, err)
	}
	if !strings.Contains(err.Error(), "10485760 bytes") {
		t.Errorf("error %q does not give the line's length", err)
	}
	line, n, err := lr.Next()
	if err != nil || string(line) != "ok" || n != 2 {
		t.Errorf("Next() after the huge line = %q, %d, %v; want ok, 2, nil", line, n, err)
	}
}

func TestLineReaderAllocatesAboutTheLimit(t *testing.T) {
	// A line just under the limit and one far over it cost at most about
	// twice the limit: the buffer doubles instead of growing by quarters.
	for _, size := range []int{source.MaxLineBytes - 10, 10 << 20} {
		input := strings.Repeat("z", size) + "\nok\n"
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		lr := source.NewLineReader(strings.NewReader(input), 0)
		for {
			if _, _, err := lr.Next(); err == io.EOF {
				break
			}
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 2*source.MaxLineBytes+1<<20 {
			t.Errorf("reading a line of %d bytes allocated %d bytes, want at most about twice the %d-byte limit", size, got, source.MaxLineBytes)
		}
	}
}

func TestLineReaderKeepsLinesLongerThanItsBuffer(t *testing.T) {
	long := strings.Repeat("0123456789", 20000) // 200 kB, over the 64 KiB read buffer
	lr := source.NewLineReader(strings.NewReader("short\n"+long+"\r\nend"), 0)
	for i, want := range []string{"short", long, "end"} {
		line, n, err := lr.Next()
		if err != nil || string(line) != want || n != i+1 {
			t.Fatalf("Next() = %.20q (%d bytes), %d, %v; want %.20q (%d bytes), %d", line, len(line), n, err, want, len(want), i+1)
		}
	}
}

// endlessReader returns "y" bytes with no line end. It fails once it has
// returned more than max bytes, so that a reader that never stops reading
// ends the test with an error instead of hanging it.
type endlessReader struct {
	read, max int64
}

var errReadTooFar = errors.New("read past the bound of the endless input")

func (r *endlessReader) Read(p []byte) (int, error) {
	if r.read > r.max {
		return 0, errReadTooFar
	}
	for i := range p {
		p[i] = 'y'
	}
	r.read += int64(len(p))
	return len(p), nil
}

func TestLineReaderStopsAtEndlessLine(t *testing.T) {
	const limit = 1 << 20
	endless := &endlessReader{max: 1 << 30}
	lr := source.NewLineReader(io.MultiReader(strings.NewReader("first\nsecond\n"), endless), limit)

	for i, want := range []string{"first", "second"} {
		line, n, err := lr.Next()
		if err != nil || string(line) != want || n != i+1 {
			t.Fatalf("Next() = %q, %d, %v; want %q, %d, nil", line, n, err, want, i+1)
		}
	}

	_, n, err := lr.Next()
	if !errors.Is(err, source.ErrNoLineEnd) || !errors.Is(err, source.ErrLineTooLong) {
		t.Fatalf("Next() on the endless line = %v, want ErrNoLineEnd and ErrLineTooLong", err)
	}
	if n != 3 {
		t.Errorf("Next() on the endless line = line %d, want 3", n)
	}
	if endless.read > 17*limit {
		t.Errorf("Next() read %d bytes of the endless line, want at most about 16 times the %d-byte limit", endless.read, limit)
	}

	read := endless.read
	if _, _, err := lr.Next(); err != io.EOF {
		t.Errorf("Next() after the endless line = %v, want io.EOF", err)
	}
	if endless.read != read {
		t.Errorf("Next() after the endless line read %d more bytes, want none", endless.read-read)
	}
}

func TestRecordError(t *testing.T) {
	e := &source.RecordError{File: "audit.log", Line: 12, Reason: "invalid JSON"}
	if got := e.Error(); got != "audit.log:12: invalid JSON" {
		t.Errorf("Error() = %q", got)
	}
	e.Line = 0
	if got := e.Error(); got != "audit.log: invalid JSON" {
		t.Errorf("Error() without a line = %q", got)
	}
	if got := source.Location("a.log", 7); got != "a.log:7" {
		t.Errorf("Location = %q", got)
	}
}

func TestIsGUID(t *testing.T) {
	tests := map[string]bool{
		"f81d4fae-7dec-11d0-a765-00a0c91e6bf6":   true,
		"{F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6}": true,
		"f81d4fae7dec11d0a76500a0c91e6bf6":       false,
		"f81d4fae-7dec-11d0-a765-00a0c91e6bfg":   false,
		"192.0.2.1":                              false,
		"":                                       false,
	}
	for s, want := range tests {
		if got := source.IsGUID(s); got != want {
			t.Errorf("IsGUID(%q) = %v, want %v", s, got, want)
		}
	}
}
