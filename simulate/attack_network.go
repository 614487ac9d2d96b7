package simulate

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The attacks from one network on many tokens.

// rejectedBurst: a script sends forged tokens, with bad signatures, alg
// none, mangled encodings or unknown key ids, 40 to 120 a minute for one
// and a half to three minutes, from one server.
func (g *generator) rejectedBurst(a *attack) bool {
	c := g.attacker(pick(a.s, hostingSites), pick(a.s, []string{uaRequests, uaGoClient}))
	a.label.Network = netip.PrefixFrom(c.ip, c.ip.BitLen())

	var names []string
	for _, s := range g.subjects {
		if s.persona.isUser() {
			names = append(names, s.name)
		}
	}
	names = append(names, "admin", "root", "service")

	length := a.s.between(90*time.Second, 3*time.Minute)
	n := int(float64(a.s.intBetween(40, 120)) * length.Minutes())
	start := g.cfg.Start.AddDate(0, 0, a.day).Add(a.s.between(2*time.Hour, 22*time.Hour))
	for i := range n {
		t := start.Add(length * time.Duration(i) / time.Duration(n))
		forged := &token{jti: a.s.uuid(), issuer: issuerIdP, subject: pick(a.s, names), clientID: "acme-web",
			iat: t.Add(-time.Minute).Truncate(time.Second)}
		forged.exp = forged.iat.Add(time.Hour)

		var reason audit.RejectReason
		switch x := a.s.rng.Float64(); {
		case x < 0.45:
			reason = audit.RejectBadSignature
		case x < 0.75:
			reason = audit.RejectAlgNone
		case x < 0.90:
			reason = audit.RejectMalformed
		default:
			reason = audit.RejectUnknownKey
		}
		gw := a.s.rng.IntN(gatewayCount)
		path := pick(a.s, userPaths)
		e := g.gatewayEvent(a.s, audit.KindRejected, t, gw, forged, c, path.method, path.path, 401)
		e.RejectReason = reason
		if reason == audit.RejectMalformed {
			// A token that does not decode names no claims, only its
			// fingerprint.
			e.TokenID, e.Issuer, e.Subject, e.ClientID, e.Audience = "", "", "", "", nil
			e.IssuedAt, e.ExpiresAt = time.Time{}, time.Time{}
			e.Fingerprint = a.s.hex64()
		}
		g.addAttack(a, e)
	}
	a.label.Description = fmt.Sprintf("%s (AS%d, %s) sends %d forged or mangled tokens within %s with %s.",
		c.ip, c.geo.ASN, c.geo.Country, n, length.Round(time.Second), c.ua)
	return true
}

// sharedIP: a credential-stuffing run signs in as 24 to 40 people with
// leaked passwords through one proxy within minutes, and calls the API with
// each session's token.
func (g *generator) sharedIP(a *attack) bool {
	var cands []*subject
	for _, s := range g.subjects {
		// A leaked password list serves many runs, so a subject may be
		// stuffed twice.
		if s.persona.isUser() && !s.victim {
			cands = append(cands, s)
		}
	}
	n := a.s.intBetween(24, 40)
	if len(cands) < n {
		return false
	}
	victims := make([]*subject, 0, n)
	for _, i := range a.s.rng.Perm(len(cands))[:n] {
		victims = append(victims, cands[i])
	}
	slices.SortFunc(victims, func(x, y *subject) int { return x.index - y.index })

	c := g.attacker(pick(a.s, slices.Concat(hostingSites, proxySites)), pick(a.s, []string{uaHeadless, browsers[0].before}))
	a.label.Network = netip.PrefixFrom(c.ip, c.ip.BitLen())
	d := &device{clientID: "acme-web", scopes: []string{"openid", "profile", "orders:read", "orders:write"},
		accessLife: 10 * time.Minute, refreshIdle: time.Hour, sessionMax: 10 * time.Hour}
	t := g.cfg.Start.AddDate(0, 0, a.day).Add(a.s.between(3*time.Hour, 20*time.Hour))
	for _, v := range victims {
		v.stuffed = true
		t = t.Add(a.s.between(5*time.Second, 15*time.Second))
		d.sid, d.signedIn = a.s.uuid(), t
		at := mint(a.s, t, v.name, d, false, "")
		rt := mint(a.s, t, v.name, d, true, "")
		g.addAttack(a, idpEvent(a.s, audit.KindIssued, t, at, c))
		g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(time.Millisecond), rt, c))
		u := t
		for range a.s.intBetween(1, 3) {
			u = u.Add(a.s.between(2*time.Second, 20*time.Second))
			g.attackUse(a, u, at, c)
		}
	}
	a.label.Description = fmt.Sprintf("A credential-stuffing run signs in as %d people through %s (AS%d, %s) with %s and calls the API with each token.",
		n, c.ip, c.geo.ASN, c.geo.Country, familyOf(c.ua))
	return true
}
