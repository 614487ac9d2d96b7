package keycloak

import (
	"fmt"

	"github.com/tokentrail/tokentrail/source"
)

// piece is one result of a jsonSplitter: the text of a record with the line
// it starts on, or a reason to reject or skip that line.
type piece struct {
	line   int
	text   string
	reject string // non-empty: the record at line cannot be read
	skip   string // non-empty: the line contains no record
}

// jsonSplitter cuts JSON text, fed one line at a time, into records: each
// top-level object, or each element of a top-level array. A value may span
// many lines, as kcadm prints its pretty arrays ("[ {", "  \"time\" : ...").
// The splitter tracks only nesting and strings; json.Unmarshal checks the
// syntax of each record it returns.
//
// The zero jsonSplitter is idle, between values.
type jsonSplitter struct {
	stack    []byte // the open '{' and '[', outermost first
	inString bool
	escaped  bool
	last     byte // last byte outside strings and white space in this value

	valueLine int // line where the outermost open value starts

	inArray    bool // the outermost open value is an array, whose elements are the records
	arrayLine  int  // line of the array's '['
	arrayCount int  // elements read from the array

	record     []byte // text of the record being read
	recordLine int    // line where it starts, 0 when none is open
	recordBase int    // depth of the stack outside the record
	scalar     bool   // the record is a string, number or literal in an array
	overflow   bool   // the record passed source.MaxLineBytes and is no longer kept
}

// active reports whether a value is open across lines.
func (s *jsonSplitter) active() bool { return len(s.stack) > 0 }

// feed reads one line. It returns the pieces the line completes, and
// whether the line does not continue the open value and must be read afresh:
// then the open value is rejected among the pieces and s is idle again.
func (s *jsonSplitter) feed(line int, text string) (pieces []piece, again bool) {
	if s.active() && !s.continues(text) {
		return []piece{s.abandon(fmt.Sprintf("is not closed before line %d", line))}, true
	}

	if s.recordLine != 0 {
		s.appendRecord("\n")
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if s.inString {
			s.stringByte(c)
			if s.recordLine != 0 {
				s.appendRecord(text[i : i+1])
			}
			continue
		}
		if !s.active() && c != ' ' && c != '\t' && c != '{' && c != '[' {
			return append(pieces, piece{line: line, reject: fmt.Sprintf("unexpected text after the JSON value at byte %d of the line", i+1)}), false
		}
		if s.inArray && len(s.stack) == 1 && s.recordLine == 0 && c != ' ' && c != '\t' && c != ',' && c != ']' {
			s.recordLine, s.recordBase, s.scalar = line, 1, c != '{' && c != '['
		}
		if !s.active() && c == '{' {
			s.recordLine, s.recordBase = line, 0
		}
		if s.recordLine != 0 {
			if s.scalar && (c == ',' || c == ']') && len(s.stack) == 1 {
				pieces = append(pieces, s.closeRecord())
			} else {
				s.appendRecord(text[i : i+1])
			}
		}
		if p, ok := s.structureByte(c, line); ok {
			pieces = append(pieces, p)
		}
	}

	switch {
	case s.inString:
		// A JSON string cannot hold a line break, so the value was cut.
		return append(pieces, s.abandon(fmt.Sprintf("ends inside a string at the end of line %d (truncated record?)", line))), false
	case s.active() && s.valueLine == line && !opensLine(s.last):
		return append(pieces, s.abandon("ends before it is closed (truncated record?)")), false
	}
	return pieces, false
}

// structureByte updates the nesting for c, outside strings, and returns the
// piece that c completes.
func (s *jsonSplitter) structureByte(c byte, line int) (piece, bool) {
	switch c {
	case ' ', '\t', '\r':
		return piece{}, false
	case '"':
		s.inString = true
	case '{', '[':
		if !s.active() {
			s.valueLine = line
			if c == '[' {
				s.inArray, s.arrayLine, s.arrayCount = true, line, 0
			}
		}
		s.stack = append(s.stack, c)
	case '}', ']':
		if len(s.stack) > 0 {
			s.stack = s.stack[:len(s.stack)-1]
		}
		if s.recordLine != 0 && !s.scalar && len(s.stack) == s.recordBase {
			s.last = c
			return s.closeRecord(), true
		}
		if s.inArray && !s.active() {
			s.inArray = false
			s.last = 0
			if s.arrayCount == 0 {
				return piece{line: s.arrayLine, skip: "empty JSON array"}, true
			}
			return piece{}, false
		}
	}
	s.last = c
	return piece{}, false
}

func (s *jsonSplitter) stringByte(c byte) {
	switch {
	case s.escaped:
		s.escaped = false
	case c == '\\':
		s.escaped = true
	case c == '"':
		s.inString = false
		s.last = c
	}
}

func (s *jsonSplitter) appendRecord(text string) {
	if s.overflow {
		return
	}
	if len(s.record)+len(text) > source.MaxLineBytes {
		s.overflow = true
		s.record = s.record[:0]
		return
	}
	s.record = append(s.record, text...)
}

// closeRecord ends the open record and returns it.
func (s *jsonSplitter) closeRecord() piece {
	p := piece{line: s.recordLine, text: string(s.record)}
	if s.overflow {
		p = piece{line: s.recordLine, reject: fmt.Sprintf("JSON value is longer than the limit of %d bytes", source.MaxLineBytes)}
	}
	if s.inArray {
		s.arrayCount++
	}
	s.record, s.recordLine, s.scalar, s.overflow = s.record[:0], 0, false, false
	return p
}

// abandon rejects the open value, with reason completing "JSON value
// starting at line N", and makes s idle.
func (s *jsonSplitter) abandon(reason string) piece {
	line := s.recordLine
	kind := "JSON value"
	if line == 0 {
		line, kind = s.arrayLine, "JSON array"
	}
	*s = jsonSplitter{record: s.record[:0]}
	return piece{line: line, reject: fmt.Sprintf("%s starting at line %d %s", kind, line, reason)}
}

// finish rejects a value still open at the end of the input.
func (s *jsonSplitter) finish() (piece, bool) {
	if !s.active() && !s.inString {
		return piece{}, false
	}
	return s.abandon("is not closed at the end of the file"), true
}

// interrupt rejects the open value because line could not be read.
func (s *jsonSplitter) interrupt(line int) (piece, bool) {
	if !s.active() {
		return piece{}, false
	}
	return s.abandon(fmt.Sprintf("is cut by line %d, which could not be read", line)), true
}

// opensLine reports whether a first line ending in c may go on on the next
// line: after an opening bracket, a comma or a colon. Any other ending of an
// unclosed first line means the record was cut.
func opensLine(c byte) bool {
	return c == '{' || c == '[' || c == ',' || c == ':'
}

// continues reports whether the first byte of text may follow what the open
// value has read so far. It catches a cut record followed by a new one, such
// as a log line or a one-line JSON object where a key or a comma is due.
func (s *jsonSplitter) continues(text string) bool {
	i := 0
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r') {
		i++
	}
	if i == len(text) {
		return true
	}
	c := text[i]
	top := s.stack[len(s.stack)-1]
	switch {
	case s.last == '{':
		return c == '"' || c == '}'
	case s.last == ',' && top == '{':
		return c == '"'
	case s.last == ':', s.last == ',' && top == '[':
		return startsValue(c)
	case s.last == '[':
		return startsValue(c) || c == ']'
	default: // after a value
		return c == ',' || c == '}' && top == '{' || c == ']' && top == '['
	}
}

func startsValue(c byte) bool {
	return c == '{' || c == '[' || c == '"' || c == '-' || c >= '0' && c <= '9' || c == 't' || c == 'f' || c == 'n'
}
