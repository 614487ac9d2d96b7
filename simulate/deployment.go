package simulate

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/tokentrail/tokentrail/detect"
)

// Deployment is the configuration that a company running the simulated
// systems would give tokentrail: the networks it trusts, the issuers whose
// every issuance it records, and the threat list it loads.
type Deployment struct {
	// TrustedNetworks are the offices' NAT ranges and the VPN provider's
	// egress. Offices and VPNs put many people behind few addresses, and a
	// real deployment lists them, as docs/detection.md advises for
	// shared_ip_many_subjects.
	TrustedNetworks []netip.Prefix

	// Issuers are the iss values whose issuances are all recorded: the
	// identity provider's. The cluster's own service-account issuer is not
	// recorded, and so not listed.
	Issuers []string

	// ThreatList is the threat list file's contents, in the plain format
	// that enrich reads: Tor exit relays and an abusive hosting range,
	// plus a stale entry that overlaps the trusted VPN egress.
	ThreatList []byte

	listedRanges []netip.Prefix
}

// NewDeployment returns the deployment of the simulated company. It is the
// same for every Config.
func NewDeployment() Deployment {
	d := Deployment{Issuers: []string{issuerIdP}}
	for _, r := range regions {
		if r.office != nil {
			d.TrustedNetworks = append(d.TrustedNetworks, r.office.egress)
		}
	}
	d.TrustedNetworks = append(d.TrustedNetworks, zenithSASE.v4)

	var b bytes.Buffer
	b.WriteString("# Threat list of the simulated deployment (tokentrail simulate).\n")
	b.WriteString("# Every address here is invented for the simulation.\n")
	b.WriteString("# Tor exit relays\n")
	for _, t := range torExits {
		fmt.Fprintf(&b, "%s\n", t.addr)
		d.listedRanges = append(d.listedRanges, netip.PrefixFrom(t.addr, t.addr.BitLen()))
	}
	b.WriteString("# A hosting range with a record of abuse\n")
	fmt.Fprintf(&b, "%s\n", abusiveRange)
	b.WriteString("# A stale entry: the VPN provider's London egress, which the deployment\n")
	b.WriteString("# trusts, so that it must never raise threat_intel_ip.\n")
	fmt.Fprintf(&b, "%s\n", staleEntry)
	d.listedRanges = append(d.listedRanges, abusiveRange, staleEntry)
	d.ThreatList = b.Bytes()
	return d
}

// DetectConfig returns the default detect.Config with the deployment's
// trusted networks and recorded issuers.
func (d Deployment) DetectConfig() detect.Config {
	var cfg detect.Config
	cfg.TrustedNetworks = append(cfg.TrustedNetworks, d.TrustedNetworks...)
	cfg.Rules.UnknownToken.Issuers = append(cfg.Rules.UnknownToken.Issuers, d.Issuers...)
	return cfg
}

// RulesYAML returns the deployment's settings in the form that
// `tokentrail import --rules` reads.
func (d Deployment) RulesYAML() []byte {
	var b bytes.Buffer
	b.WriteString("# Detection settings of the simulated deployment (tokentrail simulate):\n")
	b.WriteString("# the defaults, plus the offices' NAT ranges and the VPN egress as trusted\n")
	b.WriteString("# networks, and the identity provider whose issuances are all recorded.\n")
	b.WriteString("trusted_networks:\n")
	for _, p := range d.TrustedNetworks {
		fmt.Fprintf(&b, "  - %s\n", p)
	}
	b.WriteString("rules:\n  unknown_token:\n    issuers:\n")
	for _, iss := range d.Issuers {
		fmt.Fprintf(&b, "      - %s\n", iss)
	}
	return b.Bytes()
}

// EnrichYAML returns the settings that `tokentrail import --enrich` reads
// to load the threat list from threatListPath, which --enrich resolves
// against the folder of the settings file when it is relative.
func EnrichYAML(threatListPath string) []byte {
	return fmt.Appendf(nil, "# Threat list of the simulated deployment (tokentrail simulate).\nreload_interval: -1s\nlists:\n  - name: simulated-threats\n    path: %q\n", threatListPath)
}

// trusted reports whether ip is in a trusted network.
func (d Deployment) trusted(ip netip.Addr) bool {
	for _, p := range d.TrustedNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// listed reports whether ip is on the threat list.
func (d Deployment) listed(ip netip.Addr) bool {
	for _, p := range d.listedRanges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
