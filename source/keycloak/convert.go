package keycloak

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// fact is one audit event that a record yields, before the record's common
// fields are filled in.
type fact struct {
	kind    audit.Kind
	tokenID string
	parent  string
	role    string // distinguishes the IDs of the events of one record
}

// plan decides what a record yields: the facts, or the reason to skip it.
// It needs no time, so a record that yields nothing is skipped even when its
// time is missing or bad.
//
// A user event that names no token but names a session (a login, a failed
// login, a logout without token ids) yields one session fact, so that the
// report can show it beside the tokens of that session.
func plan(r *record) (facts []fact, skip string, err error) {
	typ := r.get("type")
	if op := r.get("operationType"); op != "" || typ == "ADMIN_EVENT" || typ == "AdminEvent" {
		return nil, strings.TrimSpace(fmt.Sprintf("admin event %s %s", op, r.get("resourceType"))) + " names no token", nil
	}
	if typ == "" {
		return nil, "", errNoType
	}

	facts, missing := tokenFacts(r, typ)
	switch {
	case len(facts) > 0:
		return facts, "", nil
	case r.session() == "":
		return nil, typ + " event " + missing + " and no session id", nil
	}
	return []fact{{kind: audit.KindSession, role: "session"}}, "", nil
}

// tokenFacts returns the token facts of a user event of type typ or, when
// it names no token, what it lacks, for the reason of a skip.
func tokenFacts(r *record, typ string) (facts []fact, missing string) {
	access, refresh, updated := r.get("token_id"), r.get("refresh_token_id"), r.get("updated_refresh_token_id")
	switch {
	case strings.HasSuffix(typ, "_ERROR"):
		presented := access
		if (typ == "REFRESH_TOKEN_ERROR" && refresh != "") || presented == "" {
			presented = refresh
		}
		if presented == "" {
			return nil, "names no token"
		}
		return []fact{{kind: audit.KindRejected, tokenID: presented, role: "rejected"}}, ""

	case typ == "REFRESH_TOKEN":
		if access == "" && refresh == "" && updated == "" {
			return nil, "carries no token ids (token_id, refresh_token_id, updated_refresh_token_id)"
		}
		if refresh != "" {
			facts = append(facts, fact{kind: audit.KindRefreshed, tokenID: refresh, role: "refreshed"})
		}
		if access != "" {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: access, parent: refresh, role: "access"})
		}
		// Without rotation the refresh token keeps its id; it was not issued anew.
		if updated != "" && updated != refresh {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: updated, parent: refresh, role: "refresh"})
		}
		return facts, ""

	case typ == "LOGOUT" || typ == "TOKEN_REVOKE" || typ == "REVOKE_GRANT":
		// A logout without token ids names no token to revoke, so it
		// becomes the session fact that ends the session.
		if access == "" && refresh == "" {
			return nil, "carries no token ids"
		}
		if access != "" {
			facts = append(facts, fact{kind: audit.KindRevoked, tokenID: access, role: "revoked-access"})
		}
		if refresh != "" {
			facts = append(facts, fact{kind: audit.KindRevoked, tokenID: refresh, role: "revoked-refresh"})
		}
		return facts, ""

	case typ == "INTROSPECT_TOKEN" || typ == "USER_INFO_REQUEST":
		used := access
		if used == "" {
			used = refresh
		}
		if used == "" {
			return nil, "carries no token_id"
		}
		return []fact{{kind: audit.KindUsed, tokenID: used, role: "used"}}, ""

	case typ == "CODE_TO_TOKEN" || typ == "CLIENT_LOGIN" || typ == "TOKEN_EXCHANGE" || access != "" || refresh != "":
		if access == "" && refresh == "" {
			return nil, "carries no token ids (token_id, refresh_token_id)"
		}
		if access != "" {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: access, role: "access"})
		}
		if refresh != "" {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: refresh, role: "refresh"})
		}
		return facts, ""
	}
	return nil, "names no token"
}

// session returns the user session: sessionId, else the code_id that
// Keycloak sets to the same session on code and token events, else the
// authSessionParentId of login and logout events, which holds that id too.
// A "-", which log shippers write for a missing value, is no session: taken
// as an id, it would join unrelated events into one session.
func (r *record) session() string {
	for _, key := range [...]string{"sessionId", "code_id", "authSessionParentId"} {
		if s := r.get(key); s != "" && s != "-" {
			return s
		}
	}
	return ""
}

// events builds the audit events of facts, all at time t.
func (r *record) events(facts []fact, t time.Time, source string) []audit.Event {
	base := audit.Event{
		Time:      t,
		Action:    r.get("type"),
		Issuer:    r.get("realmName"),
		Subject:   r.get("userId"),
		ClientID:  r.get("clientId"),
		SessionID: r.session(),
		Scopes:    strings.Fields(r.get("scope")),
		Source:    source,
	}
	if base.Issuer == "" {
		base.Issuer = r.get("realmId")
	}
	// Keycloak may log a proxy's value or a placeholder here; a value that is
	// not an address is left out rather than rejecting the event. An IPv4
	// address written as IPv6 (::ffff:a.b.c.d) is stored as IPv4, so that
	// both forms of one client compare equal.
	if ip, err := netip.ParseAddr(r.get("ipAddress")); err == nil {
		base.IP = ip.Unmap()
	}

	out := make([]audit.Event, 0, len(facts))
	for _, f := range facts {
		e := base
		// Each event gets its own copy of the scopes, because Sanitize may
		// rewrite them in place. A session event has none: scope is what a
		// token was granted, and a session event names no token.
		e.Scopes = nil
		if f.kind != audit.KindSession && len(base.Scopes) > 0 {
			e.Scopes = append([]string(nil), base.Scopes...)
		}
		e.ID = audit.NewID("keycloak", r.eventKey(f), f.role)
		e.Kind = f.kind
		e.TokenID = f.tokenID
		e.ParentTokenID = f.parent
		r.fillKind(&e, f)
		out = append(out, e)
	}
	return out
}

// eventKey returns the text that the ID of the event of f is derived from.
// Keycloak mints each token id once, so an issuance, a refresh and a
// revocation are keyed by their token ids. The same event read from the
// server log and from the admin API's event store then gets one ID, although
// the two records differ in layout and, by a few milliseconds, in time. A use, a rejection
// and a session fact can repeat with the same ids, so they are keyed by
// their record.
func (r *record) eventKey(f fact) string {
	switch f.role {
	case "access", "refresh":
		return "issued\n" + f.tokenID
	case "refreshed":
		// A refresh token that is not rotated is redeemed more than once,
		// each time for a new access token.
		if access := r.get("token_id"); access != "" {
			return "refreshed\n" + f.tokenID + "\n" + access
		}
	case "revoked-access", "revoked-refresh":
		return "revoked\n" + r.get("type") + "\n" + f.tokenID
	}
	return r.raw
}

// fillKind sets the fields that depend on the fact's kind and role.
func (r *record) fillKind(e *audit.Event, f fact) {
	// Keycloak's refresh grant logs the new access token's lifetime
	// (access_token_expiration_time = exp - iat) and the redeemed refresh
	// token's age (age_of_refresh_token = new iat - old iat), in seconds.
	// Token times are whole seconds, so the event time is cut to the second.
	issuedSecond := e.Time.Truncate(time.Second)
	switch {
	case f.kind == audit.KindSession:
		// Reason is the outcome: empty for a success, else the error code
		// of a *_ERROR event, such as invalid_user_credentials.
		if strings.HasSuffix(e.Action, "_ERROR") {
			e.Reason = r.get("error")
		}
	case f.kind == audit.KindRejected:
		e.Reason = r.get("error")
		e.RejectReason = rejectReason(e.Reason)
	case f.kind == audit.KindRevoked:
		e.Actor = e.Subject
		e.RevocationMethod = audit.RevokedByAPI
		if r.get("type") == "LOGOUT" {
			e.RevocationMethod = audit.RevokedByLogout
		}
	case f.kind == audit.KindRefreshed:
		if age, ok := seconds(r.get("age_of_refresh_token")); ok {
			e.IssuedAt = issuedSecond.Add(-age)
		}
	case f.kind == audit.KindIssued && f.role == "access" && r.get("type") == "REFRESH_TOKEN":
		if lifetime, ok := seconds(r.get("access_token_expiration_time")); ok {
			e.ExpiresAt = issuedSecond.Add(lifetime)
		}
	}
}

// rejectReason maps a Keycloak error code to the reject reason.
func rejectReason(code string) audit.RejectReason {
	switch {
	case code == "invalid_token" || code == "invalid_grant":
		return audit.RejectInvalidGrant
	case strings.Contains(code, "expired"):
		return audit.RejectExpired
	default:
		return audit.RejectOther
	}
}

// seconds reads a non-negative whole number of seconds. A detail that is not
// one is ignored, because it only refines a time and the event is complete
// without it.
func seconds(s string) (time.Duration, bool) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
