package entra

import (
	"fmt"
	"strconv"
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
	switch {
	case text(obj.Get("userId")) == "" && text(obj.Get("servicePrincipalId")) != "":
		return CategoryServicePrincipalSignIn
	case obj.Get("isInteractive") != nil && obj.Get("isInteractive").Type() == fastjson.TypeFalse:
		return CategoryNonInteractiveUserSignIn
	default:
		return CategorySignIn
	}
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
	tokenID := tokenIdentifier(text(props.Get("uniqueTokenIdentifier")))
	sessionID := text(props.Get("sessionId"))

	// A record that yields no event is skipped even when its time is bad.
	// Skip reasons name no record, so that an import counts them by reason.
	switch {
	case errorCode == 0 && tokenID == "" && sessionID == "":
		return e, category + " sign-in succeeded but has no uniqueTokenIdentifier or sessionId, so the token it issued cannot be named", nil
	case errorCode != 0 && sessionID == "":
		return e, fmt.Sprintf("%s sign-in failed with error %d and has no sessionId, so it concerns no token or session", category, errorCode), nil
	}

	at, err := signInTime(record, props, prefix)
	if err != nil {
		return e, "", err
	}

	e = audit.Event{
		ID:        audit.NewID(Name, category, id),
		Time:      at,
		Action:    signInAction(category, props),
		SessionID: sessionID,
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
	access := text(props.Get("conditionalAccessStatus"))

	switch {
	case errorCode == 0 && tokenID == "":
		// Older records lack the token's identifier. The sign-in still
		// belongs to its session's context.
		e.Kind = audit.KindSession
		e.Reason = "succeeded, token not named"
		if access != "" {
			e.Reason += " (conditional access: " + access + ")"
		}
		return e, "", nil
	case errorCode == 0:
		e.Kind = audit.KindIssued
		e.TokenID = tokenID
		if access != "" {
			e.Reason = "conditional access: " + access
		}
		return e, "", nil
	}

	// A failed or interrupted sign-in, such as one that conditional access
	// blocked or that waits for a second factor, issues no token.
	e.Kind = audit.KindSession
	e.Reason = "error " + strconv.FormatInt(errorCode, 10)
	if failure := firstText(props.Get("status"), "failureReason"); failure != "" {
		e.Reason += ": " + failure
	}
	if access != "" {
		e.Reason += " (conditional access: " + access + ")"
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
func signInAction(category string, props *fastjson.Value) string {
	action := category
	for _, key := range [...]string{"incomingTokenType", "authenticationProtocol", "clientCredentialType"} {
		if v := text(props.Get(key)); v != "" && v != "none" {
			action += " " + key + "=" + v
		}
	}
	return action
}

// issuer returns the issuer of the tenant whose logs the record belongs to:
// the tenantId of the diagnostic record, else that of its properties. The
// last issuer is kept, because a file usually holds the logs of one tenant,
// and so most events share one string.
func (p *parser) issuer(record, props *fastjson.Value) string {
	tenant := textBytes(record.Get("tenantId"))
	if tenant == nil {
		tenant = textBytes(props.Get("tenantId"))
	}
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
