package auth0

import "strings"

// class is the importer's category of an Auth0 log type code.
type class uint8

const (
	classOther          class = iota // not a token or session event: skipped
	classIssued                      // a successful exchange at the token endpoint
	classRefreshed                   // sertft: a refresh token redeemed
	classExchangeFailed              // a failed exchange at the token endpoint
	classReused                      // ferrt: a rotating refresh token refused, as on reuse
	classRevoked                     // srrt: a refresh token revoked
	classAPIUsed                     // sapi: a Management API call that succeeded
	classAPIFailed                   // fapi: a Management API call that failed
	classSession                     // a login, logout, signup or second-factor fact
)

// exchangeCodes lists the token-endpoint exchange codes of Auth0's "Log Type
// Codes" reference (auth0.com/docs/deploy-monitor/logs/log-event-type-codes)
// whose name does not follow the se...ft and fe...ft pattern that classify
// also accepts. true marks a success.
var exchangeCodes = map[string]bool{
	"sede":                                true, // device code
	"sens":                                true, // native social login
	"secte":                               true, // custom token exchange
	"ciba_exchange_succeeded":             true,
	"success_on_behalf_of_token_exchange": true,
	"fede":                                false,
	"fens":                                false,
	"fecte":                               false,
	"ciba_exchange_failed":                false,
	"failed_on_behalf_of_token_exchange":  false,
}

// sessionCode describes a code of a sign-in session fact.
type sessionCode struct {
	failure bool   // the record reports a failure, whose description is the reason
	reason  string // the event's Reason when the record has no description
}

// sessionCodes lists the login, logout, signup and second-factor codes that
// become session events when the record names a session. The gd_ codes of
// Auth0 Guardian (multi-factor authentication) are recognised by prefix.
var sessionCodes = map[string]sessionCode{
	"s":    {reason: "login succeeded"},
	"ss":   {reason: "signup succeeded"},
	"ssa":  {reason: "silent authentication succeeded"},
	"scoa": {reason: "cross-origin authentication succeeded"},
	"slo":  {reason: "logout succeeded"},
	"mfar": {reason: "second factor required"},
	"w":    {reason: "login warning"},
	"f":    {failure: true, reason: "login failed"},
	"fp":   {failure: true, reason: "login failed: wrong password"},
	"fu":   {failure: true, reason: "login failed: invalid email or username"},
	"fc":   {failure: true, reason: "login failed at the connector"},
	"fco":  {failure: true, reason: "login failed: origin not allowed (CORS)"},
	"fcoa": {failure: true, reason: "cross-origin authentication failed"},
	"fsa":  {failure: true, reason: "silent authentication failed"},
	"fs":   {failure: true, reason: "signup failed"},
	"flo":  {failure: true, reason: "logout failed"},
	"fn":   {failure: true, reason: "sending a notification failed"},

	"oidc_backchannel_logout_succeeded": {reason: "OIDC back-channel logout succeeded"},
	"oidc_backchannel_logout_failed":    {failure: true, reason: "OIDC back-channel logout failed"},
}

// classify returns the class of the log type code.
func classify(code string) class {
	switch code {
	case "sertft":
		return classRefreshed
	case "ferrt":
		// NOTE: every ferrt is read as reuse. Auth0's reference names reuse
		// detection as a cause of this failed exchange, not as the only one.
		return classReused
	case "srrt":
		return classRevoked
	case "sapi":
		return classAPIUsed
	case "fapi":
		return classAPIFailed
	}
	if success, ok := exchangeCodes[code]; ok {
		if success {
			return classIssued
		}
		return classExchangeFailed
	}
	if isExchange(code, "se") {
		return classIssued
	}
	if isExchange(code, "fe") {
		return classExchangeFailed
	}
	if _, ok := sessionCodes[code]; ok || strings.HasPrefix(code, "gd_") {
		return classSession
	}
	return classOther
}

// isExchange reports whether code is prefix, at least one letter, and "ft"
// ("for token"), as seacft, sepft or fertft are.
func isExchange(code, prefix string) bool {
	if len(code) < len(prefix)+3 || !strings.HasPrefix(code, prefix) || !strings.HasSuffix(code, "ft") {
		return false
	}
	for _, c := range code[len(prefix) : len(code)-2] {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// sessionReason returns the Reason of a session event of code.
func sessionReason(code, description string) string {
	sc, ok := sessionCodes[code]
	if !ok {
		// A Guardian (gd_) code: its description is the outcome.
		if description != "" {
			return description
		}
		return "multi-factor authentication event " + code
	}
	if sc.failure && description != "" {
		return description
	}
	return sc.reason
}
