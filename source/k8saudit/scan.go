package k8saudit

import (
	"encoding/binary"
	"unicode/utf8"
)

// maxScanDepth bounds the nesting that scanner reads. A record nested deeper
// is left to encoding/json, which allows 10,000 levels.
const maxScanDepth = 100

// scanner reads JSON text (RFC 8259) strictly, in one pass and without
// building a tree. Each method reports false on any input that it does not
// read exactly as encoding/json does, invalid JSON among them, so that the
// caller can hand the record to encoding/json for its decision and its error
// message. It does not check UTF-8: the caller checks the whole text first.
type scanner struct {
	data []byte
	pos  int
}

// stringStop marks the bytes that end the fast loop over a string's
// contents: the closing quote, a backslash and the control characters,
// which JSON allows inside a string only as escapes.
var stringStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return s.data[s.pos] // the usual case, in compact JSON
	}
	s.skipSpace()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// consume skips white space and then c, and reports whether c was there.
func (s *scanner) consume(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.pos++
	return true
}

// atEnd reports whether only white space is left.
func (s *scanner) atEnd() bool {
	s.skipSpace()
	return s.pos == len(s.data)
}

// literal consumes word, one of null, true and false.
func (s *scanner) literal(word string) bool {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

// null consumes a null literal if one comes next.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// rawString reads the string that starts at pos and returns its contents
// between the quotes, still escaped, and whether they contain an escape.
//
// It reports false for a \u escape of a character from U+D000 to U+DFFF,
// which covers the UTF-16 surrogates: encoding/json turns an unpaired one
// into U+FFFD and a pair into one character, which unescape does not do.
func (s *scanner) rawString() (contents []byte, escaped, ok bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.pos + 1
	i := start
	for {
		i = skipPlainText(s.data, i)
		if i >= len(s.data) {
			return nil, false, false
		}
		switch s.data[i] {
		case '"':
			s.pos = i + 1
			return s.data[start:i], escaped, true
		case '\\':
			escaped = true
			n := escapeLen(s.data[i:])
			if n == 0 {
				return nil, false, false
			}
			i += n
		default: // a control character
			return nil, false, false
		}
	}
}

// Constants of the SWAR (SIMD within a register) tests in skipPlainText.
const (
	everyByte01 = 0x0101010101010101
	everyByte80 = 0x8080808080808080
)

// skipPlainText returns the index of the first byte at or after i that
// stringStop marks, or len(b). It tests eight bytes at a time: for a byte
// value c, v-0x01 & ^v & 0x80 has its top bit set in some byte when some
// byte of v is zero, which v = x XOR c makes true where x has c, and x-0x20
// & ^x & 0x80 likewise finds a byte below 0x20.
func skipPlainText(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		quote := x ^ (everyByte01 * '"')
		backslash := x ^ (everyByte01 * '\\')
		found := (quote - everyByte01) &^ quote
		found |= (backslash - everyByte01) &^ backslash
		found |= (x - everyByte01*0x20) &^ x
		if found&everyByte80 != 0 {
			break
		}
	}
	for i < len(b) && !stringStop[b[i]] {
		i++
	}
	return i
}

// escapeLen returns the length of the escape at the start of b, or 0 when it
// is invalid or a \u escape of U+D000 to U+DFFF.
func escapeLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(b) < 6 || b[2] == 'd' || b[2] == 'D' {
			return 0
		}
		for _, c := range b[2:6] {
			if hexValue(c) < 0 {
				return 0
			}
		}
		return 6
	}
	return 0
}

func hexValue(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// unescape appends to dst the text of string contents that rawString has
// checked.
func unescape(dst, contents []byte) []byte {
	for i := 0; i < len(contents); {
		c := contents[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch contents[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexValue(contents[i+2])<<12 | hexValue(contents[i+3])<<8 | hexValue(contents[i+4])<<4 | hexValue(contents[i+5])
			dst = utf8.AppendRune(dst, r)
			i += 6
			continue
		default: // '"', '\\' and '/' stand for themselves
			dst = append(dst, contents[i+1])
		}
		i += 2
	}
	return dst
}

// number reads a JSON number and returns its literal.
func (s *scanner) number() ([]byte, bool) {
	start := s.pos
	i := s.pos
	if i < len(s.data) && s.data[i] == '-' {
		i++
	}
	switch {
	case i < len(s.data) && s.data[i] == '0':
		i++
	case i < len(s.data) && '1' <= s.data[i] && s.data[i] <= '9':
		i = skipDigits(s.data, i)
	default:
		return nil, false
	}
	if i < len(s.data) && s.data[i] == '.' {
		j := skipDigits(s.data, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(s.data) && (s.data[i] == 'e' || s.data[i] == 'E') {
		i++
		if i < len(s.data) && (s.data[i] == '+' || s.data[i] == '-') {
			i++
		}
		j := skipDigits(s.data, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	s.pos = i
	return s.data[start:i], true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// skipValue checks and passes over the next value, which is depth levels
// down.
func (s *scanner) skipValue(depth int) bool {
	switch s.peek() {
	case '"':
		_, _, ok := s.rawString()
		return ok
	case '{':
		if depth >= maxScanDepth {
			return false
		}
		s.pos++
		if s.consume('}') {
			return true
		}
		for {
			if _, _, ok := s.rawString(); !ok || !s.consume(':') || !s.skipValue(depth+1) {
				return false
			}
			if !s.consume(',') {
				return s.consume('}')
			}
		}
	case '[':
		if depth >= maxScanDepth {
			return false
		}
		s.pos++
		if s.consume(']') {
			return true
		}
		for {
			if !s.skipValue(depth + 1) {
				return false
			}
			if !s.consume(',') {
				return s.consume(']')
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	_, ok := s.number()
	return ok
}

// objectStart consumes the "{" of an object. It reports null for a null
// literal, and false for any other value.
func (s *scanner) objectStart() (null, ok bool) {
	switch s.peek() {
	case '{':
		s.pos++
		return false, true
	case 'n':
		return true, s.literal("null")
	}
	return false, false
}

// members reads the members of an object whose "{" objectStart has
// consumed, up to its "}". For each member it reads the key and the colon
// and calls readValue, which must read the value. A key with an escape is
// not read (members reports false), because the callers compare keys with
// field names as they are in the text.
func (s *scanner) members(readValue func(key []byte) bool) bool {
	if s.consume('}') {
		return true
	}
	for {
		key, escaped, ok := s.rawString()
		if !ok || escaped || !s.consume(':') || !readValue(key) {
			return false
		}
		if !s.consume(',') {
			return s.consume('}')
		}
	}
}

// arrayStart consumes the "[" of an array. It reports null for a null
// literal, and false for any other value.
func (s *scanner) arrayStart() (null, ok bool) {
	switch s.peek() {
	case '[':
		s.pos++
		return false, true
	case 'n':
		return true, s.literal("null")
	}
	return false, false
}

// elements reads the elements of an array whose "[" arrayStart has
// consumed, up to its "]", calling readValue for each.
func (s *scanner) elements(readValue func() bool) bool {
	if s.consume(']') {
		return true
	}
	for {
		if !readValue() {
			return false
		}
		if !s.consume(',') {
			return s.consume(']')
		}
	}
}
