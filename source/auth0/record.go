package auth0

import (
	"fmt"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// exchangeIDPrefix starts the TokenID that names the tokens of one
// token-endpoint exchange whose log contains no token id. The TokenID is
// "auth0:" and the exchange's log_id.
const exchangeIDPrefix = "auth0:"

// parser holds the state of one Parse call.
type parser struct {
	file string
	h    source.Handler
	json fastjson.Parser // reused for every record

	// events holds the events of the current record, at most two, so that
	// converting a record allocates no slice for them.
	events [2]audit.Event
}

// record converts one log record, found at line, and hands the outcome to the
// Handler: its events, a skip or a rejection. The record may be wrapped in an
// EventBridge or Event Grid event, as unwrap describes. It returns only the Handler's
// error. jsonrecords.Read passes only valid JSON objects in valid UTF-8, so
// the checks of the JSON here are for direct calls.
func (p *parser) record(line int, raw []byte) error {
	root, err := p.json.ParseBytes(raw)
	if err != nil {
		// The parser's message quotes the input, which may hold a token.
		p.reject(line, "invalid JSON: "+audit.RedactTokens(err.Error()))
		return nil
	}
	if root.Type() != fastjson.TypeObject {
		p.reject(line, fmt.Sprintf("record is a JSON %s, not a log object", root.Type()))
		return nil
	}

	record, skip, err := unwrap(root)
	if err != nil {
		p.reject(line, err.Error())
		return nil
	}
	if skip != "" {
		p.h.Skip(line, skip)
		return nil
	}

	events, skip, err := convert(record, source.Location(p.file, line), p.events[:0])
	if err != nil {
		p.reject(line, err.Error())
		return nil
	}
	if skip != "" {
		p.h.Skip(line, skip)
		return nil
	}
	for i := range events {
		if err := events[i].Prepare(); err != nil {
			p.reject(line, fmt.Sprintf("%s event is invalid: %v", events[i].Kind, err))
			return nil
		}
	}
	for _, e := range events {
		if err := p.h.Event(e); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) reject(line int, reason string) {
	p.h.Reject(&source.RecordError{File: p.file, Line: line, Reason: reason})
}

// logObject returns the log object of a record: the record itself as the
// Management API returns it, or its "data" object when a log stream wrapped
// it as {"log_id": ..., "data": {...}}.
func logObject(root *fastjson.Value) *fastjson.Value {
	if root.Get("type") != nil {
		return root
	}
	if data := root.Get("data"); data != nil && data.Type() == fastjson.TypeObject {
		return data
	}
	return root
}

// logID returns the log_id of a record. A wrapped record repeats it inside
// "data". A record without log_id falls back to "_id", which some
// Management API responses carry beside it.
func logID(root, v *fastjson.Value) (string, error) {
	if id := text(v, "log_id"); id != "" {
		return id, nil
	}
	if id := text(root, "log_id"); id != "" {
		return id, nil
	}
	if id := text(v, "_id"); id != "" {
		return id, nil
	}
	// requiredText describes what is wrong with the field.
	_, err := requiredText(v, "log_id")
	return "", err
}

// convert appends the events of one record to out, or returns why the
// record is skipped, or an error naming the field that makes it unreadable.
// location is the record's "file:line".
func convert(root *fastjson.Value, location string, out []audit.Event) ([]audit.Event, string, error) {
	v := logObject(root)
	id, err := logID(root, v)
	if err != nil {
		return nil, "", err
	}
	code, err := requiredText(v, "type")
	if err != nil {
		return nil, "", fmt.Errorf("log %s: %w", id, err)
	}

	class := classify(code)
	if class == classOther {
		return nil, code + ": not a token or session event", nil
	}

	date, err := requiredText(v, "date")
	if err != nil {
		return nil, "", fmt.Errorf("log %s (%s): %w", id, code, err)
	}
	at, err := eventTime(date)
	if err != nil {
		return nil, "", fmt.Errorf("log %s (%s): %w", id, code, err)
	}

	e := audit.Event{
		ID:        audit.NewID("auth0", id),
		Time:      at,
		Action:    code,
		Subject:   text(v, "user_id"),
		ClientID:  text(v, "client_id"),
		SessionID: sessionID(v),
		Audience:  list(v, "audience"),
		Scopes:    list(v, "scope"),
		IP:        parseIP(text(v, "ip")),
		UserAgent: text(v, "user_agent"),
		Geo:       geo(v),
		Source:    location,
	}
	if host := text(v, "hostname"); host != "" {
		e.Issuer = "https://" + host + "/"
	}
	description := text(v, "description")

	switch class {
	case classIssued:
		e.Kind = audit.KindIssued
		e.TokenID = exchangeIDPrefix + id
		if jti := text(v, "details", "access_token_jti"); jti != "" {
			e.TokenID = jti
		}
		return append(out, e), "", nil

	case classRefreshed:
		return refreshEvents(out, e, v, id), "", nil

	case classExchangeFailed, classReused:
		// NOTE: sertft and ferrt logs carry details.familyId and
		// tokenCounter, which locate a rotating refresh token in its family.
		// They are not read, so a reuse is not linked to the refresh it
		// repeats except by subject, client and time.
		e.Kind = audit.KindRejected
		e.TokenID = exchangeIDPrefix + id
		e.RejectReason = audit.RejectInvalidGrant
		if class == classReused {
			e.RejectReason = audit.RejectReused
		}
		e.Reason = description
		return append(out, e), "", nil

	case classRevoked:
		e.Kind = audit.KindRevoked
		e.TokenID = exchangeIDPrefix + id
		e.RevocationMethod = audit.RevokedByAPI
		e.Reason = description
		return append(out, e), "", nil

	case classAPIUsed, classAPIFailed:
		return apiEvent(out, e, v, class, description)

	default: // classSession
		if e.SessionID == "" {
			return nil, code + ": no session id", nil
		}
		e.Kind = audit.KindSession
		e.Reason = sessionReason(code, description)
		return append(out, e), "", nil
	}
}

// refreshEvents appends to out the events of a refresh-token exchange
// (sertft). The first is the refresh, whose TokenID names the exchange.
// When the log names the jti of the access token it minted
// (details.access_token_jti), the second is that token's issuance, with the
// exchange as its parent.
func refreshEvents(out []audit.Event, e audit.Event, v *fastjson.Value, id string) []audit.Event {
	e.Kind = audit.KindRefreshed
	e.TokenID = exchangeIDPrefix + id

	jti := text(v, "details", "access_token_jti")
	if jti == "" {
		return append(out, e)
	}
	issued := e
	issued.ID = audit.NewID("auth0", id, "access_token")
	issued.Kind = audit.KindIssued
	issued.TokenID = jti
	issued.ParentTokenID = e.TokenID
	// The slices are shared with e, and Sanitize may rewrite them in place.
	issued.Audience = append([]string(nil), e.Audience...)
	issued.Scopes = append([]string(nil), e.Scopes...)
	return append(out, e, issued)
}

// apiEvent appends to out the event of a Management API call (sapi or fapi):
// a use or a rejection of the API token named by the jti of its credentials.
func apiEvent(out []audit.Event, e audit.Event, v *fastjson.Value, class class, description string) ([]audit.Event, string, error) {
	jti := text(v, "details", "request", "auth", "credentials", "jti")
	if jti == "" {
		return nil, e.Action + ": no Management API token id (details.request.auth.credentials.jti)", nil
	}
	e.TokenID = jti
	e.Kind = audit.KindUsed
	if class == classAPIFailed {
		e.Kind = audit.KindRejected
		e.Reason = description
		if e.Reason == "" {
			e.Reason = text(v, "details", "response", "body", "message")
		}
	}

	if user := text(v, "details", "request", "auth", "user", "user_id"); user != "" {
		e.Subject = user
	}
	if !e.IP.IsValid() {
		e.IP = parseIP(text(v, "details", "request", "ip"))
	}
	if e.UserAgent == "" {
		e.UserAgent = text(v, "details", "request", "userAgent")
	}
	e.Method = strings.ToUpper(text(v, "details", "request", "method"))
	e.Path = text(v, "details", "request", "path")
	if status, ok := number(v.Get("details", "response"), "statusCode"); ok && status >= 100 && status <= 599 {
		e.Status = int(status)
	}
	return append(out, e), "", nil
}
