package detect

import (
	"fmt"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
)

// RuleThreatIntelIP is the name of the rule in this file.
const RuleThreatIntelIP = "threat_intel_ip"

// threatIntelIP raises threat_intel_ip when a token is issued, used or
// redeemed from an address that Config.IPLists finds in a list, naming
// every such list. It raises at most one anomaly per token. Trusted
// networks are not looked up, so an egress range of the organisation that
// also appears in a list raises nothing. It gives no verdict when
// Config.IPLists is nil.
func (c *check) threatIntelIP() {
	cfg := c.engine.cfg.Rules.ThreatIntelIP
	lists := c.engine.cfg.IPLists
	st, ev := c.st, c.ev
	if cfg.Disabled || lists == nil || st.flags&firedThreatIntel != 0 || !c.isObservation() || !ev.IP.IsValid() {
		return
	}
	ip := ev.IP.Unmap()
	if c.engine.isTrusted(ip) {
		return
	}
	names := lists.Lists(ip)
	if len(names) == 0 {
		return
	}
	listPhrase := "the list " + names[0]
	if len(names) > 1 {
		listPhrase = "the lists " + strings.Join(names, ", ")
	}
	st.flags |= firedThreatIntel
	c.raise(RuleThreatIntelIP, cfg.Severity,
		fmt.Sprintf("Token %s was %s %s, which is on %s: revoke the token unless its owner is known to use that address.",
			st.key, observedFrom(ev.Kind), ip, listPhrase),
		ev.ID)
}

// observedFrom returns the verb phrase that puts an address after an
// observation of the given kind: "issued to", "redeemed from" or "used
// from".
func observedFrom(k audit.Kind) string {
	switch k {
	case audit.KindIssued:
		return "issued to"
	case audit.KindRefreshed:
		return "redeemed from"
	}
	return "used from"
}
