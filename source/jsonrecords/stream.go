package jsonrecords

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/source"
)

// readChunk is the least that stream.fill reads at a time.
const readChunk = 64 << 10

// maxEmptyReads is how many reads in a row may return no bytes and no error
// before stream.fill gives up with io.ErrNoProgress, as bufio does.
const maxEmptyReads = 100

// errStop ends a file after its last readable record. Read returns nil for
// it, because the reason has been reported as a rejection.
var errStop = errors.New("jsonrecords: rest of file unreadable")

// stream reads the layouts whose records may span lines: a top-level array,
// a wrapper object and concatenated objects. It keeps one window of the file
// in buf and scans each record there, so a record is bounded by
// source.MaxLineBytes however large the file.
type stream struct {
	ctx  context.Context
	name string
	src  io.Reader // nil when buf holds the whole input
	buf  []byte
	pos  int  // next byte to scan
	end  int  // input is in buf[:end]
	keep int  // first byte that fill must keep, or -1
	eof  bool // src has no more input
	err  error

	line    int // 1-based line of buf[counted]
	counted int // newlines before buf[counted] are counted in line

	reject func(line int, reason string)
	emit   func(line int, raw []byte) error
}

// newStream returns a stream whose first bytes are head and whose further
// bytes come from src (nil when head is the whole input).
func newStream(ctx context.Context, name string, head []byte, src io.Reader) *stream {
	return &stream{
		ctx:  ctx,
		name: name,
		src:  src,
		buf:  head[:cap(head)],
		end:  len(head),
		keep: -1,
		eof:  src == nil,
		line: 1,
	}
}

// run reads top-level values until the input ends. It returns errStop when
// the rest of the file cannot be read.
func (s *stream) run() error {
	for {
		c, ok := s.peek()
		if !ok {
			return s.readError()
		}

		var err error
		switch c {
		case '[':
			s.pos++
			err = s.array()
		case '{':
			err = s.object()
		default:
			err = s.topScalar()
		}
		if err != nil {
			return err
		}
	}
}

// array reads the elements of an array whose '[' has been read, up to and
// including its ']'.
func (s *stream) array() error {
	for n := 0; ; n++ {
		c, ok := s.peek()
		if !ok {
			return s.cut(s.lineAt(s.end), "the file ends inside a JSON array")
		}
		if c == ']' {
			s.pos++
			return nil
		}
		if n > 0 {
			if c != ',' {
				return s.stop(s.pos, fmt.Sprintf("invalid JSON: invalid character %s after an array element", quoteByte(c)))
			}
			s.pos++
			if _, ok = s.peek(); !ok {
				return s.cut(s.lineAt(s.end), "the file ends inside a JSON array")
			}
		}
		if err := s.value("array element", false); err != nil {
			return err
		}
	}
}

// object reads a top-level object: either a record, or a wrapper whose array
// of records is read element by element.
func (s *stream) object() error {
	return s.value("top-level value", true)
}

// topScalar rejects a top-level value that is neither an object nor an
// array.
func (s *stream) topScalar() error {
	return s.value("top-level value", false)
}

// value reads the value at s.pos and hands it to emit when it is an object.
// label names the value in messages. With wrapper, an object holding a
// wrapper key is read as a wrapper.
func (s *stream) value(label string, wrapper bool) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}

	line := s.lineAt(s.pos)
	r, tooLong := s.scanValue(atValue, wrapper)
	switch {
	case tooLong:
		s.reject(line, fmt.Sprintf("record is longer than the limit of %d MiB", source.MaxLineBytes>>20))
		return s.skip(0)
	case r.outcome == wrapperKey:
		s.pos += r.at + 1
		s.keep = -1
		if err := s.array(); err != nil {
			return err
		}
		return s.objectRest()
	case r.outcome == tooDeep:
		s.reject(line, describe(r))
		return s.skip(0)
	case r.outcome == incomplete:
		return s.cut(line, "the file ends inside this record")
	case r.outcome == badSyntax:
		return s.stop(s.pos+r.at, fmt.Sprintf("invalid JSON: invalid character %s", quoteByte(s.buf[s.pos+r.at])))
	}

	raw := s.buf[s.pos : s.pos+r.end]
	s.pos += r.end
	s.keep = -1
	if raw[0] != '{' {
		s.reject(line, fmt.Sprintf("%s is %s, not a JSON object", label, kindOf(raw)))
		return nil
	}
	if !utf8.Valid(raw) {
		s.reject(line, invalidUTF8(raw))
		return nil
	}
	return s.emit(line, raw)
}

// objectRest reads the members of a wrapper object after its array, up to
// and including its '}'. Their values are ignored.
func (s *stream) objectRest() error {
	r, tooLong := s.scanValue(afterMember, false)
	switch {
	case tooLong || r.outcome == tooDeep:
		return s.skip(1)
	case r.outcome == incomplete:
		return s.cut(s.lineAt(s.end), "the file ends inside a JSON object")
	case r.outcome == badSyntax:
		return s.stop(s.pos+r.at, fmt.Sprintf("invalid JSON: invalid character %s", quoteByte(s.buf[s.pos+r.at])))
	}
	s.pos += r.end
	s.keep = -1
	return nil
}

// scanValue scans the value at s.pos, reading on until it ends, and keeps
// its bytes in buf. tooLong reports a value over source.MaxLineBytes, which
// is then only partly in buf, or a wrapper whose array starts after that
// many bytes.
func (s *stream) scanValue(from entry, stopAtWrapper bool) (r result, tooLong bool) {
	s.keep = s.pos
	for {
		r = scan(s.buf[s.pos:s.end], from, MaxDepth, s.eof, stopAtWrapper)
		if r.outcome == scanned && r.end > source.MaxLineBytes || r.outcome == wrapperKey && r.at > source.MaxLineBytes {
			return r, true
		}
		if r.outcome != incomplete {
			return r, false
		}
		if s.end-s.pos > source.MaxLineBytes {
			return r, true
		}
		// NOTE: the value is scanned again from its start after each fill.
		// fill reads at least as much as is pending, so the bytes scanned
		// stay within twice the value's size.
		if !s.fill() {
			return r, false
		}
	}
}

// skip consumes the rest of a value that is not kept: one too long or too
// deep to read as a record. depth is the number of its containers already
// open. It only follows strings and brackets, so it finds the end of any
// value whose brackets balance. At the end of input it returns errStop or
// the read error. A value with no end within source.MaxSkipBytes, such as an
// endless string read from a pipe, is reported and ends the file.
func (s *stream) skip(depth int) error {
	s.keep = -1
	skipped := 0
	inString, escaped := false, false
	scalar := false
	if depth == 0 {
		switch s.buf[s.pos] {
		case '"':
			inString = true
			s.pos++
		case '{', '[':
		default:
			scalar = true
		}
	}

	for {
		start := s.pos
		for ; s.pos < s.end; s.pos++ {
			c := s.buf[s.pos]
			switch {
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
					if depth == 0 {
						s.pos++
						return nil
					}
				}
			case scalar:
				switch c {
				case ',', ']', '}', ' ', '\t', '\r', '\n':
					return nil
				}
			case c == '"':
				inString = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				depth--
				if depth <= 0 {
					s.pos++
					return nil
				}
			}
		}
		skipped += s.end - start
		if skipped > source.MaxSkipBytes {
			return s.stop(s.pos, fmt.Sprintf("the record has no end in its first %d MiB", source.MaxSkipBytes>>20))
		}
		if !s.fill() {
			if s.err != nil {
				return s.readError()
			}
			if scalar {
				return nil
			}
			return errStop
		}
	}
}

// peek returns the next byte that is not whitespace, reading on as needed.
// It returns false at the end of input or on a read error.
func (s *stream) peek() (byte, bool) {
	for {
		s.pos = skipSpace(s.buf[:s.end], s.pos)
		if s.pos < s.end {
			return s.buf[s.pos], true
		}
		s.keep = -1
		if !s.fill() {
			return 0, false
		}
	}
}

// fill reads more input into buf. It first drops the bytes before s.pos, or
// before s.keep when that is set. Then it reads at least readChunk bytes, or
// as many as are pending when that is more, up to what a value of
// source.MaxLineBytes needs. It returns false when it added nothing: at the
// end of input or on a read error, which it keeps in s.err.
func (s *stream) fill() bool {
	if s.eof || s.err != nil {
		return false
	}
	if err := s.ctx.Err(); err != nil {
		s.err = err // a value too long to keep is skipped with reads only
		return false
	}

	from := s.pos
	if s.keep >= 0 && s.keep < from {
		from = s.keep
	}
	if from > 0 {
		s.lineAt(from)
		s.end = copy(s.buf, s.buf[from:s.end])
		s.pos -= from
		s.counted -= from
		if s.keep >= 0 {
			s.keep -= from
		}
	}

	start := s.pos
	if s.keep >= 0 {
		start = s.keep
	}
	pending := s.end - start
	want := max(readChunk, pending)
	want = min(want, source.MaxLineBytes+1+readChunk-pending)
	if need := s.end + want; need > len(s.buf) {
		grown := make([]byte, max(need, min(2*len(s.buf), source.MaxLineBytes+2*readChunk)))
		copy(grown, s.buf[:s.end])
		s.buf = grown
	}

	added, empty := 0, 0
	for added < want {
		n, err := s.src.Read(s.buf[s.end:])
		s.end += n
		added += n
		if errors.Is(err, io.EOF) {
			s.eof = true
			break
		}
		if err != nil {
			s.err = err
			break
		}
		if n == 0 {
			if empty++; empty >= maxEmptyReads {
				s.err = io.ErrNoProgress
				break
			}
		}
	}
	return added > 0
}

// lineAt returns the 1-based line of buf[i]. i may be before or after the
// last position counted, as long as both are in buf.
func (s *stream) lineAt(i int) int {
	if i >= s.counted {
		s.line += bytes.Count(s.buf[s.counted:i], newline)
	} else {
		s.line -= bytes.Count(s.buf[i:s.counted], newline)
	}
	s.counted = i
	return s.line
}

var newline = []byte{'\n'}

// stop reports the invalid JSON at buf[i] and ends the file, since no
// record boundary after it can be trusted.
func (s *stream) stop(i int, reason string) error {
	s.reject(s.lineAt(i), reason+"; the rest of the file is not read")
	return errStop
}

// cut reports a file that ends inside a value, or the read error that ended
// it.
func (s *stream) cut(line int, reason string) error {
	if s.err != nil {
		return s.readError()
	}
	s.reject(line, reason)
	return errStop
}

// readError returns the read error that ended the input, ctx's error when
// ctx ended, or nil at the end of input.
func (s *stream) readError() error {
	if s.err == nil || s.err == s.ctx.Err() {
		return s.err
	}
	return fmt.Errorf("read %s: %w", s.name, s.err)
}
