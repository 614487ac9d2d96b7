package okta

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// category is the importer's class of an eventType.
type category int

const (
	categoryOther   category = iota // skipped
	categorySession                 // context of a sign-in session
	categoryGrant                   // tokens minted, or a refused token request
	categoryRevoke                  // tokens revoked
	categoryReuse                   // a redeemed refresh token presented again
)

// sessionPrefixes are the eventType prefixes of sign-in session facts.
var sessionPrefixes = [...]string{
	"user.session.",
	"user.authentication.",
	"user.mfa.",
	"policy.evaluate_sign_on",
	"policy.auth_reevaluate.",
	"security.session.",
	"system.push.send_factor_verify_push",
	"system.sms.send_factor_verify_message",
	"system.email.send_factor_verify_message",
	"system.voice.send_mfa_challenge_call",
	"app.oauth2.signon",
}

// categorize returns the category of an eventType.
func categorize(eventType string) category {
	if strings.HasPrefix(eventType, "app.oauth2.") {
		switch {
		case strings.HasSuffix(eventType, "token.detect_reuse"):
			return categoryReuse
		case strings.Contains(eventType, ".token.revoke"):
			return categoryRevoke
		case strings.Contains(eventType, ".token.grant"),
			strings.Contains(eventType, ".authorize.implicit."):
			return categoryGrant
		case strings.Contains(eventType, ".authorize"):
			// The authorization code request of a sign-in: it names
			// no token, but belongs to the session.
			return categorySession
		}
	}
	for _, p := range sessionPrefixes {
		if strings.HasPrefix(eventType, p) {
			return categorySession
		}
	}
	return categoryOther
}

// plan is the outcome of one record: its events, or the reason to skip it.
type plan struct {
	events []audit.Event
	skip   string
}

// convert turns r into events or a skip reason in out. src is the record's
// "file:line". It returns a *fieldError when uuid or published is missing
// or invalid in a record that would become an event.
func convert(r *record, src string, out *plan) error {
	*out = plan{events: out.events[:0]}

	cat := categorize(r.eventType)
	if cat == categoryOther {
		out.skip = r.eventType + ": not a token or session event"
		return nil
	}
	if cat == categoryRevoke && failed(r.result) {
		out.skip = r.eventType + ": outcome " + r.result + ", so no token was revoked"
		return nil
	}
	if cat == categorySession && r.session() == "" {
		out.skip = r.eventType + ": no session id"
		return nil
	}

	if r.uuid == "" {
		return &fieldError{field: "uuid", reason: "is missing"}
	}
	if r.published == "" {
		return &fieldError{field: "published", reason: "is missing"}
	}
	t, err := parseTime(r.published)
	if err != nil {
		return &fieldError{field: "published", reason: err.Error()}
	}

	base := r.base(t, src)
	switch cat {
	case categoryGrant:
		r.grant(base, out)
	case categoryRevoke:
		r.revoke(base, out)
	case categoryReuse:
		r.reuse(base, out)
	}
	if len(out.events) > 0 {
		return nil
	}

	// A session fact, or a token event that names no token: the latter is
	// still context of its session, such as a refused authorization code.
	if base.SessionID == "" {
		out.skip = r.eventType + ": no token id in target and no session id"
		return nil
	}
	e := base
	e.ID = audit.NewID("okta", r.uuid)
	e.Kind = audit.KindSession
	e.Subject = r.sessionSubject()
	e.Reason = r.outcome()
	out.events = append(out.events, e)
	return nil
}

// base returns the fields that every event of r shares.
func (r *record) base(t time.Time, src string) audit.Event {
	e := audit.Event{
		Time:      t,
		Action:    r.eventType,
		Issuer:    r.issuer(),
		ClientID:  r.client(),
		SessionID: r.session(),
		IP:        parseIP(r.ip),
		UserAgent: r.userAgent,
		Geo: audit.Geo{
			Country:   r.country,
			City:      r.city,
			Latitude:  r.latitude,
			Longitude: r.longitude,
			ASN:       r.asn,
			Org:       r.asOrg,
		},
		Path:    r.requestURI,
		TraceID: r.transactionID,
		Source:  src,
	}
	if !e.Geo.HasCoordinates() {
		e.Geo.Latitude, e.Geo.Longitude = 0, 0
	}
	if e.TraceID == "" {
		e.TraceID = r.requestID
	}
	return e
}

// grant adds the events of a token request: an issued event for each token
// minted, or a rejected event for each token named by a refused request. A
// refresh_token grant also redeems a refresh token: when the record names
// it, the grant adds a refreshed event for it and makes it the parent of
// the new tokens.
func (r *record) grant(base audit.Event, out *plan) {
	redeemed := ""
	if r.grantType == "refresh_token" {
		redeemed = r.refreshTokenID
	}
	if failed(r.result) {
		r.rejectTokens(base, redeemed, audit.RejectInvalidGrant, out)
		return
	}
	if r.result != "" && r.result != "SUCCESS" && r.result != "ALLOW" {
		// CHALLENGE, SKIPPED or UNKNOWN: no token was minted.
		return
	}

	for i := range r.targets {
		tg := &r.targets[i]
		if tokenKind(tg.typ) == "" || tg.id == "" || tg.id == redeemed {
			// A refresh token that is not rotated comes back unchanged:
			// it was redeemed, not minted.
			continue
		}
		e := base
		e.ID = audit.NewID("okta", r.uuid, tg.id)
		e.Kind = audit.KindIssued
		e.TokenID = tg.id
		e.ParentTokenID = redeemed
		e.Subject = r.tokenSubject(tg)
		e.Scopes = r.scopes()
		if exp, err := parseTime(tg.expires); err == nil {
			e.ExpiresAt = exp
		}
		out.events = append(out.events, e)
	}

	if redeemed != "" {
		e := base
		// Okta logs one record per token type of a response, each
		// naming the redeemed token, so the ID comes from the request
		// (the transaction) for all of them to be one event.
		request := r.transactionID
		if request == "" {
			request = r.uuid
		}
		e.ID = audit.NewID("okta", request, redeemed, "refreshed")
		e.Kind = audit.KindRefreshed
		e.TokenID = redeemed
		e.Subject = r.tokenSubject(nil)
		e.Scopes = r.scopes()
		out.events = append(out.events, e)
	}
}

// revoke adds a revoked event for each token in target.
func (r *record) revoke(base audit.Event, out *plan) {
	method := audit.RevokedByAPI
	switch {
	case strings.Contains(r.eventType, ".revoke.implicit."):
		// Okta revokes the tokens itself when their authorization
		// server, client or user is deactivated or deleted.
		method = audit.RevokedByAutomated
	case r.actorType == "User":
		// A person revoked the token in the Admin Console or through
		// the users API; a client calling /revoke is the actor itself.
		method = audit.RevokedByAdmin
	}
	for i := range r.targets {
		tg := &r.targets[i]
		if tokenKind(tg.typ) == "" || tg.id == "" {
			continue
		}
		e := base
		e.ID = audit.NewID("okta", r.uuid, tg.id)
		e.Kind = audit.KindRevoked
		e.TokenID = tg.id
		e.Subject = r.tokenSubject(tg)
		e.Actor = r.actorID
		e.RevocationMethod = method
		e.Reason = r.reason
		out.events = append(out.events, e)
	}
}

// reuse adds a rejected event for each refresh token that Okta saw
// presented again after it was redeemed.
func (r *record) reuse(base audit.Event, out *plan) {
	r.rejectTokens(base, r.refreshTokenID, audit.RejectReused, out)
}

// rejectTokens adds a rejected event for each token in target and for
// extra, a token the debug data names.
func (r *record) rejectTokens(base audit.Event, extra string, why audit.RejectReason, out *plan) {
	add := func(id string, tg *target) {
		e := base
		e.ID = audit.NewID("okta", r.uuid, id)
		e.Kind = audit.KindRejected
		e.TokenID = id
		e.Subject = r.tokenSubject(tg)
		e.RejectReason = why
		e.Reason = r.reason
		if e.Reason == "" {
			e.Reason = r.result
		}
		e.Scopes = r.scopes()
		out.events = append(out.events, e)
	}
	for i := range r.targets {
		tg := &r.targets[i]
		if tokenKind(tg.typ) == "" || tg.id == "" || tg.id == extra {
			continue
		}
		add(tg.id, tg)
	}
	if extra != "" {
		add(extra, nil)
	}
}

// tokenKind returns "access", "refresh" or "id" for the target types of
// OAuth tokens (access_token, refresh_token, id_token), else "".
func tokenKind(typ string) string {
	switch {
	case strings.EqualFold(typ, "access_token") || strings.EqualFold(typ, "AccessToken"):
		return "access"
	case strings.EqualFold(typ, "refresh_token") || strings.EqualFold(typ, "RefreshToken"):
		return "refresh"
	case strings.EqualFold(typ, "id_token") || strings.EqualFold(typ, "IdToken"):
		return "id"
	}
	return ""
}

// failed reports whether an outcome.result means that Okta refused the
// request.
func failed(result string) bool {
	return result == "FAILURE" || result == "DENY"
}

// outcome returns outcome.result, followed by ": " and outcome.reason when
// there is one, such as "FAILURE: INVALID_CREDENTIALS".
func (r *record) outcome() string {
	if r.reason == "" {
		return r.result
	}
	if r.result == "" {
		return r.reason
	}
	return r.result + ": " + r.reason
}

// session returns the sign-in session: the external session id, else the
// root session id.
func (r *record) session() string {
	if r.externalSessionID != "" {
		return r.externalSessionID
	}
	return r.rootSessionID
}

// sessionSubject returns the user of a session fact: the actor when it is
// a user, else the user the record targets (the actor of a federated
// sign-in is the Okta system), else "".
func (r *record) sessionSubject() string {
	if r.actorType == "User" {
		return r.actorID
	}
	return r.targetID("User", "AppUser")
}

// tokenSubject returns the user a token belongs to: the token target's
// subject, else the User or AppUser target, else a token subject that
// another target names, else the actor. A client application is the actor
// of most token requests but the subject only of client_credentials tokens,
// so for other grants by a client the subject stays "".
func (r *record) tokenSubject(tg *target) string {
	if tg != nil && tg.subject != "" {
		return tg.subject
	}
	if id := r.targetID("User", "AppUser"); id != "" {
		return id
	}
	for i := range r.targets {
		if tokenKind(r.targets[i].typ) != "" && r.targets[i].subject != "" {
			return r.targets[i].subject
		}
	}
	if r.clientActor() && r.grantType != "client_credentials" {
		return ""
	}
	return r.actorID
}

// clientActor reports whether the actor is a client application
// (PublicClientApp, or Client in older records) rather than a person or
// the Okta system.
func (r *record) clientActor() bool {
	return strings.HasSuffix(r.actorType, "ClientApp") || r.actorType == "Client"
}

// targetID returns the id of the first target of the first type in types
// that the record has.
func (r *record) targetID(types ...string) string {
	for _, typ := range types {
		for i := range r.targets {
			if r.targets[i].typ == typ && r.targets[i].id != "" {
				return r.targets[i].id
			}
		}
	}
	return ""
}

// client returns the OAuth client: debugData.clientId, else client.id,
// else the actor when it is a client application, else the AppInstance
// target (an OpenID Connect app's id is its client_id).
func (r *record) client() string {
	switch {
	case r.debugClientID != "":
		return r.debugClientID
	case r.clientID != "":
		return r.clientID
	case r.clientActor():
		return r.actorID
	}
	return r.targetID("AppInstance")
}

// issuer returns the authorization server that minted the tokens:
// debugData.issuer, else debugData.authorizationServerId, else the
// AuthorizationServer target, else the server id in a request path of the
// form /oauth2/{id}/v1/... . Requests to the org authorization server
// (/oauth2/v1/...) name none, so their issuer is "".
func (r *record) issuer() string {
	switch {
	case r.debugIssuer != "":
		return r.debugIssuer
	case r.authServerID != "":
		return r.authServerID
	}
	if id := r.targetID("AuthorizationServer"); id != "" {
		return id
	}
	rest, ok := strings.CutPrefix(r.requestURI, "/oauth2/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	if id == "v1" || id == "" {
		return ""
	}
	return id
}

// scopes returns the granted scopes, else the requested ones. Okta writes
// them as one string, separated by commas, spaces or both.
func (r *record) scopes() []string {
	s := r.grantedScopes
	if s == "" {
		s = r.requestedScopes
	}
	if s == "" {
		return nil
	}
	return strings.FieldsFunc(s, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' })
}

// parseIP returns the address in s, or the zero Addr for anything that is
// not one (Okta writes a placeholder or an internal id for some requests).
// An IPv4-mapped IPv6 address becomes the IPv4 address, and a zone is
// dropped.
func parseIP(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// timeLayouts are the forms of published that the importer reads: RFC 3339
// as Okta writes it, and the same without a zone (read as UTC) or with a
// space in place of the T, as some SIEM exports rewrite it.
var timeLayouts = [...]string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// parseTime reads a time in one of timeLayouts and returns it in UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, &timeError{value: s}
}

// timeError is the error of parseTime.
type timeError struct{ value string }

func (e *timeError) Error() string {
	// Redact before cutting: a cut token is no longer recognised as one.
	s := audit.RedactTokens(e.value)
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "..."
	}
	return "is not a time in RFC 3339 form, such as 2024-05-01T12:00:00.000Z: " + strconv.Quote(s)
}
