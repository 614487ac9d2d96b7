package entra

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// The sign-in types of the Microsoft Graph API (signInEventTypes) and the
// diagnostic-settings category of each, so that a sign-in read from either
// source gets the same event ID.
var signInEventTypes = map[string]string{
	"interactiveUser":    CategorySignIn,
	"nonInteractiveUser": CategoryNonInteractiveUserSignIn,
	"servicePrincipal":   CategoryServicePrincipalSignIn,
	"managedIdentity":    CategoryManagedIdentitySignIn,
}

// graphAPICategory returns the category of a sign-in object of the Microsoft
// Graph API, which has no category field: from its signInEventTypes, else
// from isInteractive and the kind of principal.
func graphAPICategory(obj *fastjson.Value) string {
	for _, t := range obj.GetArray("signInEventTypes") {
		if category, ok := signInEventTypes[text(t)]; ok {
			return category
		}
	}
	return principalCategory(text(obj.Get("userId")), text(obj.Get("servicePrincipalId")), obj.Get("isInteractive"))
}

// principalCategory guesses the category of a sign-in that does not name
// it: a service-principal sign-in when it names a service principal and no
// user, else a non-interactive sign-in when interactive is false (a JSON
// boolean or the string "false"), else an interactive one. A managed-identity
// sign-in is not distinguished from other service-principal sign-ins.
func principalCategory(userID, servicePrincipalID string, interactive *fastjson.Value) string {
	switch {
	case userID == "" && servicePrincipalID != "":
		return CategoryServicePrincipalSignIn
	case isFalse(interactive):
		return CategoryNonInteractiveUserSignIn
	default:
		return CategorySignIn
	}
}

func isFalse(v *fastjson.Value) bool {
	if v == nil {
		return false
	}
	return v.Type() == fastjson.TypeFalse ||
		v.Type() == fastjson.TypeString && strings.EqualFold(string(v.GetStringBytes()), "false")
}

// signIn converts one sign-in. record is the whole diagnostic record, and
// props is its properties object. For a sign-in object of the Graph API,
// both are the object and prefix is "". It returns the event, or the reason
// to skip the record, or an error that rejects it.
func (p *parser) signIn(line int, record, props *fastjson.Value, prefix, category string) (e audit.Event, skip string, err error) {
	id := text(props.Get("id"))
	if id == "" {
		return e, "", fmt.Errorf("field %sid is missing, so the sign-in cannot be given a stable event ID", prefix)
	}
	errorCode, err := signInErrorCode(record, props, prefix)
	if err != nil {
		return e, "", err
	}
	at, timeErr := signInTime(record, props, prefix)

	e = audit.Event{
		ID:   audit.NewID(Name, category, id),
		Time: at,
		Action: signInAction(category, text(props.Get("incomingTokenType")),
			text(props.Get("authenticationProtocol")), text(props.Get("clientCredentialType"))),
		SessionID: text(props.Get("sessionId")),
		Issuer:    p.issuer(record, props),
		Subject:   firstText(props, "userId", "servicePrincipalId"),
		ClientID:  text(props.Get("appId")),
		IP:        address(text(props.Get("ipAddress"))),
		UserAgent: text(props.Get("userAgent")),
		Geo:       geo(props.Get("location"), props.Get("autonomousSystemNumber")),
		TraceID:   text(props.Get("correlationId")),
		Source:    source.Location(p.file, line),
	}
	if !e.IP.IsValid() && record != props {
		e.IP = address(text(record.Get("callerIpAddress")))
	}
	if e.TraceID == "" && record != props {
		e.TraceID = text(record.Get("correlationId"))
	}
	if resource := firstText(props, "resourceId", "resourceDisplayName"); resource != "" {
		e.Audience = []string{resource}
	}

	return completeSignIn(e, signInOutcome{
		category:  category,
		errorCode: errorCode,
		failure:   firstText(props.Get("status"), "failureReason"),
		access:    text(props.Get("conditionalAccessStatus")),
		tokenID:   tokenIdentifier(text(props.Get("uniqueTokenIdentifier"))),
		timeErr:   timeErr,
	})
}

// signInOutcome is the part of a sign-in that decides the kind and the
// reason of its event, whichever shape the sign-in was read from.
type signInOutcome struct {
	category  string
	errorCode int64  // 0 when the sign-in succeeded
	failure   string // the failure reason of the sign-in's status
	access    string // the conditional-access status
	tokenID   string // the uniqueTokenIdentifier, as tokenIdentifier returns it
	timeErr   error  // the error of reading the sign-in's time, or nil
}

// completeSignIn sets the kind, the token and the reason of e, the event of
// a sign-in whose other fields are set. It returns the reason to skip the
// sign-in when it names no token and no session, and otherwise an error when
// its time could not be read.
func completeSignIn(e audit.Event, o signInOutcome) (audit.Event, string, error) {
	// A record that yields no event is skipped even when its time is bad.
	// Skip reasons name no record, so that an import counts them by reason.
	switch {
	case o.errorCode == 0 && o.tokenID == "" && e.SessionID == "":
		return audit.Event{}, o.category + " sign-in succeeded but has no uniqueTokenIdentifier or sessionId, so the token it issued cannot be named", nil
	case o.errorCode != 0 && e.SessionID == "":
		return audit.Event{}, fmt.Sprintf("%s sign-in failed with error %d and has no sessionId, so it concerns no token or session", o.category, o.errorCode), nil
	}
	if o.timeErr != nil {
		return audit.Event{}, "", o.timeErr
	}

	switch {
	case o.errorCode == 0 && o.tokenID == "":
		// Older records lack the token's identifier. The sign-in still
		// belongs to its session's context.
		e.Kind = audit.KindSession
		e.Reason = "succeeded, token not named"
		if o.access != "" {
			e.Reason += " (conditional access: " + o.access + ")"
		}
		return e, "", nil
	case o.errorCode == 0:
		e.Kind = audit.KindIssued
		e.TokenID = o.tokenID
		if o.access != "" {
			e.Reason = "conditional access: " + o.access
		}
		return e, "", nil
	}

	// A failed or interrupted sign-in, such as one that conditional access
	// blocked or that waits for a second factor, issues no token.
	e.Kind = audit.KindSession
	e.Reason = "error " + strconv.FormatInt(o.errorCode, 10)
	if o.failure != "" {
		e.Reason += ": " + o.failure
	}
	if o.access != "" {
		e.Reason += " (conditional access: " + o.access + ")"
	}
	return e, "", nil
}

// signInTime returns when the sign-in happened: createdDateTime, else the
// time at which the diagnostic record was written, which is a few minutes
// later.
func signInTime(record, props *fastjson.Value, prefix string) (time.Time, error) {
	if record != props && text(props.Get("createdDateTime")) == "" && text(record.Get("time")) != "" {
		return eventTime("", record, "time")
	}
	return eventTime(prefix, props, "createdDateTime")
}

// signInErrorCode returns the error code of a sign-in, 0 when it succeeded:
// status.errorCode, else the resultType of the diagnostic record.
func signInErrorCode(record, props *fastjson.Value, prefix string) (int64, error) {
	if code, ok := integer(props.Get("status", "errorCode")); ok {
		return code, nil
	}
	if record != props {
		if code, ok := integer(record.Get("resultType")); ok {
			return code, nil
		}
	}
	if v := props.Get("status", "errorCode"); v != nil && v.Type() != fastjson.TypeNull {
		return 0, fmt.Errorf("field %sstatus.errorCode is a JSON %s, want an integer", prefix, v.Type())
	}
	return 0, fmt.Errorf("field %sstatus.errorCode is missing, so it is unknown whether the sign-in issued a token", prefix)
}

// signInAction names what happened: the category, followed by the details
// that tell how the token was obtained, where the record gives them, such
// as "NonInteractiveUserSignInLogs incomingTokenType=primaryRefreshToken".
// The details are named as the diagnostic records name them in every shape.
func signInAction(category, incomingTokenType, authenticationProtocol, clientCredentialType string) string {
	action := category
	details := [...]struct{ name, value string }{
		{"incomingTokenType", incomingTokenType},
		{"authenticationProtocol", authenticationProtocol},
		{"clientCredentialType", clientCredentialType},
	}
	for _, d := range details {
		if d.value != "" && d.value != "none" {
			action += " " + d.name + "=" + d.value
		}
	}
	return action
}

// issuer returns the issuer of the tenant whose logs the record belongs to:
// the tenantId of the diagnostic record, else that of its properties.
func (p *parser) issuer(record, props *fastjson.Value) string {
	tenant := textBytes(record.Get("tenantId"))
	if tenant == nil {
		tenant = textBytes(props.Get("tenantId"))
	}
	return p.tenantIssuer(tenant)
}

// tenantIssuer returns the issuer of tenant, or "" for a nil tenant. The
// last issuer is kept, because a file usually holds the logs of one tenant,
// and so most events share one string.
func (p *parser) tenantIssuer(tenant []byte) string {
	if tenant == nil {
		return ""
	}
	if string(tenant) != p.lastTenant {
		p.lastTenant = string(tenant)
		p.lastIssuer = issuer(p.lastTenant)
	}
	return p.lastIssuer
}

// firstText returns the first of the keys of obj that holds a value.
func firstText(obj *fastjson.Value, keys ...string) string {
	for _, k := range keys {
		if s := text(obj.Get(k)); s != "" {
			return s
		}
	}
	return ""
}
