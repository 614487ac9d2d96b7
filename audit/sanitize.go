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
//   - A JWT is found in the forms logs write it in: compact, with its dots
//     written "%2E" or with white space around them, and wrapped in base64
//     (see nextWrapped). Its fingerprint is always that of the compact
//     token, so every form links with a plain sighting of the token.
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

func (e *Event) textPointers() [18]textPointer {
	return [...]textPointer{
		{"ID", &e.ID}, {"Action", &e.Action}, {"TokenID", &e.TokenID}, {"Issuer", &e.Issuer}, {"Subject", &e.Subject},
		{"ClientID", &e.ClientID}, {"SessionID", &e.SessionID}, {"ParentTokenID", &e.ParentTokenID},
		{"UserAgent", &e.UserAgent}, {"Method", &e.Method}, {"Path", &e.Path}, {"TraceID", &e.TraceID},
		{"Actor", &e.Actor}, {"Reason", &e.Reason}, {"Source", &e.Source},
		{"Geo.Country", &e.Geo.Country}, {"Geo.City", &e.Geo.City}, {"Geo.Org", &e.Geo.Org},
	}
}

// wholeToken reports whether s is one raw JWT, in any form that scanner.next
// finds, with or without a "Bearer " prefix, and returns its claims.
func wholeToken(s string) (Claims, bool) {
	start, end, token := newScanner(s).next(0)
	if start < 0 {
		return Claims{}, false
	}
	rest := strings.TrimSpace(s[:start])
	if rest != "" && !strings.EqualFold(rest, "bearer") {
		return Claims{}, false
	}
	// A dot after the token is the end of a sentence it was copied from.
	if strings.Trim(s[end:], " .\t\r\n") != "" {
		return Claims{}, false
	}
	c, err := ParseToken(token)
	if err != nil {
		// Shaped like a JWT but unreadable: the fingerprint still
		// identifies it.
		return Claims{Fingerprint: Fingerprint(token)}, true
	}
	return c, true
}

// sanitizeText returns s with raw JWTs replaced, invalid UTF-8 replaced and
// over-long text cut, and whether anything changed.
func sanitizeText(s string) (string, bool) {
	changed := false
	if redacted := RedactTokens(s); redacted != s {
		s, changed = redacted, true
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
		changed = true
	}
	// PostgreSQL text cannot hold NUL, and a store that refused it would
	// refuse the whole batch, so it becomes U+FFFD as invalid UTF-8 does.
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
		changed = true
	}
	if len(s) > maxFieldBytes {
		// 64 bytes leave room for the marker.
		cut := maxFieldBytes - 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + cutMarkerStart + strconv.Itoa(len(s)-cut) + cutMarkerEnd
		// The cut can end a token's text where the original went on, so
		// the search runs again: what Validate would call a raw JWT must
		// not reach a store, which would refuse the whole batch for it.
		if ContainsToken(s) {
			s = RedactTokens(s)
		}
		changed = true
	}
	return s, changed
}

// The marker that sanitizeText appends to text it cuts, around the number
// of bytes cut. It starts with an ellipsis, not dots, so that it cannot
// supply the dot that a token's segments need. legacyCutMarkerStart is
// the marker of events stored before.
const (
	cutMarkerStart       = "\u2026[cut "
	legacyCutMarkerStart = "...[cut "
	cutMarkerEnd         = " bytes]"
)

// WasCut reports whether s is text that Sanitize cut at 8 KiB: it ends
// with the marker "…[cut N bytes]" ("...[cut N bytes]" before), and what
// precedes the marker has the length that Sanitize keeps. Such a value is
// not the one its source recorded, so it must not be used as an id,
// subject or other claim.
func WasCut(s string) bool {
	_, ok := CutMarker(s)
	return ok
}

// CutMarker returns the marker at the end of s, such as "…[cut 120
// bytes]", when Sanitize cut s (see WasCut).
func CutMarker(s string) (string, bool) {
	rest, ok := strings.CutSuffix(s, cutMarkerEnd)
	if !ok {
		return "", false
	}
	for _, start := range []string{cutMarkerStart, legacyCutMarkerStart} {
		i := strings.LastIndex(rest, start)
		if i < 0 {
			continue
		}
		n, err := strconv.Atoi(rest[i+len(start):])
		// sanitizeText keeps maxFieldBytes-64 bytes, less up to 3 to end
		// on a rune boundary, and cuts more than 64.
		if err == nil && n > 64 && i <= maxFieldBytes-64 && i >= maxFieldBytes-64-(utf8.UTFMax-1) {
			return s[i:], true
		}
	}
	return "", false
}

// separatorAt returns the length of the segment separator at s[i], or 0
// when there is none, and whether it has white space. The separator is a
// dot or "%2E", the dot as URL encoding writes it in some query strings and
// logs. White space (spaces, tabs, line breaks) may come before and after
// it, as in a token copied across lines.
func separatorAt(s string, i int) (n int, spaced bool) {
	dot := skipSpace(s, i)
	var dotLen int
	switch {
	case dot < len(s) && s[dot] == '.':
		dotLen = 1
	case dot+2 < len(s) && s[dot] == '%' && s[dot+1] == '2' && (s[dot+2] == 'E' || s[dot+2] == 'e'):
		dotLen = 3
	default:
		return 0, false
	}
	end := skipSpace(s, dot+dotLen)
	return end - i, end-i > dotLen
}

// skipSpace returns the index of the first byte of s from i on that is not
// a space, tab or line break.
func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// compactForm returns a token found by findCompact with "%2E" separators
// decoded and white space removed, so that its fingerprint and claims are
// those of the token.
func compactForm(token string) string {
	if strings.IndexByte(token, '%') < 0 && strings.IndexAny(token, " \t\n\r") < 0 {
		return token
	}
	var b strings.Builder
	b.Grow(len(token))
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case isSpace(c):
		case c == '%':
			// separatorAt admits no other escape.
			b.WriteByte('.')
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isBase64URL(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// ContainsToken reports whether s holds a raw JWT anywhere, in any form
// that Sanitize finds. Validate checks every text field with it, and
// callers can use it to reject such input before echoing it.
func ContainsToken(s string) bool {
	if len(s) < minTokenLength {
		return false
	}
	start, _, _ := newScanner(s).next(0)
	return start >= 0
}

// WasRedacted reports whether s contains the marker that RedactTokens puts
// in place of a raw JWT: "[jwt sha256:", 16 lowercase hex digits and "]".
// Such a value is not the one its source recorded, so no command can
// name it.
func WasRedacted(s string) bool {
	const prefix = "[jwt sha256:"
	for {
		i := strings.Index(s, prefix)
		if i < 0 {
			return false
		}
		s = s[i+len(prefix):]
		if len(s) > 16 && s[16] == ']' && isLowerHex(s[:16]) {
			return true
		}
	}
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// RedactTokens returns s with every raw JWT, in any form that Sanitize
// finds, replaced by "[jwt sha256:" and the first 16 hex digits of the
// fingerprint of the compact token, "]". Use it on text that may echo user
// input, such as an error message. Its cost is linear in the length of s.
func RedactTokens(s string) string {
	if len(s) < minTokenLength {
		// Most fields of an event, such as its method and country.
		return s
	}
	return newScanner(s).redact()
}

// redact returns the scanner's text with every raw JWT replaced, in one
// pass: a replaced token leaves no token before it (see next).
func (sc *scanner) redact() string {
	start, end, token := sc.next(0)
	if start < 0 {
		return sc.text
	}
	var b strings.Builder
	b.Grow(len(sc.text))
	from := 0
	for start >= 0 {
		b.WriteString(sc.text[from:start])
		b.WriteString("[jwt sha256:")
		b.WriteString(Fingerprint(token)[:16])
		b.WriteString("]")
		from = end
		start, end, token = sc.next(from)
	}
	b.WriteString(sc.text[from:])
	sc.work += len(sc.text)
	return b.String()
}
