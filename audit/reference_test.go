package audit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// The reference search below finds tokens the slow, plain way that the
// scanner must match: it tries every start of a compact token and reads a
// run of base64 from every "ZXl" or "ZXc", and it redacts by searching the
// whole text again after each token. It costs time quadratic in the
// length of the text, so tests give it short texts only.

// referenceRedact is RedactTokens by repeated search from the start.
func referenceRedact(s string) string {
	for {
		start, end, token := referenceNext(s)
		if start < 0 {
			return s
		}
		s = s[:start] + "[jwt sha256:" + Fingerprint(token)[:16] + "]" + s[end:]
	}
}

// referenceNext returns the token that starts first in s, as
// scanner.next does.
func referenceNext(s string) (start, end int, token string) {
	start, end = referenceCompact(s)
	wStart, wEnd, wToken := -1, -1, ""
	for p := 0; p+2 < len(s); p++ {
		if start >= 0 && p >= start {
			break
		}
		if s[p] != 'Z' || s[p+1] != 'X' || s[p+2] != 'l' && s[p+2] != 'c' {
			continue
		}
		rStart, rEnd, rToken, ok := referenceWrapped(s, p)
		if ok && (wStart < 0 || rStart < wStart) {
			wStart, wEnd, wToken = rStart, rEnd, rToken
		}
	}
	if wStart >= 0 && (start < 0 || wStart < start || wStart == start && wEnd >= end) {
		return wStart, wEnd, wToken
	}
	if start < 0 {
		return -1, -1, ""
	}
	return start, end, compactForm(s[start:end])
}

// referenceCompact returns the bounds of the first compact token in s.
func referenceCompact(s string) (start, end int) {
	for p := 0; p+1 < len(s); p++ {
		if s[p] != 'e' || s[p+1] != 'y' && s[p+1] != 'w' {
			continue
		}
		if end, ok := referenceTokenAt(s, p); ok {
			return p, end
		}
	}
	return -1, -1
}

// referenceTokenAt reports whether a compact token starts at s[start], and
// where it ends.
func referenceTokenAt(s string, start int) (end int, ok bool) {
	var discard scanner
	shape := discard.shapeAt(s, start)
	headerEnd := start
	for headerEnd < len(s) && isBase64URL(s[headerEnd]) {
		headerEnd++
	}
	if shape.segments < 3 || headerEnd-start < 10 {
		return 0, false
	}
	header, err := base64.RawURLEncoding.DecodeString(s[start:headerEnd])
	if err != nil || len(header) == 0 || header[0] != '{' || !json.Valid(header) {
		return 0, false
	}
	return shape.accept(header)
}

// referenceWrapped reads the run of base64 that starts at s[p] and returns
// the groups that encode the first compact token in it.
func referenceWrapped(s string, p int) (start, end int, token string, ok bool) {
	var chars []byte
	var ends []int
	line := 0 // characters since p or the last line break
	i := p
loop:
	for i < len(s) {
		c, n := s[i], 1
		switch {
		case isBase64URL(c) || c == '+' || c == '/':
			switch c {
			case '-':
				c = '+'
			case '_':
				c = '/'
			}
		case c == '\\' && i+1 < len(s) && s[i+1] == '/':
			c, n = '/', 2
		case c == '%' && i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'B' || s[i+2] == 'b'):
			c, n = '+', 3
		case c == '%' && i+2 < len(s) && s[i+1] == '2' && (s[i+2] == 'F' || s[i+2] == 'f'):
			c, n = '/', 3
		case (c == '\n' || c == '\r') && (line == 64 || line == 76):
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			if i+n >= len(s) || !isBase64URL(s[i+n]) && s[i+n] != '+' && s[i+n] != '/' {
				break loop
			}
			i += n
			line = 0
			continue
		default:
			break loop
		}
		chars = append(chars, c)
		i += n
		ends = append(ends, i)
		line++
	}
	runEnd := skipPadding(s, i)

	decodable := chars
	if len(decodable)%4 == 1 {
		decodable = decodable[:len(decodable)-1]
	}
	text, err := base64.RawStdEncoding.DecodeString(string(decodable))
	if err != nil {
		return 0, 0, "", false
	}
	decoded := string(text)
	from, to := referenceCompact(decoded)
	if from < 0 {
		return 0, 0, "", false
	}
	first, last := from/3*4, (to+2)/3*4
	start = p
	if first > 0 {
		start = ends[first-1]
	}
	end = runEnd
	if last < len(chars) && strings.TrimSpace(decoded[to:]) != "" {
		end = ends[last-1]
	}
	return start, end, compactForm(decoded[from:to]), true
}

// referenceContains is ContainsToken by the reference search.
func referenceContains(s string) bool {
	start, _, _ := referenceNext(s)
	return start >= 0
}
