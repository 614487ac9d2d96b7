package audit

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The range of event times that every store can keep: int64 nanoseconds
// since the Unix epoch, from 1677-09-21 to 2262-04-11.
var (
	minEventTime = time.Unix(0, math.MinInt64)
	maxEventTime = time.Unix(0, math.MaxInt64)
)

// Sanitize rewrites what e must not keep, so that a record with one odd
// field is kept instead of rejected. Otherwise an attacker could send an
// over-long or malformed header to drop their token use from the trail. It
// returns the names of the fields it changed.
//
//   - A raw JWT in TokenID or ParentTokenID is replaced by the token's jti,
//     and its fingerprint fills Fingerprint when that is empty (TokenID) or
//     becomes the reference (ParentTokenID, when the token has no jti).
//   - A raw JWT inside any other text, such as an access_token query
//     parameter in Path, is replaced by "[jwt sha256:" and the first 16 hex
//     digits of its fingerprint, "]".
//   - Invalid UTF-8 is replaced by U+FFFD.
//   - Text longer than 8 KiB is cut on a rune boundary and ends with a
//     marker that gives the number of bytes cut.
//
// Sanitize does not fill missing fields: Validate still rejects an event
// without an ID, a time or a token identity.
func (e *Event) Sanitize() []string {
	var changed []string
	note := func(name string) { changed = append(changed, name) }

	if c, ok := wholeToken(e.TokenID); ok {
		e.TokenID = c.TokenID
		if e.Fingerprint == "" {
			e.Fingerprint = c.Fingerprint
		}
		note("TokenID")
	}
	if c, ok := wholeToken(e.ParentTokenID); ok {
		e.ParentTokenID = c.TokenID
		if e.ParentTokenID == "" {
			e.ParentTokenID = "sha256:" + c.Fingerprint
		}
		note("ParentTokenID")
	}

	for _, f := range e.textPointers() {
		if clean, ok := sanitizeText(*f.value); ok {
			*f.value = clean
			note(f.name)
		}
	}
	for i := range e.Audience {
		if clean, ok := sanitizeText(e.Audience[i]); ok {
			e.Audience[i] = clean
			note("Audience")
		}
	}
	for i := range e.Scopes {
		if clean, ok := sanitizeText(e.Scopes[i]); ok {
			e.Scopes[i] = clean
			note("Scopes")
		}
	}
	return changed
}

type textPointer struct {
	name  string
	value *string
}

func (e *Event) textPointers() [17]textPointer {
	return [...]textPointer{
		{"ID", &e.ID}, {"TokenID", &e.TokenID}, {"Issuer", &e.Issuer}, {"Subject", &e.Subject},
		{"ClientID", &e.ClientID}, {"SessionID", &e.SessionID}, {"ParentTokenID", &e.ParentTokenID},
		{"UserAgent", &e.UserAgent}, {"Method", &e.Method}, {"Path", &e.Path}, {"TraceID", &e.TraceID},
		{"Actor", &e.Actor}, {"Reason", &e.Reason}, {"Source", &e.Source},
		{"Geo.Country", &e.Geo.Country}, {"Geo.City", &e.Geo.City}, {"Geo.Org", &e.Geo.Org},
	}
}

// wholeToken reports whether s is one raw compact JWT, with or without a
// "Bearer " prefix, and returns its claims.
func wholeToken(s string) (Claims, bool) {
	start, end := findJWT(s)
	if start < 0 {
		return Claims{}, false
	}
	rest := strings.TrimSpace(s[:start])
	if rest != "" && !strings.EqualFold(rest, "bearer") {
		return Claims{}, false
	}
	if strings.TrimSpace(s[end:]) != "" {
		return Claims{}, false
	}
	c, err := ParseToken(s[start:end])
	if err != nil {
		// Shaped like a JWT but unreadable: the fingerprint still
		// identifies it.
		return Claims{Fingerprint: Fingerprint(s[start:end])}, true
	}
	return c, true
}

// sanitizeText returns s with raw JWTs replaced, invalid UTF-8 replaced and
// over-long text cut, and whether anything changed.
func sanitizeText(s string) (string, bool) {
	changed := false
	for {
		start, end := findJWT(s)
		if start < 0 {
			break
		}
		s = s[:start] + "[jwt sha256:" + Fingerprint(s[start:end])[:16] + "]" + s[end:]
		changed = true
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		changed = true
	}
	if len(s) > maxFieldBytes {
		// 64 bytes leave room for the marker.
		cut := maxFieldBytes - 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "...[cut " + strconv.Itoa(len(s)-cut) + " bytes]"
		changed = true
	}
	return s, changed
}

// findJWT returns the bounds of the first substring of s shaped like a
// compact JWS or JWE: base64url segments separated by dots, the first one
// starting with "eyJ" (the encoding of `{"`), at least three segments, the
// first two non-empty. It returns -1, -1 when there is none.
func findJWT(s string) (start, end int) {
	from := 0
	for {
		i := strings.Index(s[from:], "eyJ")
		if i < 0 {
			return -1, -1
		}
		start = from + i
		if start > 0 && isBase64URL(s[start-1]) {
			// Inside a longer word, such as an id that happens to contain
			// "eyJ": not the start of a token.
			from = start + 3
			continue
		}

		j, segments, lengths := start, 0, [3]int{}
		for {
			k := j
			for k < len(s) && isBase64URL(s[k]) {
				k++
			}
			if segments < 3 {
				lengths[segments] = k - j
			}
			segments++
			j = k
			if j < len(s) && s[j] == '.' && segments < 5 {
				j++
				continue
			}
			break
		}
		if segments >= 3 && lengths[0] >= 10 && lengths[1] >= 2 {
			return start, j
		}
		from = start + 3
	}
}

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// ContainsToken reports whether s holds a raw compact JWT anywhere, as
// Validate checks every text field, so that callers can refuse such input
// before echoing it.
func ContainsToken(s string) bool {
	start, _ := findJWT(s)
	return start >= 0
}
