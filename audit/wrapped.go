package audit

import (
	"encoding/base64"
	"slices"
	"strings"
)

// nextWrapped returns the bounds of the run of base64 that encodes the
// compact JWT starting first at index from of the text or later, among the
// runs that start before index limit, and the token in its compact form.
// It returns -1, -1, "" when there is none. Cookies and some header values
// carry a token this way.
//
// A run may use the standard or the URL alphabet, with or without "="
// padding. It may have its "/" written as `\/` (JSON) or "%2F", its "+" as
// "%2B" and its "=" as "%3D" (URL encoding), and line breaks after every 64
// or 76 characters (PEM and MIME). The token's fingerprint is that of the
// compact token inside, so it links with the same token seen unwrapped.
//
// The bounds cover the 4-character groups that encode the token. They
// cover the whole run when nothing but white space follows the token in
// it. So text wrapped with the token, such as the rest of a JSON object,
// keeps the groups that encode none of the token.
//
// NOTE: only a token that starts a 3-byte group of the encoded text is
// found, as one that starts that text always does. One behind a prefix of
// another length, such as the password of HTTP Basic authentication in
// "user:eyJ...", is not.
func (sc *scanner) nextWrapped(from, limit int) (start, end int, token string) {
	// Base64 writes "ey" and "ew", the header starts that findCompact
	// looks for, as "ZXl" and "ZXc" when they start a group. Every field
	// of every event is searched, so the search is for one byte, the
	// fastest, and 'Z' is rare in other text.
	s := sc.text
	start, end = -1, -1
	for p := from; p < limit; p++ {
		i := strings.IndexByte(s[p:limit], 'Z')
		if i < 0 {
			sc.work += limit - p
			break
		}
		sc.work += i + 1
		p += i
		if start >= 0 && p >= start {
			// A run read from here starts its token here or later.
			break
		}
		if p+2 >= len(s) || s[p+1] != 'X' || s[p+2] != 'l' && s[p+2] != 'c' {
			continue
		}

		if sc.region == nil || p >= sc.region.textEnd {
			sc.readRegion(p)
		}
		if rStart, rEnd, rToken, ok := sc.region.token(sc, p); ok && (start < 0 || rStart < start) {
			start, end, token = rStart, rEnd, rToken
		}
	}
	return start, end, token
}

// base64Region is a stretch of base64 read from a candidate start, with
// every line break that a base64 character follows. A run of base64 read
// from a start inside it ends at the region's end or at one of its line
// breaks (see runEnd).
type base64Region struct {
	start, textEnd int    // bounds in the text, without the padding
	chars          []byte // the region in the standard alphabet, without padding
	ends           []int  // ends[m] is the index in the text after chars[m]
	breaks         []int  // the indexes in chars before which a line breaks
	// chainEnd[k] is where a run that went on past breaks[k] ends: at the
	// next break that does not follow 64 or 76 characters, or at the
	// region's end.
	chainEnd []int

	// Runs that end at the same index and start at the same alignment
	// decode to suffixes of one text, searched once. A run of a later
	// candidate ends after it, so runs that end before a candidate are
	// dropped, and a few remain.
	runs []decodedRun

	// Cursors into chars and breaks: candidates come in text order.
	char, brk int
}

// decodedRun is the decoding of chars[first:end] of a region, and the
// first compact token in it from searchedFrom on, as a cache.
type decodedRun struct {
	first, end   int
	text         string
	searchedFrom int // -1 before the first search
	tokenStart   int
	tokenEnd     int
}

// readRegion reads the stretch of base64 that starts at the text's p into
// the scanner's region, reusing its memory.
func (sc *scanner) readRegion(p int) {
	s := sc.text
	if sc.region == nil {
		// The region is kept apart, so that a scanner of text with no
		// base64 in it stays small.
		sc.region = new(base64Region)
	}
	r := sc.region
	if r.chars == nil {
		// Room for the base64 of a token of up to 768 bytes without
		// growing.
		size := min(len(s)-p, 1024)
		r.chars, r.ends = make([]byte, 0, size), make([]int, 0, size)
	}
	r.start, r.chars, r.ends, r.breaks, r.runs = p, r.chars[:0], r.ends[:0], r.breaks[:0], r.runs[:0]
	r.char, r.brk = 0, 0
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
		case c == '\n' || c == '\r':
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				n = 2
			}
			if i+n >= len(s) || !isBase64URL(s[i+n]) && s[i+n] != '+' && s[i+n] != '/' {
				break loop
			}
			r.breaks = append(r.breaks, len(r.chars))
			i += n
			continue
		default:
			break loop
		}
		r.chars = append(r.chars, c)
		i += n
		r.ends = append(r.ends, i)
	}
	r.textEnd = i
	sc.work += i - p

	r.chainEnd = slices.Grow(r.chainEnd[:0], len(r.breaks))[:len(r.breaks)]
	for k := len(r.breaks) - 1; k >= 0; k-- {
		switch {
		case k == len(r.breaks)-1:
			r.chainEnd[k] = len(r.chars)
		case isLineLength(r.breaks[k+1] - r.breaks[k]):
			r.chainEnd[k] = r.chainEnd[k+1]
		default:
			r.chainEnd[k] = r.breaks[k+1]
		}
	}
}

// isLineLength reports whether n characters make a full line of PEM (64)
// or MIME (76) base64.
func isLineLength(n int) bool { return n == 64 || n == 76 }

// runEnd returns the index in chars where a run read from chars[c] ends:
// it goes on past a line break only when the line before it has 64 or 76
// characters, counted from c on the first line.
func (r *base64Region) runEnd(c int) int {
	for r.brk < len(r.breaks) && r.breaks[r.brk] <= c {
		r.brk++
	}
	if r.brk == len(r.breaks) {
		return len(r.chars)
	}
	if b := r.breaks[r.brk]; !isLineLength(b - c) {
		return b
	}
	return r.chainEnd[r.brk]
}

// token returns the bounds in the text of the groups that encode the first
// compact JWT in the run read from the text's p, and that token.
func (r *base64Region) token(sc *scanner, p int) (start, end int, token string, ok bool) {
	for r.ends[r.char] <= p {
		r.char++
	}
	c := r.char // chars[c] is the 'Z' at p
	runEnd := r.runEnd(c)
	run := r.decodedRun(sc, c, runEnd)

	// The run from c decodes to the suffix of run.text from offset on.
	offset := (c - run.first) / 4 * 3
	switch {
	case run.searchedFrom < 0:
		// The first search: most runs decode to no dot at all.
		run.tokenStart, run.tokenEnd = -1, -1
		sc.work += len(run.text) - offset
		if strings.IndexByte(run.text[offset:], '.') >= 0 || strings.IndexByte(run.text[offset:], '%') >= 0 {
			run.tokenStart, run.tokenEnd = sc.findCompact(run.text, offset)
		}
		run.searchedFrom = offset
	case run.tokenStart >= 0 && run.tokenStart < offset:
		// The token found before starts before this run: search on.
		run.tokenStart, run.tokenEnd = sc.findCompact(run.text, offset)
		run.searchedFrom = offset
	}
	if run.tokenStart < 0 {
		return 0, 0, "", false
	}

	// The groups that encode the token, as indexes in chars.
	from, to := run.tokenStart, run.tokenEnd
	first, last := run.first+from/3*4, run.first+(to+2)/3*4
	start = p
	if first > c {
		start = r.ends[first-1]
	}
	end = r.ends[runEnd-1]
	if runEnd == len(r.chars) {
		end = skipPadding(sc.text, r.textEnd)
	}
	if last < runEnd && strings.TrimSpace(run.text[to:]) != "" {
		end = r.ends[last-1]
	}
	return start, end, compactForm(run.text[from:to]), true
}

// decodedRun returns the decoding of the run chars[c:runEnd], as a suffix
// of a run decoded before or newly decoded.
func (r *base64Region) decodedRun(sc *scanner, c, runEnd int) *decodedRun {
	live := r.runs[:0]
	for i := range r.runs {
		if r.runs[i].end > c {
			live = append(live, r.runs[i])
		}
	}
	r.runs = live
	for i := range r.runs {
		if run := &r.runs[i]; run.end == runEnd && (c-run.first)%4 == 0 {
			return run
		}
	}
	r.runs = append(r.runs, decodedRun{first: c, end: runEnd, text: sc.decodeRun(r.chars[c:runEnd]), searchedFrom: -1})
	return &r.runs[len(r.runs)-1]
}

// decodeRun decodes characters of the standard alphabet without padding.
func (sc *scanner) decodeRun(chars []byte) string {
	if len(chars)%4 == 1 {
		// A last character that encodes no whole byte.
		chars = chars[:len(chars)-1]
	}
	n := base64.RawStdEncoding.DecodedLen(len(chars))
	if cap(sc.scratch) < n {
		sc.scratch = make([]byte, n)
	}
	n, err := base64.RawStdEncoding.Decode(sc.scratch[:n], chars)
	sc.work += len(chars)
	if err != nil {
		// Not reached: readRegion keeps only characters of the alphabet.
		return ""
	}
	return string(sc.scratch[:n])
}

// skipPadding returns the index after the up to two "=" (or "%3D") at
// s[i].
func skipPadding(s string, i int) int {
	for pad := 0; pad < 2; pad++ {
		switch {
		case i < len(s) && s[i] == '=':
			i++
		case i+2 < len(s) && s[i] == '%' && s[i+1] == '3' && (s[i+2] == 'D' || s[i+2] == 'd'):
			i += 3
		}
	}
	return i
}
