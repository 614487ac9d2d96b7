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
func plan(r *record) (facts []fact, skip string, err error) {
	typ := r.get("type")
	if op := r.get("operationType"); op != "" || typ == "ADMIN_EVENT" || typ == "AdminEvent" {
		return nil, strings.TrimSpace(fmt.Sprintf("admin event %s %s", op, r.get("resourceType"))) + " names no token", nil
	}
	if typ == "" {
		return nil, "", errNoType
	}

	access, refresh, updated := r.get("token_id"), r.get("refresh_token_id"), r.get("updated_refresh_token_id")
	switch {
	case strings.HasSuffix(typ, "_ERROR"):
		presented := access
		if (typ == "REFRESH_TOKEN_ERROR" && refresh != "") || presented == "" {
			presented = refresh
		}
		if presented == "" {
			return nil, typ + " event names no token", nil
		}
		return []fact{{kind: audit.KindRejected, tokenID: presented, role: "rejected"}}, "", nil

	case typ == "REFRESH_TOKEN":
		if access == "" && refresh == "" && updated == "" {
			return nil, "REFRESH_TOKEN event carries no token ids (token_id, refresh_token_id, updated_refresh_token_id)", nil
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
		return facts, "", nil

	case typ == "LOGOUT" || typ == "TOKEN_REVOKE" || typ == "REVOKE_GRANT":
		if access == "" && refresh == "" {
			return nil, revokeSkipReason(r, typ), nil
		}
		if access != "" {
			facts = append(facts, fact{kind: audit.KindRevoked, tokenID: access, role: "revoked-access"})
		}
		if refresh != "" {
			facts = append(facts, fact{kind: audit.KindRevoked, tokenID: refresh, role: "revoked-refresh"})
		}
		return facts, "", nil

	case typ == "INTROSPECT_TOKEN" || typ == "USER_INFO_REQUEST":
		used := access
		if used == "" {
			used = refresh
		}
		if used == "" {
			return nil, typ + " event carries no token_id", nil
		}
		return []fact{{kind: audit.KindUsed, tokenID: used, role: "used"}}, "", nil

	case typ == "CODE_TO_TOKEN" || typ == "CLIENT_LOGIN" || typ == "TOKEN_EXCHANGE" || access != "" || refresh != "":
		if access == "" && refresh == "" {
			return nil, typ + " event carries no token ids (token_id, refresh_token_id)", nil
		}
		if access != "" {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: access, role: "access"})
		}
		if refresh != "" {
			facts = append(facts, fact{kind: audit.KindIssued, tokenID: refresh, role: "refresh"})
		}
		return facts, "", nil
	}
	return nil, typ + " event names no token", nil
}

// revokeSkipReason names the session of a logout or revocation without token
// ids, so that the user can revoke or investigate that session's tokens.
func revokeSkipReason(r *record, typ string) string {
	switch {
	case r.session() != "":
		return fmt.Sprintf("%s event of session %s carries no token ids, so no token is marked revoked", typ, r.session())
	case r.get("authSessionParentId") != "":
		return fmt.Sprintf("%s event of auth session %s carries no token ids, so no token is marked revoked", typ, r.get("authSessionParentId"))
	default:
		return typ + " event carries no token ids and no session id"
	}
}

// session returns the user session: sessionId, else the code_id that
// Keycloak sets to the same session on code and token events.
func (r *record) session() string {
	if s := r.get("sessionId"); s != "" {
		return s
	}
	return r.get("code_id")
}

// events builds the audit events of facts, all at time t.
func (r *record) events(facts []fact, t time.Time, source string) []audit.Event {
	base := audit.Event{
		Time:      t,
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
		e.Scopes = append([]string(nil), base.Scopes...)
		if len(e.Scopes) == 0 {
			e.Scopes = nil
		}
		e.ID = audit.NewID("keycloak", r.raw, f.role)
		e.Kind = f.kind
		e.TokenID = f.tokenID
		e.ParentTokenID = f.parent
		r.fillKind(&e, f)
		out = append(out, e)
	}
	return out
}

// fillKind sets the fields that depend on the fact's kind and role.
func (r *record) fillKind(e *audit.Event, f fact) {
	// Keycloak's refresh grant logs the new access token's lifetime
	// (access_token_expiration_time = exp - iat) and the redeemed refresh
	// token's age (age_of_refresh_token = new iat - old iat), in seconds.
	// Token times are whole seconds, so the event time is cut to the second.
	issuedSecond := e.Time.Truncate(time.Second)
	switch {
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
