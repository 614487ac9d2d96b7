package recorder

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
)

// Log attribute keys, kept in one place so that every line of this package
// names the same thing the same way.
const (
	keyComponent     = "component"
	keyQueueSize     = "queue_size"
	keyBatchSize     = "batch_size"
	keyFlushInterval = "flush_interval"
	keyOverflow      = "overflow"
	keyDropped       = "dropped"
	keyDroppedTotal  = "dropped_total"
	keyEvents        = "events"
	keyInvalid       = "invalid"
	keyEventID       = "event_id"
	keyFirstEventID  = "first_event_id"
	keyTokenID       = "token_id"
	keyField         = "field"
	keyValue         = "value"
	keyReason        = "reason"
	keyAttempt       = "attempt"
	keyAttempts      = "attempts"
	keyBackoff       = "backoff"
	keyInserted      = "inserted"
	keyDuplicates    = "duplicates"
	keyWritten       = "written"
	keyLost          = "lost"
	keyError         = "error"
)

// redactToken returns s, or "sha256:" and its fingerprint when s has the
// shape of a compact JWS or JWE (with or without a "Bearer " prefix). It
// guards log lines against a caller who put a raw token in a text field, such
// as a Fingerprint or TokenID that holds the token itself.
func redactToken(s string) string {
	if !looksLikeToken(s) {
		return s
	}
	return "sha256:" + audit.Fingerprint(s)
}

// looksLikeToken reports whether s, without a "Bearer " prefix, consists of
// 3 or 5 base64url segments separated by dots, the compact forms of a JWS and
// a JWE.
func looksLikeToken(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
		s = strings.TrimSpace(s[7:])
	}
	if s == "" {
		return false
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return dots == 2 || dots == 4
}

// invalidEventAttrs describes an event that failed validation without
// logging a raw token.
func invalidEventAttrs(e *audit.Event, err error) []slog.Attr {
	attrs := []slog.Attr{
		slog.String(keyEventID, redactToken(e.ID)),
		slog.String(keyTokenID, redactToken(e.TokenID)),
	}
	var fe *audit.FieldError
	if errors.As(err, &fe) {
		return append(attrs,
			slog.String(keyField, fe.Field),
			slog.String(keyValue, redactToken(fe.Value)),
			slog.String(keyReason, fe.Reason))
	}
	// Validate returns only *FieldError today. Any other error's text stays
	// out of the log, because it could quote a field.
	return append(attrs, slog.String(keyReason, "failed validation"))
}
