package audit

import (
	"encoding/base64"
	"sort"
	"strings"
)

// findWrapped returns the bounds of the first run of base64 in s, before
// index limit, that encodes a compact JWT, and the token in its compact
// form. It returns -1, -1, "" when there is none. Cookies and some header
// values carry a token this way.
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
func findWrapped(s string, limit int) (start, end int, token string) {
	// Base64 writes "ey" and "ew", the header starts that findCompact
	// looks for, as "ZXl" and "ZXc" when they start a group. A run is decoded once for each of
	// its 4 group alignments, so that repeated headers cost no more.
	var decoded [4]wrappedRun
	for from := 0; from < limit; {
		// Every field of every event is searched, so the search is for
		// one byte, the fastest, and 'Z' is rare in other text.
		i := strings.IndexByte(s[from:], 'Z')
		if i < 0 || from+i >= limit {
			break
		}
		p := from + i
		from = p + 1
		if p+2 >= len(s) || s[p+1] != 'X' || s[p+2] != 'l' && s[p+2] != 'c' || coversGroupStart(&decoded, p) {
			continue
		}

		run := readBase64Run(s, p)
		decoded[p%4] = run
		if start, end, token, ok := run.token(s); ok {
			return start, end, token
		}
	}
	return -1, -1, ""
}

// coversGroupStart reports whether one of the runs already decoded has a
// group that starts at s[p].
func coversGroupStart(decoded *[4]wrappedRun, p int) bool {
	for _, run := range decoded {
		if run.ends == nil || p < run.start || p >= run.end {
			continue
		}
		// ends[m] is the index in s after character m, so group m/4
		// starts after ends[m-1].
		m := sort.SearchInts(run.ends, p+1)
		if m < len(run.ends) && m%4 == 0 && (m == 0 && p == run.start || m > 0 && run.ends[m-1] == p) {
			return true
		}
	}
	return false
}

// wrappedRun is a run of base64 in a text, read from a possible group start.
type wrappedRun struct {
	start, end int    // bounds in the text, with the padding
	chars      []byte // the run in the standard alphabet, without padding
	ends       []int  // ends[m] is the index in the text after chars[m]
}

// readBase64Run reads the run of base64 that starts at s[p].
func readBase64Run(s string, p int) wrappedRun {
	// Room for the base64 of a token of up to 768 bytes without growing.
	size := min(len(s)-p, 1024)
	run := wrappedRun{start: p, chars: make([]byte, 0, size), ends: make([]int, 0, size)}
	line := 0 // characters since the last line break
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
		run.chars = append(run.chars, c)
		i += n
		run.ends = append(run.ends, i)
		line++
	}
	for pad := 0; pad < 2; pad++ {
		switch {
		case i < len(s) && s[i] == '=':
			i++
		case i+2 < len(s) && s[i] == '%' && s[i+1] == '3' && (s[i+2] == 'D' || s[i+2] == 'd'):
			i += 3
		}
	}
	run.end = i
	return run
}

// token decodes the run and returns the bounds in s of the groups that
// encode the first compact JWT in it, and that token.
func (run wrappedRun) token(s string) (start, end int, token string, ok bool) {
	chars := run.chars
	if len(chars)%4 == 1 {
		// A last character that encodes no whole byte.
		chars = chars[:len(chars)-1]
	}
	text := make([]byte, base64.RawStdEncoding.DecodedLen(len(chars)))
	n, err := base64.RawStdEncoding.Decode(text, chars)
	if err != nil {
		return 0, 0, "", false
	}
	decoded := string(text[:n])
	if strings.IndexByte(decoded, '.') < 0 && strings.IndexByte(decoded, '%') < 0 {
		return 0, 0, "", false
	}
	from, to := findCompact(decoded)
	if from < 0 {
		return 0, 0, "", false
	}

	first, last := from/3*4, (to+2)/3*4 // the groups that encode the token
	start = run.start
	if first > 0 {
		start = run.ends[first-1]
	}
	end = run.end
	if last < len(run.chars) && strings.TrimSpace(decoded[to:]) != "" {
		end = run.ends[last-1]
	}
	return start, end, compactForm(decoded[from:to]), true
}
