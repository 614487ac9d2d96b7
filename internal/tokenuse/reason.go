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
// malformed request, and invalid_token, insufficient_scope and a missing
// error give RejectOther. RFC 6750 defines the codes but not the descriptions,
// so reading them is a heuristic: an application that knows the cause
// states it with the middleware's SetRejectReason.
func ChallengeReason(challenge string) audit.RejectReason {
	code, description := challengeParams(challenge)
	if r := TextReason(description); r != audit.RejectOther {
		return r
	}
	if strings.EqualFold(code, "invalid_request") {
		return audit.RejectMalformed
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
	var nonzero byte
	for i := 0; i < len(id); i++ {
		if !lowerHex[id[i]] {
			return ""
		}
		nonzero |= id[i] ^ '0'
	}
	if nonzero == 0 {
		return ""
	}
	return id
}

// lowerHex marks the lowercase hexadecimal digits, the only ones a
// traceparent may use.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()
