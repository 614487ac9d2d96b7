package simulate

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// attackRules are the rules the simulation injects attacks for, in the
// order of the score table.
var attackRules = []string{
	detect.RuleRevokedTokenUse,
	detect.RuleExpiredTokenUse,
	detect.RuleRefreshTokenReuse,
	detect.RuleRapidIPChange,
	detect.RuleHighFrequency,
	detect.RuleImpossibleTravel,
	detect.RuleConcurrentUse,
	detect.RuleUserAgentChange,
	detect.RuleUnknownToken,
	detect.RuleThreatIntelIP,
	detect.RuleRejectedBurst,
	detect.RuleSharedIPManySubjects,
	detect.RuleUnfamiliarClient,
}

// AttackRules returns the rules the simulation injects attacks for, in the
// order of the score table.
func AttackRules() []string { return slices.Clone(attackRules) }

// learningDays is the first day an unfamiliar_client attack may come on:
// after the subject's learning period of about 7 days and 20 events.
const learningDays = 8

// The attackers' user agents.
const (
	uaCurl       = "curl/8.5.0"
	uaRequests   = "python-requests/2.31.0"
	uaAiohttp    = "Python/3.12 aiohttp/3.9.5"
	uaGoClient   = "Go-http-client/1.1"
	uaTorBrowser = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaHeadless   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36"
)

// attack is one planned attack and, once injected, its label.
type attack struct {
	rule  string
	n     int // index among the attacks of its rule
	day   int // the day it is planned for; moves on when it finds no victim
	s     *stream
	label *Label
}

// planAttacks spreads AttacksPerRule attacks of each rule over the days,
// from the second day, and from day 8 for unfamiliar_client.
func (g *generator) planAttacks() {
	for ri, rule := range attackRules {
		lo, hi := 1, g.cfg.Days-1
		if rule == detect.RuleUnfamiliarClient {
			lo = learningDays
		}
		if lo > hi {
			for n := range g.cfg.AttacksPerRule {
				g.notInjected = append(g.notInjected, fmt.Sprintf("%s-%d: the run has %d days, and this attack needs the victim's first %d days as its learning period", rule, n, g.cfg.Days, learningDays))
			}
			continue
		}
		span := hi - lo + 1
		for n := range g.cfg.AttacksPerRule {
			day := lo + (n*span/g.cfg.AttacksPerRule+ri)%span
			g.attacks = append(g.attacks, &attack{rule: rule, n: n, day: day,
				s: newStream(g.cfg.Seed, "attack-"+rule+"-"+strconv.Itoa(n))})
		}
	}
}

// injectAttacks injects the attacks planned for the day. An attack that
// finds no victim moves to the next day, or is listed as not injected
// after the last.
func (g *generator) injectAttacks(day int) {
	for _, a := range g.attacks {
		if a.day != day || a.label != nil {
			continue
		}
		a.label = &Label{ID: a.rule + "-" + strconv.Itoa(a.n), Rule: a.rule}
		if g.inject(a) {
			g.labels = append(g.labels, *a.label)
			continue
		}
		a.label = nil
		a.day++
		if a.day >= g.cfg.Days {
			g.notInjected = append(g.notInjected, fmt.Sprintf("%s-%d: no suitable victim on any day", a.rule, a.n))
		}
	}
}

func (g *generator) inject(a *attack) bool {
	switch a.rule {
	case detect.RuleRevokedTokenUse:
		return g.revokedTokenUse(a)
	case detect.RuleExpiredTokenUse:
		return g.expiredTokenUse(a)
	case detect.RuleRefreshTokenReuse:
		return g.refreshTokenReuse(a)
	case detect.RuleRapidIPChange:
		return g.rapidIPChange(a)
	case detect.RuleHighFrequency:
		return g.highFrequency(a)
	case detect.RuleImpossibleTravel:
		return g.impossibleTravel(a)
	case detect.RuleConcurrentUse:
		return g.concurrentUse(a)
	case detect.RuleUserAgentChange:
		return g.userAgentChange(a)
	case detect.RuleUnknownToken:
		return g.unknownToken(a)
	case detect.RuleThreatIntelIP:
		return g.threatIntelIP(a)
	case detect.RuleRejectedBurst:
		return g.rejectedBurst(a)
	case detect.RuleSharedIPManySubjects:
		return g.sharedIP(a)
	case detect.RuleUnfamiliarClient:
		return g.unfamiliarClient(a)
	}
	return false
}

// addAttack adds an event the attacker caused.
func (g *generator) addAttack(a *attack, e audit.Event) {
	g.buf = append(g.buf, e)
	g.attackEvents++
	l := a.label
	if len(l.EventIDs) == 0 || e.Time.Before(l.Start) {
		l.Start = e.Time
	}
	if len(l.EventIDs) == 0 || e.Time.After(l.End) {
		l.End = e.Time
	}
	l.EventIDs = append(l.EventIDs, e.ID)
}

// attackUse adds a use of tok by the attacker, recorded at the given time by
// a random gateway.
func (g *generator) attackUse(a *attack, recorded time.Time, tok *token, c client) {
	path := pick(a.s, userPaths)
	e := newEvent(a.s, audit.KindUsed, recorded, tok, c)
	e.Source = gatewayNames[a.s.rng.IntN(gatewayCount)]
	e.Method, e.Path, e.Status = path.method, path.path, 200
	g.addAttack(a, e)
}

// attackerAddr returns a fresh address of the site for an attacker. It
// comes from the top quarter of the block, above the addresses of homes
// and guests, a /24 apart from the previous one. It is never on the threat
// list or in a trusted network.
func (g *generator) attackerAddr(st site) netip.Addr {
	size := uint64(1) << (32 - st.v4.Bits())
	for {
		k := g.attackerNext[st.v4]
		g.attackerNext[st.v4] = k + 1
		ip := addrAt(st.v4, size*3/4+(k*263)%(size/4))
		if !g.dep.listed(ip) && !g.dep.trusted(ip) && ip.As4()[3] != 0 && ip.As4()[3] != 255 {
			return ip
		}
	}
}

// attacker returns a client at a fresh address of the site.
func (g *generator) attacker(st site, ua string) client {
	return client{ip: g.attackerAddr(st), geo: geoOf(st.network, st.city, st.country), ua: ua}
}

// victimTokens returns the access tokens used today by people that no
// attack has targeted, which pass keep.
func (g *generator) victimTokens(keep func(*accessLog) bool) []*accessLog {
	var out []*accessLog
	for _, l := range g.log.access {
		if l.subject.persona.isUser() && !l.subject.victim && len(l.uses) > 0 && keep(l) {
			out = append(out, l)
		}
	}
	return out
}

// takeVictim picks one of the candidates and marks its subject.
func takeVictim(a *attack, cands []*accessLog) *accessLog {
	v := pick(a.s, cands)
	v.subject.victim = true
	a.label.Subject = v.subject.name
	a.label.Token = v.tok.jti
	return v
}

// cityOf returns the city a location names.
func cityOf(geo audit.Geo) city {
	return city{name: geo.City, lat: geo.Latitude, lon: geo.Longitude}
}

// regionSites returns the residential networks of a region as sites in one
// of its cities, for attackers who rent proxies in the victim's country.
func regionSites(reg *region, c city) []site {
	var out []site
	for _, n := range reg.isps {
		out = append(out, site{city: c, country: reg.country, v4: n.v4, network: n})
	}
	return out
}

// farSites returns the hosting and proxy sites at least minKM from c.
func farSites(c city, minKM float64) []site {
	var out []site
	for _, s := range slices.Concat(hostingSites, proxySites) {
		if distanceKM(c, s.city) >= minKM {
			out = append(out, s)
		}
	}
	return out
}
