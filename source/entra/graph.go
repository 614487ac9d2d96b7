package entra

import (
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// graphActivity converts one Microsoft Graph activity record: a request
// made to Microsoft Graph with an access token. It returns the event, or the
// reason to skip the record, or an error that rejects it.
func (p *parser) graphActivity(line int, record, props *fastjson.Value) (e audit.Event, skip string, err error) {
	requestID := firstText(props, "requestId")
	if requestID == "" {
		requestID = text(record.Get("correlationId"))
	}
	if requestID == "" {
		return e, "", fmt.Errorf("field properties.requestId is missing, so the request cannot be given a stable event ID")
	}
	tokenID := tokenIdentifier(text(props.Get("signInActivityId")))
	if tokenID == "" {
		return e, "Graph request has no signInActivityId, so it names no token", nil
	}

	at, err := graphTime(record, props)
	if err != nil {
		return e, "", err
	}

	e = audit.Event{
		ID:        audit.NewID(Name, CategoryGraphActivity, requestID),
		Time:      at,
		Kind:      audit.KindUsed,
		Action:    CategoryGraphActivity,
		TokenID:   tokenID,
		Issuer:    p.issuer(record, props),
		Subject:   firstText(props, "userId", "servicePrincipalId", "appId"),
		ClientID:  text(props.Get("appId")),
		SessionID: firstText(props, "C_Sid", "sessionId"),
		Scopes:    fields(firstText(props, "scopes", "roles")),
		IssuedAt:  tokenIssuedAt(props),
		IP:        address(firstText(props, "ipAddress")),
		UserAgent: text(props.Get("userAgent")),
		Method:    text(props.Get("requestMethod")),
		Path:      text(props.Get("requestUri")),
		TraceID:   requestID,
		Source:    source.Location(p.file, line),
	}
	if !e.IP.IsValid() {
		e.IP = address(text(record.Get("callerIpAddress")))
	}

	status, ok := integer(props.Get("responseStatusCode"))
	if !ok {
		status, ok = integer(record.Get("resultSignature"))
	}
	if ok {
		setGraphStatus(&e, status)
	}
	return e, "", nil
}

// setGraphStatus sets the HTTP status of e, the event of a Graph request,
// when status is one, and makes e a rejection when Graph returned 401.
func setGraphStatus(e *audit.Event, status int64) {
	if status >= 100 && status <= 599 {
		e.Status = int(status)
	}
	// Microsoft Graph returns 401 for a token it does not accept. A 403
	// comes after the token was accepted, for a request it lacks the
	// permission for: a use, whose address belongs in the token's usage.
	if e.Status == 401 {
		e.Kind = audit.KindRejected
		e.RejectReason = audit.RejectOther
	}
}

// graphTime returns when the request was received: the record's time, else
// the timeGenerated of its properties.
func graphTime(record, props *fastjson.Value) (time.Time, error) {
	if text(record.Get("time")) == "" && text(props.Get("timeGenerated")) != "" {
		return eventTime("properties.", props, "timeGenerated")
	}
	return eventTime("", record, "time")
}

// tokenIssuedAt returns when the token was issued: its iat claim (C_Iat, in
// Unix seconds), else tokenIssuedAt. A value that cannot be read is dropped,
// because the request is a real event without it.
func tokenIssuedAt(props *fastjson.Value) time.Time {
	if iat, ok := integer(props.Get("C_Iat")); ok && iat > 0 && iat < 1<<33 {
		return time.Unix(iat, 0).UTC()
	}
	return parseIssuedAt(text(props.Get("tokenIssuedAt")))
}

// parseIssuedAt reads a tokenIssuedAt time. A value that cannot be read is
// dropped, because the request is a real event without it.
func parseIssuedAt(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}
