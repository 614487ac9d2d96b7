package jsonrecords

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/valyala/fastjson"
)

// MaxDepth is the deepest nesting of objects and arrays that a record may
// have. fastjson's parser, which the importers use, fails on a value nested
// below fastjson.MaxDepth (300) levels counting the value itself, so a
// record of at most 299 nested objects and arrays always parses there.
const MaxDepth = fastjson.MaxDepth - 1

// outcome is the way a scan of a JSON value ended.
type outcome int

const (
	scanned    outcome = iota // the value is valid and ends at result.end
	incomplete                // the input ended before the value did
	badSyntax                 // invalid JSON at result.at
	tooDeep                   // more nested levels than the scan allows, at result.at
	wrapperKey                // a wrapper array opens at result.at (only when asked)
)

// result is the outcome of scan with its offsets.
type result struct {
	outcome outcome
	end     int // offset just past the value, when outcome is scanned
	at      int // offset of the error or of the wrapper's '['
}

// entry is the state of the grammar in which scan starts.
type entry int

const (
	atValue     entry = iota // at the start of a value (whitespace first is allowed)
	afterMember              // inside a top-level object, after a member's value
)

// Wrapper keys: an object at the top of a file that holds one of these keys
// with an array value is a wrapper, and the array's elements are the records.
func isWrapperKey(key []byte) bool {
	switch string(key) {
	case "records", "value", "items":
		return true
	}
	return false
}

// scan checks that b starts with one valid JSON value (RFC 8259) and finds
// where it ends. It does not check UTF-8: the callers run utf8.Valid on the
// record, which is faster than checking each string here. final reports that
// no input follows b, so a number running to the end of b is complete.
//
// With from == afterMember, scan starts inside a top-level object just after
// a member's value and ends after the object's '}'. With stopAtWrapper, scan
// stops at a member of a top-level object whose key is a wrapper key and
// whose value is an array, and returns the offset of its '['.
//
// scan keeps its own stack of open containers, at most limit deep, so deep
// nesting costs no call depth.
func scan(b []byte, from entry, limit int, final, stopAtWrapper bool) result {
	var stack [MaxDepth + 2]bool // true for an object, false for an array
	if limit > len(stack) {
		limit = len(stack)
	}
	depth := 0
	i := 0
	var c byte
	var keyStart, keyEnd int
	var ok bool

	if from == afterMember {
		stack[0] = true
		depth = 1
		goto next
	}

value:
	i = skipSpace(b, i)
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	c = b[i]
	switch {
	case c == '{':
		if depth >= limit {
			return result{outcome: tooDeep, at: i}
		}
		stack[depth] = true
		depth++
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return result{outcome: incomplete, at: i}
		}
		if b[i] == '}' {
			depth--
			i++
			goto next
		}
		goto key
	case c == '[':
		if depth >= limit {
			return result{outcome: tooDeep, at: i}
		}
		stack[depth] = false
		depth++
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return result{outcome: incomplete, at: i}
		}
		if b[i] == ']' {
			depth--
			i++
			goto next
		}
		goto value
	case c == '"':
		if i, ok = scanString(b, i+1); !ok {
			return stringError(b, i)
		}
	case c == 't':
		if i, ok = scanLiteral(b, i, "true"); !ok {
			return literalError(b, i)
		}
	case c == 'f':
		if i, ok = scanLiteral(b, i, "false"); !ok {
			return literalError(b, i)
		}
	case c == 'n':
		if i, ok = scanLiteral(b, i, "null"); !ok {
			return literalError(b, i)
		}
	case c == '-' || c >= '0' && c <= '9':
		if i, ok = scanNumber(b, i); !ok {
			if i >= len(b) {
				return result{outcome: incomplete, at: i}
			}
			return result{outcome: badSyntax, at: i}
		}
		if i >= len(b) && !final {
			// More digits may follow in the input not yet read.
			return result{outcome: incomplete, at: i}
		}
	default:
		return result{outcome: badSyntax, at: i}
	}

next:
	if depth == 0 {
		return result{outcome: scanned, end: i}
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	switch b[i] {
	case ',':
		i++
		if stack[depth-1] {
			goto key
		}
		goto value
	case '}':
		if !stack[depth-1] {
			return result{outcome: badSyntax, at: i}
		}
		depth--
		i++
		goto next
	case ']':
		if stack[depth-1] {
			return result{outcome: badSyntax, at: i}
		}
		depth--
		i++
		goto next
	}
	return result{outcome: badSyntax, at: i}

key:
	i = skipSpace(b, i)
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	if b[i] != '"' {
		return result{outcome: badSyntax, at: i}
	}
	keyStart = i + 1
	if i, ok = scanString(b, keyStart); !ok {
		return stringError(b, i)
	}
	keyEnd = i - 1
	i = skipSpace(b, i)
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	if b[i] != ':' {
		return result{outcome: badSyntax, at: i}
	}
	i++
	if stopAtWrapper && depth == 1 && isWrapperKey(b[keyStart:keyEnd]) {
		j := skipSpace(b, i)
		if j >= len(b) {
			return result{outcome: incomplete, at: j}
		}
		if b[j] == '[' {
			return result{outcome: wrapperKey, at: j}
		}
	}
	goto value
}

// skipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// Masks for the byte-parallel search in scanString.
const (
	ones        = 0x0101010101010101
	highs       = 0x8080808080808080
	quotes      = '"' * ones
	backslashes = '\\' * ones
	spaces      = 0x20 * ones
)

// scanString scans a string whose opening quote precedes b[i]. It returns the
// offset after the closing quote and true, or the offset of the problem and
// false: len(b) when b ends inside the string, or the offending byte.
func scanString(b []byte, i int) (int, bool) {
	for {
		// Skip eight bytes at a time while none of them is a quote, a
		// backslash or a control character. Each term below sets the high
		// bit of the first byte of x that matches, and maybe of later
		// bytes, but never of an earlier one.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			q := x ^ quotes
			s := x ^ backslashes
			special := ((x - spaces) &^ x) | ((q - ones) &^ q) | ((s - ones) &^ s)
			if special &= highs; special != 0 {
				i += bits.TrailingZeros64(special) / 8
				break
			}
			i += 8
		}
		if i >= len(b) {
			return i, false
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(b) {
						return i + k, false
					}
					if !isHex(b[i+k]) {
						return i + k, false
					}
				}
				i += 5
			default:
				return i, false
			}
		case c < 0x20:
			return i, false
		default:
			i++ // fewer than eight bytes are left
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// stringError turns a failed scanString into a result.
func stringError(b []byte, i int) result {
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	return result{outcome: badSyntax, at: i}
}

// scanLiteral scans true, false or null at b[i].
func scanLiteral(b []byte, i int, lit string) (int, bool) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(b) || b[i+k] != lit[k] {
			return i + k, false
		}
	}
	return i + len(lit), true
}

// literalError turns a failed scanLiteral into a result.
func literalError(b []byte, i int) result {
	if i >= len(b) {
		return result{outcome: incomplete, at: i}
	}
	return result{outcome: badSyntax, at: i}
}

// scanNumber scans a number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// It returns false with the offset of the byte that breaks the grammar, or
// len(b) when b ends where a digit is required.
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return i, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return j, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return j, false
		}
		i = j
	}
	return i, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// describe returns the reason for a failed scan of a record, naming the
// offending byte and its offset within the record but no other content.
func describe(r result) string {
	switch r.outcome {
	case incomplete:
		return fmt.Sprintf("unexpected end of JSON at offset %d", r.at)
	case tooDeep:
		return fmt.Sprintf("JSON nested deeper than %d levels at offset %d", MaxDepth, r.at)
	}
	return fmt.Sprintf("invalid JSON at offset %d", r.at)
}

// describeAt is describe for a badSyntax result, naming the byte at r.at in b.
func describeAt(b []byte, r result) string {
	if r.outcome != badSyntax || r.at >= len(b) {
		return describe(r)
	}
	return fmt.Sprintf("invalid character %s at offset %d", quoteByte(b[r.at]), r.at)
}

// quoteByte quotes a printable ASCII byte as 'x' and writes any other as
// its hex value, so that a message never carries raw binary.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// kindOf names the JSON type of a valid value, for "not a JSON object"
// messages.
func kindOf(raw []byte) string {
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case '{':
		return "an object"
	}
	return "a number"
}
