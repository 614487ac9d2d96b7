package simulate

import (
	"math"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Service accounts call at steady, machine-regular rates. Batch jobs run at
// up to maxJobRate calls a minute, below high_frequency's default of 600.
const (
	minJobRate = 150
	maxJobRate = 520
)

// setUpService gives a service account its rhythm for a budget of events a
// day: a poller calling all day, or batch jobs of one to three minutes at
// a high rate, spread evenly over the day. A busy account always runs jobs,
// at 400 calls a minute or more.
func setUpService(s *subject, perDay float64, busy bool) {
	r := s.stream
	d := s.devices[0]
	if !busy && r.chance(0.4) {
		d.rate = max(perDay/1440, 0.05)
		return
	}
	d.rate = float64(r.intBetween(minJobRate, maxJobRate))
	if busy {
		d.rate = float64(r.intBetween(400, maxJobRate))
	}
	d.jobLength = r.between(time.Minute, 3*time.Minute)
	perJob := d.rate * d.jobLength.Minutes()
	d.jobsPerDay = int(math.Round(perDay / perJob))
	if d.jobsPerDay < 1 {
		d.jobsPerDay = 1
		d.jobLength = max(time.Duration(perDay/d.rate*float64(time.Minute)), 20*time.Second)
	}
}

// serviceDay simulates one UTC day of a service account.
func (g *generator) serviceDay(s *subject, day int) {
	r := s.stream
	d := s.devices[0]
	start := g.cfg.Start.AddDate(0, 0, day)
	c := client{ip: d.serviceAddr, ua: d.ua}
	if s.persona == personaPartner {
		c.geo = partnerGeo(d.serviceAddr)
	}

	if d.jobLength == 0 {
		spacing := time.Duration(float64(time.Minute) / d.rate)
		for t := start.Add(r.between(0, spacing)); t.Before(start.Add(24 * time.Hour)); {
			g.serviceCall(s, d, c, t)
			t = t.Add(spacing + r.between(-spacing/10, spacing/10))
		}
		return
	}

	every := 24 * time.Hour / time.Duration(d.jobsPerDay)
	phase := time.Duration(s.index%60) * time.Minute
	spacing := time.Duration(float64(time.Minute) / d.rate)
	for j := range d.jobsPerDay {
		begin := start.Add(phase + time.Duration(j)*every + r.between(0, time.Minute))
		for t := begin; t.Before(begin.Add(d.jobLength)); {
			g.serviceCall(s, d, c, t)
			// Machine-regular spacing, with 3% jitter.
			t = t.Add(spacing + r.between(-spacing*3/100, spacing*3/100))
		}
	}
}

// partnerGeo returns the location of a partner server's address.
func partnerGeo(ip netip.Addr) audit.Geo {
	for _, s := range []site{nimbusFrankfurt, nimbusAshburn} {
		if s.v4.Contains(ip) {
			return geoOf(s.network, s.city, s.country)
		}
	}
	return audit.Geo{}
}

// serviceCall makes one call of a service account, first getting a token
// when it has none or its token expires within five minutes.
func (g *generator) serviceCall(s *subject, d *device, c client, at time.Time) {
	r := s.stream
	if d.at == nil || d.at.exp.Sub(at) < 5*time.Minute {
		g.serviceToken(s, d, at.Add(-250*time.Millisecond), c)
	}
	gw := r.rng.IntN(gatewayCount)
	path := pick(r, servicePaths)
	if d.at.issuer == issuerIdP && d.at.iat.Before(g.rotation) && !at.Add(g.offsets[gw]).Before(g.rotation) {
		e := g.gatewayEvent(r, audit.KindRejected, at, gw, d.at, c, path.method, path.path, 401)
		e.RejectReason = audit.RejectUnknownKey
		g.addBenign(s, e)
		at = maxTime(at, g.rotation).Add(200 * time.Millisecond)
		g.serviceToken(s, d, at, c)
		at = at.Add(300 * time.Millisecond)
		gw = r.rng.IntN(gatewayCount)
	}
	g.addBenign(s, g.gatewayEvent(r, audit.KindUsed, at, gw, d.at, c, path.method, path.path, 200))
}

// serviceToken gets a service account a new access token: client
// credentials at the identity provider for partners, a projected token of
// the cluster's issuer for internal services.
func (g *generator) serviceToken(s *subject, d *device, at time.Time, c client) {
	r := s.stream
	tok := &token{jti: r.uuid(), issuer: issuerIdP, subject: s.name, clientID: d.clientID, scopes: d.scopes,
		iat: at.Truncate(time.Second)}
	tok.exp = tok.iat.Add(d.accessLife)
	e := idpEvent(r, audit.KindIssued, at, tok, c)
	if s.persona == personaService {
		tok.issuer = issuerCluster
		e = newEvent(r, audit.KindIssued, at, tok, c)
		e.Source = "kube-apiserver"
	}
	d.at = tok
	g.addBenign(s, e)
}

// placeholders are the subjects that guest tokens carry: values that name
// no one.
var placeholders = []string{"", "null", "unknown", "-", "n/a", "undefined"}

// guestBrowsers are the user agents of anonymous visitors.
var guestBrowsers = []string{browsers[0].before, browsers[1].before, browsers[2].before, browsers[3].before,
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.104 Mobile Safari/537.36",
}

// guestDay simulates one UTC day of a guest stream: anonymous visitors of
// the public catalogue, each with its own short-lived token whose subject
// is a placeholder, from home addresses anywhere. The first stream also
// sends a planeload of travellers through the airport Wi-Fi each morning:
// many tokens from one untrusted address, none of them naming a person.
func (g *generator) guestDay(s *subject, day int) {
	r := s.stream
	start := g.cfg.Start.AddDate(0, 0, day)
	visitors := max(1, int(g.rates.guestEventsPerDay/10))
	for range visitors {
		reg := drawRegion(r)
		isp := pick(r, reg.isps)
		ip := addrAt(isp.v4, guestBase+uint64(r.rng.IntN(homeSlots)))
		c := client{ip: ip, geo: geoOf(isp, pick(r, reg.cities), reg.country), ua: pick(r, guestBrowsers)}
		g.guestVisit(s, start.Add(r.between(0, 24*time.Hour)), c)
	}

	if s.index != g.firstGuest {
		return
	}
	ip := addrAt(skyport.v4, 10)
	board := start.Add(5*time.Hour + r.between(0, time.Hour)) // the morning flights, local time 6 to 7
	for range r.intBetween(25, 35) {
		c := client{ip: ip, geo: geoOf(skyport.network, skyport.city, skyport.country), ua: pick(r, guestBrowsers)}
		g.guestVisit(s, board.Add(r.between(0, 8*time.Minute)), c)
	}
}

// guestVisit issues a guest token and uses it a few times.
func (g *generator) guestVisit(s *subject, at time.Time, c client) {
	r := s.stream
	tok := &token{jti: r.uuid(), issuer: issuerIdP, subject: pick(r, placeholders), clientID: "acme-web-guest",
		scopes: []string{"catalog:read"}, iat: at.Truncate(time.Second)}
	tok.exp = tok.iat.Add(30 * time.Minute)
	g.addBenign(s, idpEvent(r, audit.KindIssued, at, tok, c))
	t := at
	for range r.intBetween(3, 15) {
		t = t.Add(r.between(2*time.Second, 40*time.Second))
		gw := r.rng.IntN(gatewayCount)
		path := pick(r, guestPaths)
		g.addBenign(s, g.gatewayEvent(r, audit.KindUsed, t, gw, tok, c, path.method, path.path, 200))
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
