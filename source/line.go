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

// LineReader reads a file line by line with a bounded buffer. A line longer
// than its limit is read to its end but not kept, and Next reports it with
// ErrLineTooLong, so one huge line costs no more memory than the limit.
type LineReader struct {
	r     *bufio.Reader
	max   int
	line  int
	buf   []byte
	total int64
}

// ErrLineTooLong is returned by LineReader.Next for a line over the limit.
var ErrLineTooLong = errors.New("line too long")

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
// the line's length; the caller may report it and call Next again.
func (lr *LineReader) Next() (line []byte, number int, err error) {
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
