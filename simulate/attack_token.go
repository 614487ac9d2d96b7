package simulate

import (
	"fmt"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// The attacks on one token. Each picks a victim among today's access
// tokens and replays the token the way an attacker who stole it would.

// revokedTokenUse: the victim logs out, and an attacker who copied the
// access token earlier keeps using it at a service that does not check
// revocations.
func (g *generator) revokedTokenUse(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool {
		return !l.revoked.IsZero() && l.tok.exp.Sub(l.revoked) >= 5*time.Minute
	})
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	site := pick(a.s, hostingSites)
	c := g.attacker(site, pick(a.s, []string{uaCurl, uaRequests}))
	room := min(v.tok.exp.Sub(v.revoked)-time.Minute, 8*time.Minute)
	t := v.revoked.Add(a.s.between(100*time.Second, room))
	for range a.s.intBetween(2, 5) {
		if t.After(v.tok.exp.Add(-20 * time.Second)) {
			break
		}
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(5*time.Second, 40*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s, copied before the user signed out, is replayed with %s from %s (AS%d, %s) %s after the logout revoked it.",
		v.subject.name, c.ua, c.ip, c.geo.ASN, c.geo.Country, a.label.Start.Sub(v.revoked).Round(time.Second))
	return true
}

// expiredTokenUse: an attacker replays an access token hours after it
// expired, at a service that does not check exp.
func (g *generator) expiredTokenUse(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool { return l.tok.exp.Add(6 * time.Hour).Before(g.end) })
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	site := pick(a.s, slices.Concat(hostingSites, proxySites))
	c := g.attacker(site, uaRequests)
	t := v.tok.exp.Add(a.s.between(time.Hour, 5*time.Hour))
	for range a.s.intBetween(3, 8) {
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(2*time.Second, 20*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s is replayed with %s from %s (AS%d, %s) %s after it expired, at a service that does not check exp.",
		v.subject.name, c.ua, c.ip, c.geo.ASN, c.geo.Country, a.label.Start.Sub(v.tok.exp).Round(time.Minute))
	return true
}

// refreshTokenReuse: an attacker redeems a stolen refresh token. Attacks
// take turns among three cases: the attacker redeems it before the victim
// does, and the identity provider accepts both; the attacker redeems it
// after the victim and the identity provider rejects it as reused; the
// attacker redeems it after the victim and the identity provider, which
// does not detect reuse, accepts it.
func (g *generator) refreshTokenReuse(a *attack) bool {
	variant := a.n % 3
	var cands []*refreshLog
	for _, l := range g.log.refresh {
		if !l.subject.persona.isUser() || l.subject.victim || l.redeemed.IsZero() {
			continue
		}
		switch variant {
		case 0:
			if l.redeemed.Sub(l.issued) >= 40*time.Second {
				cands = append(cands, l)
			}
		case 1:
			cands = append(cands, l)
		case 2:
			if l.tok.exp.Sub(l.redeemed) >= 5*time.Minute {
				cands = append(cands, l)
			}
		}
	}
	if len(cands) == 0 {
		return false
	}
	v := pick(a.s, cands)
	v.subject.victim = true
	a.label.Subject, a.label.Token = v.subject.name, v.tok.jti

	site := pick(a.s, slices.Concat(hostingSites, proxySites))
	c := g.attacker(site, pick(a.s, []string{uaRequests, uaCurl}))
	var what string
	switch variant {
	case 0:
		t := v.issued.Add(a.s.between(10*time.Second, v.redeemed.Sub(v.issued)-10*time.Second))
		g.attackRefresh(a, t, v, c)
		what = "before the victim's client redeems it, and the identity provider accepts both redemptions"
	case 1:
		t := v.redeemed.Add(a.s.between(time.Minute, 2*time.Hour))
		e := idpEvent(a.s, audit.KindRejected, t, v.tok, c)
		e.RejectReason, e.Status = audit.RejectReused, 400
		g.addAttack(a, e)
		what = "after the victim's client redeemed it, and the identity provider rejects it as reused"
	case 2:
		room := min(v.tok.exp.Sub(v.redeemed)-time.Minute, 40*time.Minute)
		t := v.redeemed.Add(a.s.between(30*time.Second, room))
		g.attackRefresh(a, t, v, c)
		what = "after the victim's client redeemed it, and the identity provider, which does not detect reuse, accepts it"
	}
	a.label.Description = fmt.Sprintf("A refresh token of %s is redeemed with %s from %s (AS%d, %s) %s.",
		v.subject.name, c.ua, c.ip, c.geo.ASN, c.geo.Country, what)
	return true
}

// attackRefresh redeems the victim's refresh token for the attacker, who
// gets a new pair and uses the access token.
func (g *generator) attackRefresh(a *attack, t time.Time, v *refreshLog, c client) {
	g.addAttack(a, idpEvent(a.s, audit.KindRefreshed, t, v.tok, c))
	d := v.device
	at := &token{jti: a.s.uuid(), issuer: issuerIdP, subject: v.subject.name, clientID: d.clientID, sid: v.tok.sid,
		parent: v.tok.jti, scopes: d.scopes, iat: t.Truncate(time.Second)}
	at.exp = at.iat.Add(d.accessLife)
	rt := *at
	rt.jti, rt.refresh, rt.exp = a.s.uuid(), true, v.tok.exp
	g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(2*time.Millisecond), at, c))
	g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(3*time.Millisecond), &rt, c))
	u := t
	for range a.s.intBetween(3, 8) {
		u = u.Add(a.s.between(2*time.Second, 30*time.Second))
		g.attackUse(a, u, at, c)
	}
}

// rapidIPChange: an attacker replays an access token through a residential
// proxy service that gives each request another exit in the victim's
// country, copying the victim's user agent.
func (g *generator) rapidIPChange(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool { return l.tok.exp.Sub(l.lastUse().at) >= 6*time.Minute })
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	last := v.lastUse()
	reg := v.subject.region
	exits := regionSites(reg, pick(a.s, reg.cities))
	t := last.at.Add(a.s.between(20*time.Second, time.Minute))
	n := a.s.intBetween(4, 5)
	for i := range n {
		c := g.attacker(exits[i%len(exits)], last.client.ua)
		c.geo = geoOf(exits[i%len(exits)].network, pick(a.s, reg.cities), reg.country)
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(30*time.Second, 70*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s is replayed through %d residential proxy exits in %s within minutes, with the victim's own user agent.",
		v.subject.name, n, reg.country)
	return true
}

// highFrequency: an attacker scrapes the API with a stolen access token at
// 25 to 50 requests a second. The gateways' clocks spread the recorded
// times over up to a minute more than the scrape took.
func (g *generator) highFrequency(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool { return l.tok.exp.Sub(l.lastUse().at) >= 4*time.Minute })
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	c := g.attacker(pick(a.s, hostingSites), uaAiohttp)
	perMinute := a.s.intBetween(1500, 3000)
	spacing := time.Minute / time.Duration(perMinute)
	start := v.lastUse().at.Add(a.s.between(10*time.Second, 30*time.Second))
	for t := start; t.Before(start.Add(2 * time.Minute)); t = t.Add(spacing) {
		gw := a.s.rng.IntN(gatewayCount)
		path := pick(a.s, userPaths)
		g.addAttack(a, g.gatewayEvent(a.s, audit.KindUsed, t, gw, v.tok, c, path.method, path.path, 200))
	}
	a.label.Description = fmt.Sprintf("An access token of %s is used %d times a minute for two minutes with %s from %s (AS%d, %s).",
		v.subject.name, perMinute, c.ua, c.ip, c.geo.ASN, c.geo.Country)
	return true
}

// impossibleTravel: minutes after the victim's last use, an attacker at
// least 3,000 km away replays the access token with the victim's user
// agent.
func (g *generator) impossibleTravel(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool {
		last := l.lastUse()
		return last.client.geo.HasCoordinates() && !g.dep.trusted(last.client.ip) &&
			l.tok.exp.Sub(last.at) >= 3*time.Minute
	})
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	last := v.lastUse()
	from := cityOf(last.client.geo)
	far := farSites(from, 3000)
	if len(far) == 0 {
		return false
	}
	site := pick(a.s, far)
	c := g.attacker(site, last.client.ua)
	room := min(v.tok.exp.Sub(last.at)-30*time.Second, 5*time.Minute)
	t := last.at.Add(a.s.between(time.Minute, room))
	for range a.s.intBetween(1, 3) {
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(5*time.Second, 20*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s, last used in %s, is replayed %.0f km away in %s (AS%d) minutes later, with the victim's user agent.",
		v.subject.name, from.name, distanceKM(from, site.city), site.city.name, c.geo.ASN)
	return true
}

// concurrentUse: an attacker replays the access token while the victim is
// still using it, between two of the victim's requests. Half the attackers
// copy the victim's user agent, so that only the network tells them apart.
func (g *generator) concurrentUse(a *attack) bool {
	type gap struct {
		l      *accessLog
		before time.Time
		length time.Duration
		uses   []use
	}
	var gaps []gap
	for _, l := range g.victimTokens(func(l *accessLog) bool { return len(l.uses) >= 2 }) {
		uses := slices.Clone(l.uses)
		slices.SortFunc(uses, func(x, y use) int { return x.at.Compare(y.at) })
		if !oneClient(uses) {
			continue
		}
		for i := 1; i < len(uses); i++ {
			if d := uses[i].at.Sub(uses[i-1].at); d > 2*time.Second && d <= 40*time.Second {
				gaps = append(gaps, gap{l, uses[i-1].at, d, uses})
				break
			}
		}
	}
	if len(gaps) == 0 {
		return false
	}
	choice := pick(a.s, gaps)
	v := choice.l
	v.subject.victim = true
	a.label.Subject, a.label.Token = v.subject.name, v.tok.jti

	ua := uaCurl
	if a.n%2 == 1 {
		ua = choice.uses[0].client.ua
	}
	c := g.attacker(pick(a.s, hostingSites), ua)
	g.attackUse(a, choice.before.Add(a.s.between(300*time.Millisecond, choice.length-300*time.Millisecond)), v.tok, c)
	a.label.Description = fmt.Sprintf("An access token of %s is replayed with %s from %s (AS%d, %s) between two of the victim's own requests %s apart.",
		v.subject.name, ua, c.ip, c.geo.ASN, c.geo.Country, choice.length.Round(time.Second))
	return true
}

// oneClient reports whether every use came from one user agent and ASN, or
// one address where the ASN is not known.
func oneClient(uses []use) bool {
	for _, u := range uses[1:] {
		if u.client.ua != uses[0].client.ua || u.client.geo.ASN != uses[0].client.geo.ASN ||
			(u.client.geo.ASN == 0 && u.client.ip != uses[0].client.ip) {
			return false
		}
	}
	return true
}

// userAgentChange: after the victim's last use, an attacker in the same
// city replays the access token with a script.
func (g *generator) userAgentChange(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool { return l.tok.exp.Sub(l.lastUse().at) >= 2*time.Minute })
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	last := v.lastUse()
	reg := v.subject.region
	where := pick(a.s, reg.cities)
	if last.client.geo.HasCoordinates() && !g.dep.trusted(last.client.ip) {
		where = cityOf(last.client.geo)
	}
	var sites []site
	for _, st := range regionSites(reg, where) {
		if st.network.asn != last.client.geo.ASN {
			sites = append(sites, st)
		}
	}
	c := g.attacker(pick(a.s, sites), pick(a.s, []string{uaRequests, uaCurl, uaGoClient}))
	room := min(v.tok.exp.Sub(last.at)-20*time.Second, 3*time.Minute)
	t := last.at.Add(a.s.between(20*time.Second, room))
	for range a.s.intBetween(1, 4) {
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(5*time.Second, 30*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s, used with %s, is replayed with %s from a home network in %s (AS%d) after the victim's last use.",
		v.subject.name, familyOf(last.client.ua), c.ua, where.name, c.geo.ASN)
	return true
}

// threatIntelIP: the access token is replayed through Tor.
func (g *generator) threatIntelIP(a *attack) bool {
	cands := g.victimTokens(func(l *accessLog) bool { return l.tok.exp.Sub(l.lastUse().at) >= 2*time.Minute })
	if len(cands) == 0 {
		return false
	}
	v := takeVictim(a, cands)
	last := v.lastUse()
	exit := pick(a.s, torExits)
	c := client{ip: exit.addr, geo: geoOf(exit.site.network, exit.site.city, exit.site.country), ua: uaTorBrowser}
	room := min(v.tok.exp.Sub(last.at)-20*time.Second, 4*time.Minute)
	t := last.at.Add(a.s.between(30*time.Second, room))
	for range a.s.intBetween(1, 3) {
		g.attackUse(a, t, v.tok, c)
		t = t.Add(a.s.between(5*time.Second, 20*time.Second))
	}
	a.label.Description = fmt.Sprintf("An access token of %s is replayed through the Tor exit relay %s, which the threat list names.", v.subject.name, exit.addr)
	return true
}

// unknownToken: an attacker who holds the identity provider's signing key
// forges a token, with a jti the provider never issued, for a real subject.
func (g *generator) unknownToken(a *attack) bool {
	var cands []*subject
	for _, s := range g.subjects {
		if s.persona.isUser() && !s.victim {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return false
	}
	victim := pick(a.s, cands)
	victim.victim = true
	c := g.attacker(pick(a.s, hostingSites), uaCurl)
	start := g.localMidnight(victim, a.day).Add(10*time.Hour + a.s.between(0, 8*time.Hour))
	forged := &token{jti: a.s.uuid(), issuer: issuerIdP, subject: victim.name, clientID: "acme-web",
		scopes: []string{"openid", "orders:read", "orders:write", "admin"}}
	forged.iat = start.Add(-a.s.between(2*time.Second, 30*time.Second)).Truncate(time.Second)
	forged.exp = forged.iat.Add(time.Hour)
	a.label.Subject, a.label.Token = victim.name, forged.jti

	t := start
	for range a.s.intBetween(3, 10) {
		g.attackUse(a, t, forged, c)
		t = t.Add(a.s.between(10*time.Second, time.Minute))
	}
	a.label.Description = fmt.Sprintf("A token for %s, signed with the identity provider's stolen key and never issued by it, is used with %s from %s (AS%d, %s).",
		victim.name, c.ua, c.ip, c.geo.ASN, c.geo.Country)
	return true
}

// unfamiliarClient: after the victim's first week, an attacker with the
// victim's password signs in from a country, network and browser the
// victim never used, gets fresh tokens and uses them. No token is shared
// with the victim, so only the subject's history can tell.
func (g *generator) unfamiliarClient(a *attack) bool {
	var cands []*subject
	for _, s := range g.subjects {
		if s.persona.isUser() && !s.victim && !s.stuffed && s.firstSeen >= 0 && s.firstSeen <= 1 && s.events >= 40 {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		return false
	}
	victim := pick(a.s, cands)
	victim.victim = true

	var sites []site
	for _, st := range slices.Concat(hostingSites, proxySites) {
		if st.country != victim.region.country {
			sites = append(sites, st)
		}
	}
	var agents []string
	for _, b := range []string{"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", browsers[3].before, browsers[0].before} {
		if !slices.Contains(victim.families(), familyOf(b)) {
			agents = append(agents, b)
		}
	}
	c := g.attacker(pick(a.s, sites), pick(a.s, agents))

	d := &device{clientID: "acme-web", scopes: []string{"openid", "profile", "orders:read", "orders:write"},
		accessLife: 10 * time.Minute, refreshIdle: time.Hour, sessionMax: 10 * time.Hour}
	t := g.localMidnight(victim, a.day).Add(14*time.Hour + a.s.between(0, 4*time.Hour))
	d.sid, d.signedIn = a.s.uuid(), t
	at := mint(a.s, t, victim.name, d, false, "")
	rt := mint(a.s, t, victim.name, d, true, "")
	g.addAttack(a, idpEvent(a.s, audit.KindIssued, t, at, c))
	g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(time.Millisecond), rt, c))
	a.label.Subject, a.label.Token = victim.name, at.jti

	for range a.s.intBetween(5, 20) {
		t = t.Add(a.s.between(10*time.Second, 90*time.Second))
		if at.exp.Sub(t) < refreshLead {
			g.addAttack(a, idpEvent(a.s, audit.KindRefreshed, t, rt, c))
			at = mint(a.s, t, victim.name, d, false, rt.jti)
			rt = mint(a.s, t, victim.name, d, true, rt.jti)
			g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(2*time.Millisecond), at, c))
			g.addAttack(a, idpEvent(a.s, audit.KindIssued, t.Add(3*time.Millisecond), rt, c))
			t = t.Add(300 * time.Millisecond)
		}
		g.attackUse(a, t, at, c)
	}
	a.label.Description = fmt.Sprintf("After the first week, someone with %s's password signs in with %s from %s (AS%d, %s), a country, network and browser the victim never used, and uses the new tokens.",
		victim.name, familyOf(c.ua), c.ip, c.geo.ASN, c.geo.Country)
	return true
}
