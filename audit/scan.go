package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// scanner finds the raw JWTs in one text, in order, each starting at or
// after the end of the one before. It keeps what a search learns about the
// text beyond the token it returns: the next compact token, and the base64
// runs read and decoded. So finding every token costs time linear in the
// length of the text, however many tokens it contains. It counts the bytes
// it examines in work, which tests use to check that bound. A scanner is
// not safe for concurrent use.
type scanner struct {
	text string
	work int // bytes examined: searched, read, decoded or validated

	// The bounds of the first compact token at or after the index of the
	// last search, or -1 when there is none.
	compactSearched          bool
	compactStart, compactEnd int

	region *base64Region // the stretch of base64 of the latest wrapped candidate

	// Scratch space for decoding header candidates and runs of base64.
	// A decoded run is copied to a string before its headers are decoded.
	scratch []byte
}

// minTokenLength is the length of the shortest token: a 10-character
// header, a dot, a 2-character payload and a dot. Its base64 is longer.
const minTokenLength = 14

func newScanner(text string) *scanner {
	return &scanner{text: text}
}

// next returns the bounds of the raw JWT that starts first at index from of
// the text or later, in any form that findCompact or nextWrapped finds. It
// also returns the token in its compact form, so that its fingerprint and
// claims are those of the token as issued. It returns -1, -1, "" when
// there is none. A compact token and a wrapped one that start at the same
// index are distinguished by the longer bounds.
//
// Taking the token that starts first is what lets RedactTokens go on after
// each token: any token in the text before it would start earlier, so none
// appears when the token is replaced.
func (sc *scanner) next(from int) (start, end int, token string) {
	s := sc.text
	if len(s)-from < minTokenLength {
		return -1, -1, ""
	}
	// The first compact token at from or later: the one found before, while
	// it is still ahead.
	switch {
	case !sc.compactSearched:
		sc.compactSearched = true
		sc.compactStart, sc.compactEnd = -1, -1
		// Vectorised searches for one byte rule out most other text (ids,
		// names) on the first search: the segments of a compact token are
		// separated by dots (or "%2E").
		sc.work += len(s) - from
		if strings.IndexByte(s[from:], '.') >= 0 || strings.IndexByte(s[from:], '%') >= 0 {
			sc.compactStart, sc.compactEnd = sc.findCompact(s, from)
		}
	case sc.compactStart >= 0 && from > sc.compactStart:
		sc.compactStart, sc.compactEnd = sc.findCompact(s, from)
	}
	start, end = sc.compactStart, sc.compactEnd

	limit := start
	if start < 0 {
		limit = len(s)
	}
	// A wrapped token starts with "ZX", and 'Z' is rare in other text.
	if z := strings.IndexByte(s[from:limit], 'Z'); z >= 0 {
		sc.work += z
		wStart, wEnd, wToken := sc.nextWrapped(from+z, limit)
		if wStart >= 0 && (start < 0 || wStart < start || wStart == start && wEnd >= end) {
			return wStart, wEnd, wToken
		}
	} else {
		sc.work += limit - from
	}
	if start < 0 {
		return -1, -1, ""
	}
	return start, end, compactForm(s[start:end])
}

// findCompact returns the bounds of the first substring of s at index from
// or later shaped like a compact JWS or JWE: base64url segments separated
// by dots, at least three, the first two non-empty, the first one decoding
// to a JSON object (the JOSE header). A header encodes to text starting
// with "ey" (for `{"` or `{ `) or "ew" (for `{` and a line break or tab). A
// dot right after the token, as at the end of a sentence, is not part of
// it. A separator may be "%2E" or have white space around its dot (see
// separatorAt). It returns -1, -1 when there is none.
//
// Every start inside one run of base64url characters has the same segments
// after the run, so each run is judged once (see compactInRun).
func (sc *scanner) findCompact(s string, from int) (start, end int) {
	for from < len(s) {
		i := indexHeaderStart(s[from:])
		if i < 0 {
			sc.work += len(s) - from
			return -1, -1
		}
		first := from + i
		runEnd := first + 2
		for runEnd < len(s) && isBase64URL(s[runEnd]) {
			runEnd++
		}
		sc.work += runEnd - from
		if start, end, ok := sc.compactInRun(s, first, runEnd); ok {
			return start, end
		}
		from = runEnd
	}
	return -1, -1
}

// indexHeaderStart returns the index of the first "ey" or "ew" in s, or -1.
func indexHeaderStart(s string) int {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], 'e')
		if j < 0 || i+j+1 >= len(s) {
			return -1
		}
		i += j
		if s[i+1] == 'y' || s[i+1] == 'w' {
			return i
		}
	}
}

// tokenShape is the segments that follow a candidate header.
type tokenShape struct {
	segments   int    // number of segments, the header included, at most 5
	payload    [2]int // bounds of the second segment
	thirdEnd   int    // end of the third segment
	end        int    // end of the last segment
	spacedTail bool   // a separator after the third segment has white space around its dot
}

// shapeAt reads the segments of a token that would start at s[start].
func (sc *scanner) shapeAt(s string, start int) tokenShape {
	var bounds [6]int // start and end of the first segments
	j, segments, sep := start, 0, 0
	// spacedTail is set when a separator after the third segment has white
	// space around its dot, as a sentence that goes on after a token does.
	spacedTail := false
	for {
		k := j
		for k < len(s) && isBase64URL(s[k]) {
			k++
		}
		if segments < 3 {
			bounds[2*segments], bounds[2*segments+1] = j, k
		}
		segments++
		if k == j && segments > 3 {
			// An empty segment after the third: the dot before it ends a
			// sentence, not the token.
			j -= sep
			segments--
			break
		}
		j = k
		if segments < 5 {
			var spaced bool
			if sep, spaced = separatorAt(s, j); sep > 0 {
				spacedTail = spacedTail || spaced && segments >= 3
				j += sep
				continue
			}
		}
		break
	}
	// separatorAt may have read white space after the last segment.
	sc.work += skipSpace(s, j) - start
	return tokenShape{segments: segments, payload: [2]int{bounds[2], bounds[3]}, thirdEnd: bounds[5], end: j, spacedTail: spacedTail}
}

// accept returns where a token with this shape and a valid JSON header
// ends, and false when the shape admits no token.
func (shape tokenShape) accept(header []byte) (end int, ok bool) {
	end, segments := shape.end, shape.segments
	if segments > 3 && shape.spacedTail && !bytes.Contains(header, []byte(`"enc"`)) {
		// Only a JWE, whose header names its "enc", has more than three
		// segments. Here the words after "sig. " are the rest of a
		// sentence.
		end, segments = shape.thirdEnd, 3
	}
	// A JWE with direct key agreement ("alg":"dir") has an empty second
	// segment, its encrypted key.
	directJWE := segments == 5 && shape.payload[1] == shape.payload[0]
	if shape.payload[1]-shape.payload[0] < 2 && !directJWE {
		return 0, false
	}
	return end, true
}

// compactInRun returns the first token whose header starts inside the run
// of base64url characters s[first:runEnd], where first is the run's first
// "ey" or "ew". The header of a token starting at p is s[p:runEnd].
//
// Decoding from every candidate start would cost time quadratic in the
// run's length. Instead the run is decoded once for each of the three
// alignments that base64 admits (a run of 4n+1 characters does not
// decode). The header of a later start of one alignment is then a suffix
// of that decoding, and at most one suffix of a text is a JSON object
// followed by white space only (see objectStart). So each alignment has
// at most one start to check.
func (sc *scanner) compactInRun(s string, first, runEnd int) (start, end int, ok bool) {
	shape := sc.shapeAt(s, first)
	if shape.segments < 3 || runEnd-first < 10 || shape.payload[1]-shape.payload[0] < 2 && shape.segments != 5 {
		// A later start inside the run has the same segments after it and
		// a shorter header.
		return 0, 0, false
	}

	// The first start of each alignment, by (runEnd-start)%4.
	firsts := [4]int{-1, -1, -1, -1}
	found := 0
	for p := first; p <= runEnd-10; {
		if m := (runEnd - p) % 4; m != 1 && firsts[m] < 0 {
			firsts[m] = p
			found++
			if p == first {
				// A real token's header starts at the run's first
				// candidate, so that one is tried before any decoding of
				// the other alignments.
				if end, ok := sc.headerAt(s, p, runEnd, shape); ok {
					return p, end, true
				}
			}
			if found == 3 {
				break
			}
		}
		i := indexHeaderStart(s[p+1 : runEnd])
		if i < 0 {
			sc.work += runEnd - p
			break
		}
		sc.work += i + 1
		p += i + 1
	}

	start = -1
	for _, p := range firsts {
		if p < 0 {
			continue
		}
		if p, pEnd, ok := sc.validStart(s, p, runEnd, shape); ok && (start < 0 || p < start) {
			start, end = p, pEnd
		}
	}
	return start, end, start >= 0
}

// headerAt reports whether s[p:runEnd] is a valid header for a token with
// this shape, and where that token ends.
func (sc *scanner) headerAt(s string, p, runEnd int, shape tokenShape) (end int, ok bool) {
	header := sc.decodeHeader(s[p:runEnd])
	sc.work += len(header)
	if len(header) == 0 || header[0] != '{' || !json.Valid(header) {
		return 0, false
	}
	sc.work += len(header)
	return shape.accept(header)
}

// validStart finds the one start at p or later, of p's alignment, whose
// header s[start:runEnd] is a JSON object, and returns it if a token with
// this shape starts there.
func (sc *scanner) validStart(s string, p, runEnd int, shape tokenShape) (start, end int, ok bool) {
	decoded := sc.decodeHeader(s[p:runEnd])
	q := objectStart(decoded)
	sc.work += 2 * len(decoded)
	if q < 0 || q%3 != 0 {
		return 0, 0, false
	}
	start = p + q/3*4
	if start > runEnd-10 || s[start+1] != 'y' && s[start+1] != 'w' {
		// Too short a header, or "e3" for "{}", which starts no header.
		return 0, 0, false
	}
	header := decoded[q:]
	sc.work += 2 * len(header)
	if !json.Valid(header) {
		return 0, 0, false
	}
	end, ok = shape.accept(header)
	return start, end, ok
}

// decodeHeader decodes base64url text into the scanner's scratch space,
// and returns nil when the text's length does not decode.
func (sc *scanner) decodeHeader(text string) []byte {
	n := base64.RawURLEncoding.DecodedLen(len(text))
	if cap(sc.scratch) < n {
		sc.scratch = make([]byte, n)
	}
	n, err := base64.RawURLEncoding.Decode(sc.scratch[:n], []byte(text))
	if err != nil {
		return nil
	}
	return sc.scratch[:n]
}

// objectStart returns the index of the one byte of text from which text
// is a JSON object followed by nothing but white space, or -1 when there
// is none or it is not a JSON object at all. Callers check the suffix
// with json.Valid.
//
// Such a suffix ends at the last "}" of text. Read backwards from there,
// JSON is unambiguous: a quote outside a string closes a string, which
// opens at the nearest quote before it that follows an even number of
// backslashes, and brackets outside strings nest. So the suffix, if any,
// starts at the "{" that matches that last "}", and no other suffix can be
// a JSON object.
func objectStart(text []byte) int {
	last := len(text) - 1
	for last >= 0 && isJSONSpace(text[last]) {
		last--
	}
	if last < 0 || text[last] != '}' {
		return -1
	}
	depth := 0
	for i := last; i >= 0; i-- {
		switch text[i] {
		case '}', ']':
			depth++
		case '{', '[':
			depth--
			if depth == 0 {
				if text[i] == '{' {
					return i
				}
				return -1
			}
		case '"':
			i = stringStart(text, i)
			if i < 0 {
				return -1
			}
		}
	}
	return -1
}

// stringStart returns the index of the quote that opens the JSON string
// closed by the quote at text[end], or -1.
func stringStart(text []byte, end int) int {
	for i := end - 1; i >= 0; i-- {
		if text[i] != '"' {
			continue
		}
		backslashes := 0
		for backslashes < i && text[i-1-backslashes] == '\\' {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i
		}
		i -= backslashes
	}
	return -1
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
