package tokenuse

import (
	"strings"

	"github.com/tokentrail/tokentrail/audit"
)

// RevokedChallenge is the WWW-Authenticate value of a 401 for a revoked
// token, in the form of RFC 6750, section 3.
const RevokedChallenge = `Bearer error="invalid_token", error_description="The access token has been revoked"`

// RevokedDescription is the error description of a revoked token, which
// the gRPC interceptors use as their status message.
const RevokedDescription = "The access token has been revoked"

// ChallengeReason returns the reject reason that a WWW-Authenticate value
// gives. The error_description decides when it names a cause (see
// TextReason). Otherwise the error code decides: invalid_request means a
// malformed request, insufficient_scope a token whose scopes do not allow
// the request, and invalid_token and a missing error give RejectOther. RFC 6750 defines the codes but not the descriptions,
// so reading them is a heuristic: an application that knows the cause
// states it with the middleware's SetRejectReason.
func ChallengeReason(challenge string) audit.RejectReason {
	code, description := challengeParams(challenge)
	if r := TextReason(description); r != audit.RejectOther {
		return r
	}
	switch {
	case strings.EqualFold(code, "invalid_request"):
		return audit.RejectMalformed
	case strings.EqualFold(code, "insufficient_scope"):
		return audit.RejectInsufficientScope
	}
	return audit.RejectOther
}

// reasonWords maps words of an error description, in lower case, to
// reasons. The first match wins, so "revoked" beats the "expired" of "the
// revoked token has not expired".
var reasonWords = []struct {
	word   string
	reason audit.RejectReason
}{
	{"revoked", audit.RejectRevoked},
	{"'none'", audit.RejectAlgNone}, // golang-jwt: "'none' signature type is not allowed"
	{`"none"`, audit.RejectAlgNone},
	{"alg none", audit.RejectAlgNone},
	{"signature", audit.RejectBadSignature},
	{"expired", audit.RejectExpired},
	{"not valid yet", audit.RejectNotYetValid},
	{"not yet valid", audit.RejectNotYetValid},
	{"used before", audit.RejectNotYetValid},
	{"unknown key", audit.RejectUnknownKey},
	{"key not found", audit.RejectUnknownKey},
	{"no matching key", audit.RejectUnknownKey},
	{"unknown kid", audit.RejectUnknownKey},
	{"key id", audit.RejectUnknownKey},
	{"malformed", audit.RejectMalformed},
}

// TextReason returns the reject reason that an error description or
// message names, such as RejectExpired for "token is expired" (golang-jwt's
// wording) or "The access token expired", and RejectOther when it names
// none of them.
func TextReason(text string) audit.RejectReason {
	if text == "" {
		return audit.RejectOther
	}
	lower := strings.ToLower(text)
	for _, w := range reasonWords {
		if strings.Contains(lower, w.word) {
			return w.reason
		}
	}
	return audit.RejectOther
}

// challengeParams returns the error and error_description parameters of a
// WWW-Authenticate value, whatever the scheme and the other parameters.
func challengeParams(challenge string) (code, description string) {
	for challenge != "" {
		var param string
		param, challenge = cutOutsideQuotes(challenge, ',')
		name, value, ok := strings.Cut(param, "=")
		if !ok {
			continue
		}
		// The first parameter of a challenge follows its scheme:
		// "Bearer error=...".
		name = strings.TrimSpace(name)
		if i := strings.LastIndexByte(name, ' '); i >= 0 {
			name = name[i+1:]
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = strings.ReplaceAll(value[1:len(value)-1], `\"`, `"`)
		}
		switch strings.ToLower(name) {
		case "error":
			code = value
		case "error_description":
			description = value
		}
	}
	return code, description
}

// cutOutsideQuotes splits s at the first sep that is not inside a quoted
// string.
func cutOutsideQuotes(s string, sep byte) (before, after string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if inQuote {
				i++
			}
		case '"':
			inQuote = !inQuote
		case sep:
			if !inQuote {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// TraceID returns the trace id of a W3C traceparent header
// ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), or "" when
// the value is not one. The result shares memory with traceparent.
func TraceID(traceparent string) string {
	// version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2.
	if len(traceparent) < 55 || traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-' {
		return ""
	}
	if traceparent[:2] == "ff" || (traceparent[:2] == "00" && len(traceparent) != 55) {
		return ""
	}
	id := traceparent[3:35]
	if !isLowerHex8(id[0:8]) || !isLowerHex8(id[8:16]) || !isLowerHex8(id[16:24]) || !isLowerHex8(id[24:32]) {
		return ""
	}
	if id == "00000000000000000000000000000000" { // invalid by the W3C spec
		return ""
	}
	return id
}

// isLowerHex8 reports whether the 8 bytes of s are all lowercase
// hexadecimal digits, the only ones a traceparent may use. It tests the 8
// bytes at once as one word: adding 0x80-'0' to a byte below 0x80 sets its
// high bit exactly when the byte is at least '0', and no sum carries into
// the next byte.
func isLowerHex8(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	if x&high != 0 {
		return false
	}
	digit := (x + ones*(0x80-'0')) &^ (x + ones*(0x80-'9'-1))
	letter := (x + ones*(0x80-'a')) &^ (x + ones*(0x80-'f'-1))
	return (digit|letter)&high == high
}
