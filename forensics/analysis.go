package forensics

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Defaults of IncidentOptions.
const (
	defaultMaxTimeline = 5000
	defaultMaxTokens   = 500
	defaultMaxNetworks = 20
	defaultActor       = "incident-response"
)

// maxLineage bounds the walk from a token to the root of its refresh
// lineage, so that a cycle of parent links in bad data cannot loop.
const maxLineage = 64

// ruleUnknownToken is detect.RuleUnknownToken, which forensics cannot
// import without depending on the detection engine.
const ruleUnknownToken = "unknown_token"

func (q IncidentQuery) validate() error {
	switch {
	case q.Subject == "":
		return fmt.Errorf("%w: Subject is empty (want the sub of the user or service account)", ErrInvalidQuery)
	case q.At.IsZero():
		return fmt.Errorf("%w: At is zero (want the time of the incident)", ErrInvalidQuery)
	case q.Window < 0:
		return fmt.Errorf("%w: Window is %s (want a positive half-width, or 0 for %s)", ErrInvalidQuery, q.Window, DefaultIncidentWindow)
	}
	return nil
}

func (o *IncidentOptions) setDefaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxTimeline <= 0 {
		o.MaxTimeline = defaultMaxTimeline
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = defaultMaxTokens
	}
	if o.MaxNetworks <= 0 {
		o.MaxNetworks = defaultMaxNetworks
	}
	if o.Actor == "" {
		o.Actor = defaultActor
	}
}

// loaded is an event in the analysis, with why it was loaded.
type loaded struct {
	event       audit.Event
	subject     bool // an event of the subject's tokens
	network     bool // loaded as activity of a suspicious network
	fromNetwork bool // its IP lies in a suspicious network
}

// netState is a suspicious network while the analysis builds it.
type netState struct {
	prefix    netip.Prefix
	addresses []string
	rules     []string
	anomalies int
	asn       uint32
	org       string
	country   string
	events    int
	truncated bool
	first     time.Time
	last      time.Time
}

// analysis holds the state of one AnalyzeIncident call.
type analysis struct {
	db           IncidentStore
	revocations  map[string][]audit.Event // query results of scopedRevocations, by query
	opts         IncidentOptions
	subject      string
	since, until time.Time
	report       *IncidentReport

	events    map[string]*loaded // by event ID
	tokens    []string           // the subject's token ids, in order of first event
	anomalies map[string]audit.Anomaly
	networks  []*netState

	impacted []ImpactedToken // the tokens accepted from suspicious networks

	roots map[string]string // root of the refresh family, by token id
}

func (a *analysis) note(format string, args ...any) {
	a.report.Notes = append(a.report.Notes, fmt.Sprintf(format, args...))
}

// add records an event of the subject's tokens (subject true) or of a
// suspicious network.
func (a *analysis) add(e audit.Event, subject bool) {
	l := a.events[e.ID]
	if l == nil {
		l = &loaded{event: e}
		a.events[e.ID] = l
	}
	if subject {
		l.subject = true
	} else {
		l.network = true
	}
}

// query runs q bounded to the window and to MaxTimeline events. When more
// events match, it narrows the window around the incident time until they
// fit, so that the events nearest the incident are read rather than the
// oldest ones. It returns the part of the window it read, and whether that
// is less than the whole.
func (a *analysis) query(ctx context.Context, q store.Query, scope string) ([]audit.Event, store.TimeRange, bool, error) {
	return a.queryIn(ctx, q, scope, store.TimeRange{Since: a.since, Until: a.until})
}

// queryIn is query within r, a part of the window around the incident
// time.
func (a *analysis) queryIn(ctx context.Context, q store.Query, scope string, r store.TimeRange) ([]audit.Event, store.TimeRange, bool, error) {
	at := a.report.At
	for {
		q.Since, q.Until, q.Limit = r.Since, r.Until, a.opts.MaxTimeline+1
		events, err := a.db.Events(ctx, q)
		if err != nil {
			return nil, r, false, fmt.Errorf("query events of %s: %w", scope, err)
		}
		cut := !r.Since.Equal(a.since) || !r.Until.Equal(a.until)
		if len(events) <= a.opts.MaxTimeline {
			return events, r, cut, nil
		}

		// Halve the span on each side of the incident time, within the
		// window. A second is as narrow as it goes: past that, the events
		// of one instant are cut, the oldest first.
		before, after := at.Sub(r.Since)/2, r.Until.Sub(at)/2
		if before < time.Second/2 && after < time.Second/2 {
			return events[:a.opts.MaxTimeline], r, true, nil
		}
		r = store.TimeRange{Since: at.Add(-before), Until: at.Add(after)}
	}
}

// cutNote notes that the events of scope did not fit MaxTimeline, and
// which part of the window the analysis read instead.
func (a *analysis) cutNote(scope string, read store.TimeRange, n int) {
	a.note("%s has more than %d events in the window: the analysis reads the %d nearest the incident time, from %s to %s; "+
		"raise the limit (--max-timeline in the CLI) to read more", scope, a.opts.MaxTimeline, n, formatTime(read.Since), formatTime(read.Until))
}

// anomaliesOf runs q bounded to the window and to MaxTimeline anomalies,
// with a note when more matched.
func (a *analysis) anomaliesOf(ctx context.Context, q store.AnomalyQuery, scope string) ([]audit.Anomaly, error) {
	q.Since, q.Until, q.Limit = a.since, a.until, a.opts.MaxTimeline+1
	found, err := a.db.Anomalies(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("query anomalies of %s: %w", scope, err)
	}
	if len(found) > a.opts.MaxTimeline {
		a.note("%s has more than %d anomalies in the window: the analysis reads the oldest %d", scope, a.opts.MaxTimeline, a.opts.MaxTimeline)
		found = found[:a.opts.MaxTimeline]
	}
	return found, nil
}

// loadSubject loads the subject's events in the window, then every event
// of the tokens they name, since some sources record a token's rejection or
// use by jti alone, without its subject.
func (a *analysis) loadSubject(ctx context.Context) error {
	events, read, cut, err := a.query(ctx, store.Query{Subject: a.subject}, fmt.Sprintf("subject %q", a.subject))
	if err != nil {
		return err
	}
	if cut {
		a.cutNote("the subject", read, len(events))
	}
	for _, e := range events {
		a.add(e, true)
		if e.TokenID != "" && !slices.Contains(a.tokens, e.TokenID) {
			a.tokens = append(a.tokens, e.TokenID)
		}
	}

	if len(a.tokens) > a.opts.MaxTokens {
		a.note("the subject has %d tokens in the window: the events recorded without subject are read for the first %d only",
			len(a.tokens), a.opts.MaxTokens)
	}
	// When the subject's events were read from part of the window, so are
	// its tokens', so that the timeline covers one span.
	for _, jti := range a.tokens[:min(len(a.tokens), a.opts.MaxTokens)] {
		events, _, _, err := a.queryIn(ctx, store.Query{TokenID: jti}, fmt.Sprintf("token %q", jti), read)
		if err != nil {
			return err
		}
		for _, e := range events {
			a.add(e, true)
		}
	}
	return nil
}

// loadAnomalies collects the stored anomalies of the subject and of its
// tokens in the window, and those that Detect finds.
func (a *analysis) loadAnomalies(ctx context.Context) error {
	keep := func(list []audit.Anomaly) {
		for _, an := range list {
			if an.Severity >= a.opts.MinSeverity {
				a.anomalies[an.ID] = an
			}
		}
	}

	found, err := a.anomaliesOf(ctx, store.AnomalyQuery{Subject: a.subject}, fmt.Sprintf("subject %q", a.subject))
	if err != nil {
		return err
	}
	keep(found)
	for _, jti := range a.tokens[:min(len(a.tokens), a.opts.MaxTokens)] {
		found, err := a.anomaliesOf(ctx, store.AnomalyQuery{TokenID: jti}, fmt.Sprintf("token %q", jti))
		if err != nil {
			return err
		}
		keep(found)
	}

	if a.opts.Detect != nil {
		found, err := a.opts.Detect(a.sortedEvents(func(l *loaded) bool { return l.subject }))
		if err != nil {
			return fmt.Errorf("detect anomalies of subject %q: %w", a.subject, err)
		}
		keep(found)
	}
	return nil
}

// findNetworks turns the addresses that the anomalies name into suspicious
// networks: each anomaly's client address and the addresses of the events
// of its evidence. The evidence matters because the event that completes
// an anomaly, such as the third turn of a concurrent use, may come from the
// victim, while an earlier one comes from the attacker.
func (a *analysis) findNetworks() {
	home := map[netip.Prefix]bool{}
	for _, l := range a.events {
		// A token minted from a refresh token is issued wherever the
		// refresh token is redeemed, which may be the attacker. A sign-in
		// is where the user is, unless the credentials were stolen.
		if l.subject && l.event.Kind == audit.KindIssued && l.event.ParentTokenID == "" && l.event.IP.IsValid() {
			home[networkPrefix(l.event.IP)] = true
		}
	}

	found := map[netip.Prefix]*netState{}
	skipped := map[netip.Prefix]bool{}
	for _, an := range a.sortedAnomalies() {
		type client struct {
			ip  netip.Addr
			geo audit.Geo
		}
		clients := []client{{an.IP, audit.Geo{ASN: an.ASN, Org: an.Org, Country: an.Country}}}
		for _, id := range an.EventIDs {
			if l := a.events[id]; l != nil {
				clients = append(clients, client{l.event.IP, l.event.Geo})
			}
		}

		counted := map[netip.Prefix]bool{}
		for _, c := range clients {
			if !a.suspectable(c.ip) {
				continue
			}
			p := networkPrefix(c.ip)
			if home[p] {
				skipped[p] = true
				continue
			}
			ns := found[p]
			if ns == nil {
				ns = &netState{prefix: p}
				found[p] = ns
			}
			if s := c.ip.Unmap().String(); !slices.Contains(ns.addresses, s) {
				ns.addresses = append(ns.addresses, s)
			}
			if !slices.Contains(ns.rules, an.Rule) {
				ns.rules = append(ns.rules, an.Rule)
			}
			ns.asn = cmp.Or(ns.asn, c.geo.ASN)
			ns.org = cmp.Or(ns.org, c.geo.Org)
			ns.country = cmp.Or(ns.country, c.geo.Country)
			if !counted[p] {
				counted[p] = true
				ns.anomalies++
			}
		}
	}

	own := make([]netip.Prefix, 0, len(skipped))
	for p := range skipped {
		own = append(own, p)
	}
	slices.SortFunc(own, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	for _, p := range own {
		a.note("anomalies name addresses in %s, but tokens of %q were issued from that network in the window, "+
			"so it is taken as the subject's own network and not as suspicious", p, a.subject)
	}
	for _, ns := range found {
		a.networks = append(a.networks, ns)
	}
	slices.SortFunc(a.networks, func(x, y *netState) int {
		return cmp.Or(cmp.Compare(y.anomalies, x.anomalies), x.prefix.Addr().Compare(y.prefix.Addr()))
	})
	if len(a.networks) > a.opts.MaxNetworks {
		a.note("anomalies name %d networks: the analysis follows the %d named by the most anomalies", len(a.networks), a.opts.MaxNetworks)
		a.networks = a.networks[:a.opts.MaxNetworks]
	}
}

// suspectable reports whether ip can make a network suspicious: a public
// address outside the trusted networks.
func (a *analysis) suspectable(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
		return false
	}
	for _, p := range a.opts.Trusted {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// loadNetworks loads each suspicious network's events and anomalies in the
// window, and marks every loaded event that came from one.
func (a *analysis) loadNetworks(ctx context.Context) error {
	for _, ns := range a.networks {
		events, read, cut, err := a.query(ctx, store.Query{Network: ns.prefix}, "network "+ns.prefix.String())
		if err != nil {
			return err
		}
		if cut {
			ns.truncated = true
			a.cutNote("network "+ns.prefix.String(), read, len(events))
		}
		ns.events = len(events)
		if len(events) > 0 {
			ns.first, ns.last = events[0].Time, events[len(events)-1].Time
		}
		for _, e := range events {
			a.add(e, false)
		}

		// Network rules, such as a burst of forged tokens, and anomalies
		// of other subjects' tokens from the same network.
		found, err := a.anomaliesOf(ctx, store.AnomalyQuery{Network: ns.prefix, MinSeverity: a.opts.MinSeverity}, "network "+ns.prefix.String())
		if err != nil {
			return err
		}
		for _, an := range found {
			a.anomalies[an.ID] = an
			if !slices.Contains(ns.rules, an.Rule) {
				ns.rules = append(ns.rules, an.Rule)
			}
		}
	}

	for _, l := range a.events {
		l.fromNetwork = a.suspiciousNetwork(l.event.IP) != nil
	}
	return nil
}

// suspiciousNetwork returns the suspicious network that ip lies in, or nil.
func (a *analysis) suspiciousNetwork(ip netip.Addr) *netState {
	if !ip.IsValid() {
		return nil
	}
	ip = ip.Unmap().WithZone("")
	for _, ns := range a.networks {
		if ns.prefix.Contains(ip) {
			return ns
		}
	}
	return nil
}

// sortedEvents returns the loaded events that keep accepts, oldest first
// with ties broken by ID.
func (a *analysis) sortedEvents(keep func(*loaded) bool) []audit.Event {
	var list []audit.Event
	for _, l := range a.events {
		if keep(l) {
			list = append(list, l.event)
		}
	}
	slices.SortFunc(list, compareEvents)
	return list
}

func (a *analysis) sortedAnomalies() []audit.Anomaly {
	list := make([]audit.Anomaly, 0, len(a.anomalies))
	for _, an := range a.anomalies {
		list = append(list, an)
	}
	slices.SortFunc(list, func(x, y audit.Anomaly) int {
		return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.ID, y.ID))
	})
	return list
}

func compareEvents(x, y audit.Event) int {
	return cmp.Or(x.Time.Compare(y.Time), cmp.Compare(x.ID, y.ID))
}

// networkPrefix returns the /24 of an IPv4 (or IPv4-mapped) address and
// the /64 of an IPv6 one, as Network does in text.
func networkPrefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits) // a valid address always has these prefixes
	return p
}

// accepted reports whether e is a use or refresh that the service let
// through: a status below 400, or none recorded.
func accepted(e *audit.Event) bool {
	return (e.Kind == audit.KindUsed || e.Kind == audit.KindRefreshed) && (e.Status == 0 || e.Status < 400)
}
