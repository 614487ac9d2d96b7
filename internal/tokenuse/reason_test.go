package tokenuse

import (
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

func TestChallengeReason(t *testing.T) {
	tests := []struct {
		challenge string
		want      audit.RejectReason
	}{
		{RevokedChallenge, audit.RejectRevoked},
		{`Bearer realm="api", error="invalid_token", error_description="token is expired"`, audit.RejectExpired},
		{`Bearer error="invalid_token", error_description="token signature is invalid"`, audit.RejectBadSignature},
		{`Bearer error="invalid_token", error_description="token is unverifiable: 'none' signature type is not allowed"`, audit.RejectAlgNone},
		{`Bearer error="invalid_token", error_description="token is not valid yet"`, audit.RejectNotYetValid},
		{`Bearer error="invalid_token", error_description="token is malformed: could not base64 decode"`, audit.RejectMalformed},
		{`Bearer error="invalid_token", error_description="the given key ID was not found"`, audit.RejectUnknownKey},
		{`Bearer error="invalid_request"`, audit.RejectMalformed},
		{`Bearer error=invalid_token`, audit.RejectOther},
		{`Bearer error="insufficient_scope", scope="orders:write"`, audit.RejectInsufficientScope},
		{`Bearer realm="a, b", error_description="comma, then \"expired\""`, audit.RejectExpired},
		{`Basic realm="x"`, audit.RejectOther},
		{``, audit.RejectOther},
	}
	for _, tt := range tests {
		if got := ChallengeReason(tt.challenge); got != tt.want {
			t.Errorf("ChallengeReason(%q) = %q, want %q", tt.challenge, got, tt.want)
		}
	}
}

func TestIsLowerHex8(t *testing.T) {
	for c := range 256 {
		s := "0000000" + string([]byte{byte(c)})
		want := c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		if got := isLowerHex8(s); got != want {
			t.Errorf("isLowerHex8(%q) = %v, want %v", s, got, want)
		}
		// The byte in every position, since each has its own lane.
		for i := range 8 {
			b := []byte("abcdef12")
			b[i] = byte(c)
			if got := isLowerHex8(string(b)); got != want {
				t.Errorf("isLowerHex8(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

func TestTraceID(t *testing.T) {
	tests := []struct {
		header, want string
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", ""},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e47/6-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e47:6-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e47`6-00f067aa0ba902b7-01", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e47\xe96-00f067aa0ba902b7-01", ""},
		{"00-0123456789abcdef0000000000000000-00f067aa0ba902b7-01", "0123456789abcdef0000000000000000"},
		{"garbage", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := TraceID(tt.header); got != tt.want {
			t.Errorf("TraceID(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}
