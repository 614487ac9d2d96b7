package detect

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// RuleUnfamiliarClient is the name of the rule in this file.
const RuleUnfamiliarClient = "unfamiliar_client"

// newClient is the set of values of a use that its subject had not used
// before.
type newClient struct {
	kinds   valueKinds
	country string
	asn     uint32
	org     string
	family  string
}

// learnClient records the client of a use of sub's token: its country,
// ASN, user-agent family and, for custom rules, network. It then raises
// unfamiliar_client when the use shows a country, an ASN or a family that
// the subject never used, once the subject has been seen for
// UnfamiliarClient.LearningPeriod and MinEvents uses. Each new value is
// learnt as it is seen, so it raises once. A use that shows several new
// values raises one anomaly naming them all, proven by the use.
//
// A kind of value raises only when the subject already has one of its
// kind, so that a subject whose logs gained locations late, or whose uses
// all came through trusted networks, does not raise on its first one. A
// kind that passed knownValues stops raising (see knownValues).
//
// Uses from internal addresses are services passing the token on, and
// teach nothing. A trusted network's country and ASN are the
// organisation's, not the subject's, so they teach nothing either, but
// its uses count towards learning and teach their family.
func (c *check) learnClient(sub *subjectState) {
	e, ev := c.engine, c.ev
	cfg := e.cfg.Rules.UnfamiliarClient
	ip := ev.IP.Unmap()
	if ip.IsValid() && isInternal(ip) {
		return
	}
	now := ev.Time.UnixNano()
	learnt := sub.uses >= uint32(cfg.MinEvents) && now-sub.first >= int64(cfg.LearningPeriod)

	var found newClient
	note := func(kind valueKinds, had, added, dropped bool) bool {
		if dropped {
			sub.varied |= kind
		}
		if added && had && learnt && sub.varied&kind == 0 {
			found.kinds |= kind
			return true
		}
		return false
	}

	if !ip.IsValid() || !e.isTrusted(ip) {
		if country := normalCountry(ev.Geo.Country); country != "" {
			had := sub.countryCount > 0
			added, dropped := remember(sub.countries[:], &sub.countryCount, e.mu.countryNames.id(country))
			if note(kindCountry, had, added, dropped) {
				found.country = country
			}
		}
		if asn := ev.Geo.ASN; asn != 0 {
			had := sub.asnCount > 0
			added, dropped := remember(sub.asns[:], &sub.asnCount, asn)
			if note(kindASN, had, added, dropped) {
				found.asn, found.org = asn, ev.Geo.Org
			}
		}
		if sub.networks != nil && ip.IsValid() {
			rc := e.cfg.Rules.RapidIPChange
			remember(sub.networks.networks[:], &sub.networks.count, networkOf(ip, rc.IPv4Prefix, rc.IPv6Prefix))
		}
	}
	if family := c.userAgentFamily(); family != "" {
		had := sub.familyCount > 0
		added, dropped := remember(sub.families[:], &sub.familyCount, e.mu.familyNames.id(family))
		if note(kindFamily, had, added, dropped) {
			found.family = family
		}
	}

	sub.first = min(sub.first, now)
	sub.last = max(sub.last, now)
	if sub.uses < math.MaxUint32 {
		sub.uses++
	}
	if cfg.Disabled || found.kinds == 0 {
		return
	}
	c.raise(RuleUnfamiliarClient, cfg.Severity,
		fmt.Sprintf("Token %s was %s %s, new for its subject, which had used only %s in %d uses over %s: ask the subject whether this use was theirs, and revoke the token if not.",
			c.st.key, observedFrom(ev.Kind), found.describe(), e.knownLocked(sub, found.kinds), sub.uses-1, FormatDuration(time.Duration(now-sub.first))),
		ev.ID)
}

// describe lists the new values, such as `country DE, AS14061 "DigitalOcean"
// and user-agent family "curl"`.
func (n *newClient) describe() string {
	var parts []string
	if n.kinds&kindCountry != 0 {
		parts = append(parts, "country "+quoteName(n.country))
	}
	if n.kinds&kindASN != 0 {
		asn := fmt.Sprintf("AS%d", n.asn)
		if n.org != "" {
			asn += " " + quoteFamily(n.org)
		}
		parts = append(parts, asn)
	}
	if n.kinds&kindFamily != 0 {
		parts = append(parts, "user-agent family "+quoteFamily(n.family))
	}
	return joinAnd(parts)
}

// knownLocked lists the values of the given kinds that sub used before its
// latest use, such as `countries FR and BE, AS64496 and user-agent family
// "Firefox"`. The latest use's new values are first in each set, and left
// out.
func (e *Engine) knownLocked(sub *subjectState, kinds valueKinds) string {
	var parts []string
	if kinds&kindCountry != 0 {
		var names []string
		for _, id := range sub.countries[1:sub.countryCount] {
			names = append(names, quoteName(e.mu.countryNames.name(id)))
		}
		parts = append(parts, plural("country", "countries", len(names))+" "+joinAnd(names))
	}
	if kinds&kindASN != 0 {
		var asns []string
		for _, asn := range sub.asns[1:sub.asnCount] {
			asns = append(asns, fmt.Sprintf("AS%d", asn))
		}
		parts = append(parts, joinAnd(asns))
	}
	if kinds&kindFamily != 0 {
		var names []string
		for _, id := range sub.families[1:sub.familyCount] {
			names = append(names, quoteFamily(e.mu.familyNames.name(id)))
		}
		parts = append(parts, plural("user-agent family", "user-agent families", len(names))+" "+joinAnd(names))
	}
	return joinAnd(parts)
}

// quoteName returns a country for a summary: as it is when it is a plain
// code or name, else quoted and cut like a family.
func quoteName(s string) string {
	if len(s) <= 64 && strings.IndexFunc(s, func(r rune) bool { return !(r == ' ' || r == '-' || 'A' <= r && r <= 'Z') }) < 0 {
		return s
	}
	return quoteFamily(s)
}

func plural(one, many string, n int) string {
	if n == 1 {
		return one
	}
	return many
}

// joinAnd joins words as "a", "a and b" or "a, b and c".
func joinAnd(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
