package tokenuse

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Claims is the identity of the token a request presents, as the
// middleware records it and checks it against revocations. Empty fields are
// unknown. It never holds the token itself.
type Claims struct {
	TokenID     string    // the jti claim
	Fingerprint string    // lowercase hex SHA-256 of the compact token, as audit.Fingerprint returns it
	Issuer      string    // iss
	Subject     string    // sub
	ClientID    string    // azp, else client_id
	SessionID   string    // sid
	Family      string    // id of the root refresh token of the token's lineage, when the application tracks it
	IssuedAt    time.Time // iat
	NotBefore   time.Time // nbf
	ExpiresAt   time.Time // exp
}

// Identified reports whether c names a token, by jti or fingerprint.
func (c *Claims) Identified() bool { return c.TokenID != "" || c.Fingerprint != "" }

// errMalformed is returned by ReadClaims when the token's payload is not
// base64url-encoded JSON. The token is then known by its fingerprint alone.
var errMalformed = errors.New("token payload is not base64url-encoded JSON")

// BearerToken returns the token of an Authorization header value of the
// Bearer scheme (RFC 6750), and false for any other value.
func BearerToken(authorization string) (string, bool) {
	const scheme = "bearer "
	if len(authorization) <= len(scheme) || !strings.EqualFold(authorization[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimSpace(authorization[len(scheme):])
	return token, token != ""
}

// stackPayload is the largest decoded payload that ReadClaims decodes on
// the stack. Access tokens of common identity providers decode to less
// than 1 KiB; larger ones cost one more allocation.
const stackPayload = 2048

// The claims that ReadClaims extracts, as indices into its spans.
const (
	claimJTI = iota
	claimSub
	claimIss
	claimAzp
	claimClientID
	claimSid
	claimCount
)

// The time claims that ReadClaims extracts.
const (
	timeIat = iota + 1
	timeNbf
	timeExp
)

// claimOf returns the string claim index and the time claim that name is,
// -1 and 0 for a claim ReadClaims does not read. A switch on string(name)
// reads name in place, without the copy that a conversion would make.
func claimOf(name []byte) (claim, isTime int) {
	switch string(name) {
	case "jti":
		return claimJTI, 0
	case "sub":
		return claimSub, 0
	case "iss":
		return claimIss, 0
	case "azp":
		return claimAzp, 0
	case "client_id":
		return claimClientID, 0
	case "sid":
		return claimSid, 0
	case "iat":
		return -1, timeIat
	case "nbf":
		return -1, timeNbf
	case "exp":
		return -1, timeExp
	}
	return -1, 0
}

// ReadClaims reads the registered claims of a compact JWS into c without
// verifying the signature: the application or a later verifier does that.
// It reads jti, sub, iss, azp or client_id, sid, iat, nbf and exp, and
// ignores a claim whose value has another JSON type than the claim's.
// When a claim appears twice, the last one wins, as with encoding/json.
// The strings it sets share one allocation and none refers to token.
//
// It returns errMalformed when the payload is not a base64url-encoded JSON
// object. It does not set Fingerprint.
func ReadClaims(token string, c *Claims) error {
	first := strings.IndexByte(token, '.')
	if first < 0 {
		return errMalformed
	}
	rest := token[first+1:]
	second := strings.IndexByte(rest, '.')
	if second < 0 {
		return errMalformed
	}
	payload := strings.TrimRight(rest[:second], "=")

	var stack [stackPayload]byte
	buf := stack[:]
	if n := base64.RawURLEncoding.DecodedLen(len(payload)); n > len(buf) {
		buf = make([]byte, n)
	}
	n, ok := decodeBase64URL(buf, payload)
	if !ok {
		return errMalformed
	}
	return scanClaims(buf[:n], c)
}

// decodeBase64URL decodes unpadded base64url text into dst, which must hold
// base64.RawURLEncoding.DecodedLen(len(src)) bytes, with the decoder that
// golang-jwt uses by default, so that both accept the same payloads. It
// passes src to the decoder as a read-only byte view instead of a copy,
// which would cost an allocation per request.
func decodeBase64URL(dst []byte, src string) (int, bool) {
	n, err := base64.RawURLEncoding.Decode(dst, unsafe.Slice(unsafe.StringData(src), len(src)))
	return n, err == nil
}

// span locates a string claim in the decoded payload, or holds its
// unescaped value when the JSON string had escapes.
type span struct {
	start, end int
	unescaped  string
	escaped    bool
	set        bool
}

// scanClaims reads the claims from a JSON object. It validates the JSON
// only as far as it needs to find the claims.
func scanClaims(data []byte, c *Claims) error {
	s := scanner{data: data}
	var spans [claimCount]span
	var iat, nbf, exp float64
	var haveIat, haveNbf, haveExp bool

	s.skipSpace()
	if !s.consume('{') {
		return errMalformed
	}
	s.skipSpace()
	if s.consume('}') {
		return s.end()
	}
	for {
		s.skipSpace()
		keyStart, keyEnd, keyEscaped, ok := s.string()
		if !ok {
			return errMalformed
		}
		key := data[keyStart:keyEnd]
		var unescapedKey string
		if keyEscaped {
			if unescapedKey, ok = unescape(data[keyStart-1 : keyEnd+1]); !ok {
				return errMalformed
			}
		}
		s.skipSpace()
		if !s.consume(':') {
			return errMalformed
		}
		s.skipSpace()

		if keyEscaped {
			key = []byte(unescapedKey)
		}
		claim, isTime := claimOf(key)

		valueStart := s.pos
		if !s.skipValue() {
			return errMalformed
		}
		value := data[valueStart:s.pos]

		switch {
		case claim >= 0:
			spans[claim] = stringSpan(data, valueStart, s.pos)
		case isTime != 0:
			f, ok := number(value)
			switch isTime {
			case timeIat:
				iat, haveIat = f, ok
			case timeNbf:
				nbf, haveNbf = f, ok
			case timeExp:
				exp, haveExp = f, ok
			}
		}

		s.skipSpace()
		if s.consume('}') {
			break
		}
		if !s.consume(',') {
			return errMalformed
		}
	}
	if err := s.end(); err != nil {
		return err
	}

	fillStrings(data, &spans, c)
	if haveIat {
		c.IssuedAt = SecondsToTime(iat)
	}
	if haveNbf {
		c.NotBefore = SecondsToTime(nbf)
	}
	if haveExp {
		c.ExpiresAt = SecondsToTime(exp)
	}
	return nil
}

// stringSpan returns the span of the JSON value data[start:end] when it is a
// string, and an unset span otherwise, so that a claim of another type
// counts as absent, as a later duplicate of it does.
func stringSpan(data []byte, start, end int) span {
	value := data[start:end]
	if len(value) < 2 || value[0] != '"' {
		return span{}
	}
	inner := value[1 : len(value)-1]
	hasEscape, hasMultibyte := false, false
	for _, b := range inner {
		switch {
		case b == '\\':
			hasEscape = true
		case b >= utf8.RuneSelf:
			hasMultibyte = true
		}
	}
	if !hasEscape && (!hasMultibyte || utf8.Valid(inner)) {
		return span{start: start + 1, end: end - 1, set: true}
	}
	// Escapes or invalid UTF-8: encoding/json's rules apply, including
	// the replacement of invalid bytes by U+FFFD.
	s, ok := unescape(value)
	if !ok {
		return span{}
	}
	return span{unescaped: s, escaped: true, set: true}
}

// fillStrings copies the string claims into one allocation and points the
// fields of c into it.
func fillStrings(data []byte, spans *[claimCount]span, c *Claims) {
	total := 0
	for _, sp := range spans {
		if sp.set && !sp.escaped {
			total += sp.end - sp.start
		}
	}
	var b strings.Builder
	b.Grow(total)
	for _, sp := range spans {
		if sp.set && !sp.escaped {
			b.Write(data[sp.start:sp.end])
		}
	}
	all := b.String()

	offset := 0
	value := func(sp span) string {
		switch {
		case !sp.set:
			return ""
		case sp.escaped:
			return sp.unescaped
		}
		v := all[offset : offset+sp.end-sp.start]
		offset += sp.end - sp.start
		return v
	}
	c.TokenID = value(spans[claimJTI])
	c.Subject = value(spans[claimSub])
	c.Issuer = value(spans[claimIss])
	c.ClientID = value(spans[claimAzp])
	if clientID := value(spans[claimClientID]); c.ClientID == "" {
		c.ClientID = clientID
	}
	c.SessionID = value(spans[claimSid])
}

// unescape decodes a quoted JSON string with encoding/json, the slow path
// for strings with escapes. It copies quoted first, because json.Unmarshal
// would make the caller's buffer escape to the heap, and that buffer is on
// ReadClaims' stack.
func unescape(quoted []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(bytes.Clone(quoted), &s); err != nil {
		return "", false
	}
	return s, true
}

// number parses a JSON number, and reports false for any other value.
func number(value []byte) (float64, bool) {
	if len(value) == 0 || (value[0] != '-' && (value[0] < '0' || value[0] > '9')) {
		return 0, false
	}
	// Integers of up to 15 digits, the usual form of a NumericDate, are
	// exact in a float64 and need no strconv.
	if len(value) <= 15 {
		n := 0.0
		digits := true
		for _, b := range value {
			if b < '0' || b > '9' {
				digits = false
				break
			}
			n = n*10 + float64(b-'0')
		}
		if digits {
			return n, true
		}
	}
	f, err := strconv.ParseFloat(string(value), 64)
	return f, err == nil
}

// maxNumericDate bounds the NumericDate values taken as times: 9e9
// seconds is in the year 2255, inside the range that every store keeps.
const maxNumericDate = 9e9

// SecondsToTime converts a NumericDate (seconds since the Unix epoch, RFC
// 7519) to a UTC time truncated to the second, as golang-jwt does by
// default. A negative, non-finite or far-future value gives the zero time.
func SecondsToTime(f float64) time.Time {
	if math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}
	}
	return time.Unix(int64(f), 0).UTC()
}

// scanner walks a JSON text.
type scanner struct {
	data []byte
	pos  int
}

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

func (s *scanner) consume(b byte) bool {
	if s.pos < len(s.data) && s.data[s.pos] == b {
		s.pos++
		return true
	}
	return false
}

// end checks that only white space follows the value.
func (s *scanner) end() error {
	s.skipSpace()
	if s.pos != len(s.data) {
		return errMalformed
	}
	return nil
}

// string reads a JSON string and returns the bounds of its contents,
// without the quotes, and whether it contains escapes. Unlike
// encoding/json, it accepts raw control characters: a payload that only
// this scanner accepts is one that a verifier built on encoding/json
// rejects anyway.
func (s *scanner) string() (start, end int, escaped, ok bool) {
	if !s.consume('"') {
		return 0, 0, false, false
	}
	start = s.pos
	data := s.data
	i := s.pos
	for {
		i = skipPlain(data, i)
		if i >= len(data) {
			return 0, 0, false, false
		}
		if data[i] == '"' {
			s.pos = i + 1
			return start, i, escaped, true
		}
		// A backslash: skip it and the character it escapes, which may
		// be a quote.
		escaped = true
		i += 2
	}
}

// skipPlain returns the index of the first quote or backslash in data at
// or after i, or len(data). It tests eight bytes at a time: a byte of x
// equals c exactly when the same byte of x^(c*ones) is zero, and
// (v-ones) &^ v & highs is nonzero exactly when some byte of v is zero.
func skipPlain(data []byte, i int) int {
	const (
		ones    = 0x0101010101010101
		highs   = 0x8080808080808080
		quotes  = ones * '"'
		slashes = ones * '\\'
	)
	for ; i+8 <= len(data); i += 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		q, b := x^quotes, x^slashes
		if ((q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for ; i < len(data); i++ {
		if c := data[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// maxDepth bounds the nesting of the values skipped, so that a hostile
// token cannot make the scan recurse without limit.
const maxDepth = 64

// skipValue moves past one JSON value.
func (s *scanner) skipValue() bool {
	return s.skipValueDepth(0)
}

func (s *scanner) skipValueDepth(depth int) bool {
	if depth > maxDepth || s.pos >= len(s.data) {
		return false
	}
	switch b := s.data[s.pos]; {
	case b == '"':
		_, _, _, ok := s.string()
		return ok
	case b == '{':
		return s.skipComposite('}', depth, true)
	case b == '[':
		return s.skipComposite(']', depth, false)
	case b == 't':
		return s.literal("true")
	case b == 'f':
		return s.literal("false")
	case b == 'n':
		return s.literal("null")
	case b == '-' || (b >= '0' && b <= '9'):
		return s.number()
	}
	return false
}

// skipComposite moves past an object (keyed) or an array.
func (s *scanner) skipComposite(closing byte, depth int, keyed bool) bool {
	s.pos++
	s.skipSpace()
	if s.consume(closing) {
		return true
	}
	for {
		s.skipSpace()
		if keyed {
			if _, _, _, ok := s.string(); !ok {
				return false
			}
			s.skipSpace()
			if !s.consume(':') {
				return false
			}
			s.skipSpace()
		}
		if !s.skipValueDepth(depth + 1) {
			return false
		}
		s.skipSpace()
		if s.consume(closing) {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

// number moves past a JSON number, checking its grammar.
func (s *scanner) number() bool {
	s.consume('-')
	switch {
	case s.consume('0'):
	case s.digits() == 0:
		return false
	}
	if s.consume('.') && s.digits() == 0 {
		return false
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}
