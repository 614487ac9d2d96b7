package audit

import (
	"slices"
	"strings"
)

// RevocationMethod is the way a revocation was made. The empty value means
// "not known".
type RevocationMethod string

// The revocation methods.
const (
	RevokedByAPI       RevocationMethod = "api"       // a revocation endpoint (RFC 7009) or an API call
	RevokedByAdmin     RevocationMethod = "admin"     // an administrator, in a console or with the CLI
	RevokedByLogout    RevocationMethod = "logout"    // the user ended the session
	RevokedByAutomated RevocationMethod = "automated" // a rule or a remediation step
)

// Valid reports whether m is empty or one of the defined methods.
func (m RevocationMethod) Valid() bool {
	switch m {
	case "", RevokedByAPI, RevokedByAdmin, RevokedByLogout, RevokedByAutomated:
		return true
	}
	return false
}

// RevocationScope is what a revoked event revokes: one token, or every token
// of a refresh family, a sign-in session or a subject. The empty value means
// RevokeToken, the scope of revocations that identity providers log.
type RevocationScope string

// The revocation scopes, with the fields of a revoked event that name the
// target of each.
const (
	// RevokeToken revokes the token named by TokenID, Fingerprint or both.
	RevokeToken RevocationScope = "token"

	// RevokeFamily revokes every token of the refresh lineage whose root
	// refresh token has the id TokenID, that root token included.
	RevokeFamily RevocationScope = "family"

	// RevokeSession revokes every token of the sign-in session SessionID.
	RevokeSession RevocationScope = "session"

	// RevokeSubject revokes every token of Subject issued before NotBefore,
	// or before the event's Time when NotBefore is zero.
	RevokeSubject RevocationScope = "subject"
)

// Valid reports whether s is empty or one of the defined scopes.
func (s RevocationScope) Valid() bool {
	switch s {
	case "", RevokeToken, RevokeFamily, RevokeSession, RevokeSubject:
		return true
	}
	return false
}

// RejectReason is the cause of refusing a presented token. The empty value means
// "not known".
type RejectReason string

// The reject reasons.
const (
	RejectBadSignature RejectReason = "bad_signature"
	RejectExpired      RejectReason = "expired"
	RejectNotYetValid  RejectReason = "not_yet_valid"
	RejectRevoked      RejectReason = "revoked"
	RejectMalformed    RejectReason = "malformed"
	RejectUnknownKey   RejectReason = "unknown_key"
	RejectAlgNone      RejectReason = "alg_none"
	RejectInvalidGrant RejectReason = "invalid_grant" // an identity provider refused a code or refresh token
	RejectReused       RejectReason = "reused"        // a refresh token was presented again after it was redeemed
	// RejectInsufficientScope is a valid token refused for an action its
	// scopes do not allow (RFC 6750's insufficient_scope, usually a 403).
	RejectInsufficientScope RejectReason = "insufficient_scope"
	RejectOther             RejectReason = "other"
)

// RejectReasons lists every defined RejectReason.
var RejectReasons = []RejectReason{
	RejectBadSignature, RejectExpired, RejectNotYetValid, RejectRevoked, RejectMalformed,
	RejectUnknownKey, RejectAlgNone, RejectInvalidGrant, RejectReused, RejectInsufficientScope, RejectOther,
}

// rejectReasonList is the defined reject reasons for error messages.
var rejectReasonList = func() string {
	names := make([]string, len(RejectReasons))
	for i, r := range RejectReasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}()

// Valid reports whether r is empty or one of the defined reasons.
func (r RejectReason) Valid() bool {
	return r == "" || slices.Contains(RejectReasons, r)
}
