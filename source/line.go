package source

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes is the longest line a LineReader returns whole: 4 MiB. A real
// audit record is far shorter (the largest Kubernetes audit line in common
// exports is tens of KiB), and a longer one is rejected instead of buffered.
const MaxLineBytes = 4 << 20

// skipFactor bounds how far a LineReader looks for the end of a line over
// its limit: up to skipFactor times the limit. Past that, the input is taken
// for an endless stream or binary data, such as /dev/zero or a database
// file, and reading stops.
const skipFactor = 16

// MaxSkipBytes is how far an importer reads to find the end of a record over
// MaxLineBytes before it stops reading the input: 64 MiB. A LineReader with
// the default limit stops there too.
const MaxSkipBytes = skipFactor * MaxLineBytes

// LineReader reads a file line by line with a bounded buffer. A line longer
// than its limit is read to its end but not kept, and Next reports it with
// ErrLineTooLong, so one huge line costs no more memory than the limit. A
// line with no end within 16 times the limit stops the reading (see
// ErrNoLineEnd), so one endless line costs bounded time too.
type LineReader struct {
	r       *bufio.Reader
	max     int
	line    int
	buf     []byte
	total   int64
	stopped bool // a line had no end within the skip bound
}

// ErrLineTooLong is returned by LineReader.Next for a line over the limit.
var ErrLineTooLong = errors.New("line too long")

// ErrNoLineEnd is returned by LineReader.Next, wrapped together with
// ErrLineTooLong, for a line with no end within 16 times the limit. The
// LineReader then stops: the next call to Next returns io.EOF, and the rest
// of the input is not read.
var ErrNoLineEnd = errors.New("no line end")

// NewLineReader returns a LineReader over r that keeps lines of up to max
// bytes; max <= 0 means MaxLineBytes.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = MaxLineBytes
	}
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next line without its line ending, and its 1-based number.
// The slice is valid until the next call. At the end of input it returns
// io.EOF. For a line over the limit it returns ErrLineTooLong wrapped with
// the line's length; the caller may report it and call Next again. For a line
// with no end within 16 times the limit, the error wraps ErrNoLineEnd as well,
// and every later call returns io.EOF.
func (lr *LineReader) Next() (line []byte, number int, err error) {
	if lr.stopped {
		return nil, lr.line, io.EOF
	}
	lr.buf = lr.buf[:0]
	size := 0
	for {
		chunk, err := lr.r.ReadSlice('\n')
		size += len(chunk)
		lr.total += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			if size <= lr.max+2 { // room for "\r\n"
				lr.keep(chunk)
			}
			if size > skipFactor*lr.max {
				lr.line++
				lr.stopped = true
				return nil, lr.line, fmt.Errorf("%w: %w in its first %d bytes (%d times the limit of %d), so the rest of the input is not read",
					ErrLineTooLong, ErrNoLineEnd, size, skipFactor, lr.max)
			}
			continue
		}
		if err != nil && err != io.EOF {
			return nil, lr.line + 1, err
		}
		if size == 0 && err == io.EOF {
			return nil, lr.line, io.EOF
		}
		lr.line++
		if size > lr.max+2 {
			length := size
			if err == nil { // the line ended with '\n', which is not part of it
				length--
			}
			return nil, lr.line, fmt.Errorf("%w: %d bytes, over the limit of %d", ErrLineTooLong, length, lr.max)
		}

		// A line that fits the reader's buffer is returned from it
		// without a copy. It stays valid until the next read, as Next
		// promises.
		out := chunk
		if len(lr.buf) > 0 {
			lr.keep(chunk)
			out = lr.buf
		}
		if n := len(out); n > 0 && out[n-1] == '\n' {
			out = out[:n-1]
		}
		if n := len(out); n > 0 && out[n-1] == '\r' {
			out = out[:n-1]
		}
		return out, lr.line, nil
	}
}

// keep appends chunk to the line being assembled. The buffer grows by
// doubling, up to the limit, so that a line near the limit costs a few
// allocations instead of one for every quarter more.
func (lr *LineReader) keep(chunk []byte) {
	need := len(lr.buf) + len(chunk)
	if need > cap(lr.buf) {
		grown := make([]byte, len(lr.buf), min(max(need, 2*cap(lr.buf)), lr.max+2))
		copy(grown, lr.buf)
		lr.buf = grown
	}
	lr.buf = append(lr.buf, chunk...)
}

// BytesRead returns how many bytes Next has consumed, for progress reports.
func (lr *LineReader) BytesRead() int64 { return lr.total }
