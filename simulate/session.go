package simulate

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// accessLog records an access token's uses and revocation on the day it
// was used. The attacks pick their victims' tokens from these logs.
type accessLog struct {
	subject *subject
	device  *device
	tok     *token
	uses    []use     // recorded times, in the order the requests were made
	revoked time.Time // recorded time of a logout that revoked it, or zero
}

// use is one recorded use of a token.
type use struct {
	at     time.Time
	client client
}

// lastUse returns the latest recorded use.
func (l *accessLog) lastUse() use {
	last := l.uses[0]
	for _, u := range l.uses[1:] {
		if u.at.After(last.at) {
			last = u
		}
	}
	return last
}

// refreshLog records a refresh token's issuance and first redemption.
type refreshLog struct {
	subject  *subject
	device   *device
	tok      *token
	issued   time.Time // recorded time of its issuance
	redeemed time.Time // recorded time of its first redemption, or zero
	client   client    // the client that redeemed it
}

// refreshLead is how long before its access token expires a proactive
// client refreshes it.
const refreshLead = 90 * time.Second

// userDay simulates one local day of a user subject.
func (g *generator) userDay(s *subject, day int) {
	r := s.stream
	if s.homeAddr.IsValid() && r.chance(0.02) {
		// The broadband provider hands out a new address.
		s.homeAddr = addrAt(s.isp.v4, 256+uint64(r.rng.IntN(homeSlots))*3+2)
	}

	periods := g.planDay(s, day)
	for _, d := range s.devices {
		var last time.Time
		var lastClient client
		for _, p := range periods {
			if p.device != d {
				continue
			}
			lastClient, last = g.runPeriod(s, d, p, day)
		}
		if d.kind == deviceLaptop && !last.IsZero() && d.rt != nil && r.chance(0.35) {
			g.logout(s, d, last.Add(r.between(5*time.Second, time.Minute)), lastClient)
		}
	}
}

// runPeriod makes the device's requests of one period and returns the
// client of the period and the true time of its last request.
func (g *generator) runPeriod(s *subject, d *device, p period, day int) (client, time.Time) {
	r := s.stream
	c := g.clientAt(s, d, p)
	c.ua = d.userAgent(day)

	// Page views come as a Poisson process; each makes one to four calls
	// within a second and a half.
	var calls []time.Time
	rate := g.rates.viewsPerMinute
	if d.kind == devicePhone {
		rate *= 0.8
	}
	for t := p.start; ; {
		t = t.Add(time.Duration(r.rng.ExpFloat64() / rate * float64(time.Minute)))
		if !t.Before(p.end) {
			break
		}
		at := t
		for range r.intBetween(1, 4) {
			calls = append(calls, at)
			at = at.Add(r.between(50*time.Millisecond, 400*time.Millisecond))
		}
	}
	if len(calls) == 0 {
		calls = append(calls, p.start.Add(r.between(time.Second, 20*time.Second)))
	}
	slices.SortFunc(calls, func(a, b time.Time) int { return a.Compare(b) })

	var last time.Time
	for _, at := range calls {
		g.timerRefreshes(s, d, c, p.start, at)
		last = g.call(s, d, c, at, last, day)
	}
	g.timerRefreshes(s, d, c, p.start, p.end)
	d.lastActive = p.end
	return c, last
}

// clientAt returns the client of a device in a period, moving a phone to a
// new carrier address when it reconnects after 10 minutes or more.
func (g *generator) clientAt(s *subject, d *device, p period) client {
	r := s.stream
	country := s.region.country
	switch p.place {
	case placeOffice:
		o := s.region.office
		// The NAT sends most connections out of its first address and the
		// rest out of its second.
		host := uint64(1)
		if r.chance(0.2) {
			host = 2
		}
		return client{ip: addrAt(o.egress, host), geo: geoOf(o.network, o.city, country)}
	case placeVPN:
		return client{ip: addrAt(s.vpn.v4, 10+uint64(r.rng.IntN(200))), geo: geoOf(s.vpn.network, s.vpn.city, s.vpn.country)}
	case placeCarrier:
		if !d.hasCarrierIP || (p.start.Sub(d.lastActive) >= 10*time.Minute && r.chance(0.5)) {
			d.carrierGW = 0
			if r.chance(0.2) {
				d.carrierGW = r.rng.IntN(len(s.reach))
			}
			d.carrierAddr = carrierAddr(r, s.carrier, s.reach[d.carrierGW])
			d.hasCarrierIP = true
		}
		return client{ip: d.carrierAddr, geo: geoOf(&s.carrier.network, s.reach[d.carrierGW].city, country)}
	}
	return client{ip: s.homeAddr, geo: geoOf(s.isp, s.home, country)}
}

// carrierAddr draws a public address of the gateway: an IPv6 address in a
// random /64 of the gateway when the carrier has IPv6, else an IPv4 address
// of its carrier-grade NAT pool.
func carrierAddr(r *stream, c *carrier, gw gateway) netip.Addr {
	if c.v6.IsValid() {
		return addrAt(subPrefix(gw.v6, 64, r.rng.IntN(1<<24)), r.rng.Uint64()|1)
	}
	return addrAt(gw.v4, 1+uint64(r.rng.IntN(4094)))
}

// timerRefreshes refreshes the access token of a proactive client each
// time it comes within refreshLead of expiry, from the period's start until
// the given time, as a web app's timer does while it is open.
func (g *generator) timerRefreshes(s *subject, d *device, c client, from, until time.Time) {
	if d.reactive {
		return
	}
	for d.at != nil && d.rt != nil {
		due := d.at.exp.Add(-refreshLead)
		if !due.Before(until) || due.Before(from) || !g.canRefresh(d, due) {
			return
		}
		g.refresh(s, d, due, c)
	}
}

// canRefresh reports whether the device's refresh token is still valid at t.
func (g *generator) canRefresh(d *device, t time.Time) bool {
	return d.rt != nil && t.Before(d.rt.exp) && t.Before(d.signedIn.Add(d.sessionMax))
}

// call makes one request at true time at, after prev, the device's
// previous request of the period, and returns the true time it completed.
func (g *generator) call(s *subject, d *device, c client, at, prev time.Time, day int) time.Time {
	r := s.stream
	before := func(t time.Time) time.Time {
		if !prev.IsZero() && !t.After(prev) {
			return prev.Add(10 * time.Millisecond)
		}
		return t
	}

	switch {
	case !g.canRefresh(d, at):
		g.signIn(s, d, before(at.Add(-800*time.Millisecond)), c)
	case d.at == nil, !d.reactive && d.at.exp.Sub(at) < refreshLead:
		g.refresh(s, d, before(at.Add(-300*time.Millisecond)), c)
	}

	for attempt := 0; ; attempt++ {
		gw := r.rng.IntN(gatewayCount)
		recorded := at.Add(g.offsets[gw])
		path := pick(r, userPaths)
		var reason audit.RejectReason
		switch {
		case attempt >= 2:
			// Each rejection is followed by a refresh that removes its
			// cause, so a third attempt is never rejected. This case only
			// bounds the loop.
		case d.at.issuer == issuerIdP && d.at.iat.Before(g.rotation) && !recorded.Before(g.rotation):
			reason = audit.RejectUnknownKey // the gateway dropped the old signing key
		case recorded.After(d.at.exp.Add(gatewayLeeway)):
			reason = audit.RejectExpired
		}
		if reason == "" {
			status := 200
			if r.chance(0.03) {
				status = 404
			}
			g.addBenign(s, g.gatewayEvent(r, audit.KindUsed, at, gw, d.at, c, path.method, path.path, status))
			d.atLog.uses = append(d.atLog.uses, use{at: recorded, client: c})
			return at
		}

		e := g.gatewayEvent(r, audit.KindRejected, at, gw, d.at, c, path.method, path.path, 401)
		e.RejectReason = reason
		g.addBenign(s, e)
		retry := at.Add(200 * time.Millisecond)
		if reason == audit.RejectUnknownKey && retry.Before(g.rotation) {
			retry = g.rotation.Add(100 * time.Millisecond)
		}
		if g.canRefresh(d, retry) {
			g.refresh(s, d, retry, c)
		} else {
			g.signIn(s, d, retry, c)
		}
		at = retry.Add(300 * time.Millisecond)
	}
}

// signIn starts a new session: the identity provider issues an access
// token and a refresh token.
func (g *generator) signIn(s *subject, d *device, at time.Time, c client) {
	r := s.stream
	d.sid = r.uuid()
	d.signedIn = at
	d.at = mint(r, at, s.name, d, false, "")
	d.rt = mint(r, at, s.name, d, true, "")
	g.addBenign(s, idpEvent(r, audit.KindIssued, at, d.at, c))
	g.addBenign(s, idpEvent(r, audit.KindIssued, at.Add(time.Millisecond), d.rt, c))
	g.track(s, d, at, c)
}

// refresh redeems the device's refresh token for a new pair, rotating it.
// Now and then the client sends two refreshes at once, as two browser tabs
// do, within the retry grace; the second pair goes unused.
func (g *generator) refresh(s *subject, d *device, at time.Time, c client) {
	r := s.stream
	old := d.rt
	g.addBenign(s, idpEvent(r, audit.KindRefreshed, at, old, c))
	if d.rtLog != nil && d.rtLog.tok == old && d.rtLog.redeemed.IsZero() {
		d.rtLog.redeemed, d.rtLog.client = at, c
	}
	d.at = mint(r, at, s.name, d, false, old.jti)
	d.rt = mint(r, at, s.name, d, true, old.jti)
	g.addBenign(s, idpEvent(r, audit.KindIssued, at.Add(2*time.Millisecond), d.at, c))
	g.addBenign(s, idpEvent(r, audit.KindIssued, at.Add(3*time.Millisecond), d.rt, c))

	if r.chance(0.02) {
		again := at.Add(r.between(100*time.Millisecond, 1500*time.Millisecond))
		g.addBenign(s, idpEvent(r, audit.KindRefreshed, again, old, c))
		spareAT := mint(r, again, s.name, d, false, old.jti)
		spareRT := mint(r, again, s.name, d, true, old.jti)
		g.addBenign(s, idpEvent(r, audit.KindIssued, again.Add(2*time.Millisecond), spareAT, c))
		g.addBenign(s, idpEvent(r, audit.KindIssued, again.Add(3*time.Millisecond), spareRT, c))
	}
	g.track(s, d, at, c)
}

// track starts the logs of the device's new tokens.
func (g *generator) track(s *subject, d *device, at time.Time, c client) {
	d.atLog = &accessLog{subject: s, device: d, tok: d.at}
	d.rtLog = &refreshLog{subject: s, device: d, tok: d.rt, issued: at}
	g.log.access = append(g.log.access, d.atLog)
	g.log.refresh = append(g.log.refresh, d.rtLog)
}

// logout ends the session: the identity provider revokes both tokens, and
// the device uses neither again.
func (g *generator) logout(s *subject, d *device, at time.Time, c client) {
	r := s.stream
	for i, tok := range []*token{d.rt, d.at} {
		e := idpEvent(r, audit.KindRevoked, at.Add(time.Duration(i)*time.Millisecond), tok, c)
		e.Actor = s.name
		e.RevocationMethod = audit.RevokedByLogout
		e.Reason = "user signed out"
		g.addBenign(s, e)
	}
	d.atLog.revoked = at
	d.at, d.rt, d.atLog, d.rtLog = nil, nil, nil, nil
}
