package simulate

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// persona is the kind of a subject, which sets where and when its devices
// make requests.
type persona uint8

const (
	// personaOffice works at a company office behind its NAT, some days
	// from home.
	personaOffice persona = iota
	// personaRemote works from home.
	personaRemote
	// personaMobile uses the phone app only.
	personaMobile
	// personaVPN works through the VPN provider the company trusts, some
	// days starting at home before connecting.
	personaVPN
	// personaPartner is a partner's service account: client-credentials
	// tokens used from a cloud server.
	personaPartner
	// personaService is an internal service account in the company's
	// cluster, with tokens of the cluster's own issuer.
	personaService
	// personaGuest is a stream of anonymous visitors whose tokens carry a
	// placeholder subject.
	personaGuest
)

func (p persona) isUser() bool { return p <= personaVPN }

// deviceKind is the client software of a device.
type deviceKind uint8

const (
	deviceLaptop  deviceKind = iota // a web browser
	devicePhone                     // the company's phone app
	deviceService                   // a script or server, for personaPartner and personaService
)

// The issuers. Only the identity provider's issuances are recorded in full,
// so only it is listed for unknown_token.
const (
	issuerIdP     = "https://login.acme.example/realms/acme"
	issuerCluster = "https://kubernetes.default.svc.cluster.local"
	apiAudience   = "https://api.acme.example"
)

// device is one client of a subject, with the sign-in session it holds.
type device struct {
	kind     deviceKind
	clientID string
	scopes   []string

	// ua is the user agent until upgradeDay, and upgraded from that day
	// on: a browser or app update within the same family and, for
	// browsers, a new major version.
	ua, upgraded string
	upgradeDay   int

	// reactive clients send their access token until the gateway rejects
	// it as expired. The others refresh it on a timer shortly before it
	// expires, while the user is active.
	reactive bool

	accessLife  time.Duration // lifetime of an access token
	refreshIdle time.Duration // a refresh token expires this long after it was issued
	sessionMax  time.Duration // no refresh past this long after sign-in

	// The session held now; at is nil when there is none.
	sid          string
	signedIn     time.Time
	at, rt       *token
	atLog        *accessLog
	rtLog        *refreshLog
	lastActive   time.Time // end of the latest period of activity
	carrierAddr  netip.Addr
	carrierGW    int // index into the subject's reachable gateways
	hasCarrierIP bool

	// For service accounts: the address, and the jobs' call rate per
	// minute and length, or a poller's call rate when jobLength is zero.
	serviceAddr netip.Addr
	rate        float64
	jobLength   time.Duration
	jobsPerDay  int
}

// userAgent returns the device's user agent on the given day.
func (d *device) userAgent(day int) string {
	if d.upgraded != "" && day >= d.upgradeDay {
		return d.upgraded
	}
	return d.ua
}

// subject is one subject of the simulation and everything it uses.
type subject struct {
	index   int
	name    string
	persona persona
	region  *region
	home    city
	isp     *network
	// homeAddr is the broadband address; a few subjects get a new one
	// from the same provider during the run, as DHCP leases end.
	homeAddr netip.Addr
	homeWiFi bool // the phone uses the home broadband when at home
	// worksFromHome marks office workers who work at home some days.
	worksFromHome bool
	carrier       *carrier
	reach         []gateway // the carrier's gateways within 350 km of home
	vpn           site
	devices       []*device
	stream        *stream

	// events counts the subject's benign events so far, and firstSeen is
	// the day of its first one, -1 before it: unfamiliar_client attacks
	// pick subjects past their learning period.
	events    int
	firstSeen int
	// victim marks subjects that an attack on one token already targets,
	// so that attacks do not mask one another, and stuffed those whose
	// passwords a credential-stuffing run used.
	victim, stuffed bool
	// seenHome records that the subject used the home broadband, which the
	// first days' schedules make sure of.
	seenHome bool
}

// Browser user agents by family, before and after the mid-run update.
var browsers = []struct {
	family      string
	weight      float64
	before, new string
}{
	{"Chrome", 0.55,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"},
	{"Edge", 0.20,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0"},
	{"Firefox", 0.12,
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0"},
	{"Safari", 0.13,
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15"},
}

// The phone app's user agents. The Android app sends OkHttp's product
// token, so its family is okhttp.
var phoneApps = []struct {
	clientID, before, new string
}{
	{"acme-ios", "AcmePortal/7.4.1 (iPhone; iOS 18.1; Scale/3.00)", "AcmePortal/7.5.0 (iPhone; iOS 18.2; Scale/3.00)"},
	{"acme-android", "AcmePortal/7.4.1 (Linux; Android 14; Pixel 8) okhttp/4.12.0", "AcmePortal/7.5.0 (Linux; Android 14; Pixel 8) okhttp/4.12.0"},
}

// Service accounts' user agents.
var (
	partnerAgents = []string{"python-requests/2.32.3", "Java-http-client/21.0.5", "axios/1.7.9", "Go-http-client/2.0"}
	serviceAgents = []string{
		"report-exporter/v1.31.2 (linux/amd64) kubernetes/8f94681",
		"billing-sync/v1.31.2 (linux/amd64) kubernetes/8f94681",
		"Go-http-client/1.1",
	}
)

// populate creates the subjects of cfg: a fixed share of service accounts
// and guest streams, and people of the four user personas, spread over the
// regions by weight.
func populate(cfg Config) []*subject {
	r := newStream(cfg.Seed, "population")
	n := cfg.Subjects
	partners := max(2, n/100)
	services := max(2, n*3/200)
	guests := max(2, n/200)

	subjects := make([]*subject, 0, n)
	for i := range n {
		s := &subject{index: i, firstSeen: -1, stream: newStream(cfg.Seed, fmt.Sprintf("subject-%d", i))}
		switch {
		case i < partners:
			s.persona = personaPartner
		case i < partners+services:
			s.persona = personaService
		case i < partners+services+guests:
			s.persona = personaGuest
		default:
			s.persona = drawPersona(r)
		}
		s.region = drawRegion(r)
		if s.persona == personaOffice && s.region.office == nil {
			s.persona = personaRemote
		}
		setUp(s, r, cfg)
		subjects = append(subjects, s)
	}
	return subjects
}

func drawPersona(r *stream) persona {
	x := r.rng.Float64()
	switch {
	case x < 0.40:
		return personaOffice
	case x < 0.58:
		return personaRemote
	case x < 0.85:
		return personaMobile
	default:
		return personaVPN
	}
}

func drawRegion(r *stream) *region {
	x := r.rng.Float64()
	for _, reg := range regions {
		if x < reg.weight {
			return reg
		}
		x -= reg.weight
	}
	return regions[len(regions)-1]
}

// The address plan of a residential network's /16: homes take two of every
// three addresses from offset 256 up to homeSlots*3, guests take the
// addresses from guestBase up, and attackers' proxies the top quarter (see
// attackerAddr).
const (
	homeSlots = 1 << 13
	guestBase = 1 << 15
)

// setUp gives s its name, home, networks and devices.
func setUp(s *subject, r *stream, cfg Config) {
	reg := s.region
	s.home = pick(r, reg.cities)
	s.isp = pick(r, reg.isps)
	s.homeAddr = addrAt(s.isp.v4, 256+uint64(s.index%homeSlots)*3+1)
	s.carrier = pick(r, reg.carriers)
	for _, gw := range s.carrier.gateways {
		if distanceKM(s.home, gw.city) <= 350 {
			s.reach = append(s.reach, gw)
		}
	}
	// The nearest gateway first: phones use it most.
	for i := range s.reach {
		if distanceKM(s.home, s.reach[i].city) < distanceKM(s.home, s.reach[0].city) {
			s.reach[0], s.reach[i] = s.reach[i], s.reach[0]
		}
	}
	s.vpn = vpnSiteFor(s.home)

	switch s.persona {
	case personaPartner:
		s.name = fmt.Sprintf("svc-partner-%02d", s.index)
		site := pick(r, []site{nimbusFrankfurt, nimbusAshburn})
		d := &device{kind: deviceService, clientID: s.name, scopes: []string{"orders:read", "orders:export"},
			ua: pick(r, partnerAgents), accessLife: time.Hour,
			serviceAddr: addrAt(site.v4, 1025+uint64(s.index%1400)*5)}
		s.devices = []*device{d}
		return
	case personaService:
		s.name = fmt.Sprintf("system:serviceaccount:batch:job-%02d", s.index)
		d := &device{kind: deviceService, clientID: s.name, ua: pick(r, serviceAgents),
			accessLife: time.Hour, serviceAddr: addrAt(internalPods, 513+uint64(s.index%20000)*3)}
		s.devices = []*device{d}
		return
	case personaGuest:
		s.name = fmt.Sprintf("guest-stream-%02d", s.index)
		return
	}

	s.name = fmt.Sprintf("user-%05d", s.index)
	s.homeWiFi = r.chance(0.7)
	s.worksFromHome = s.persona == personaOffice && r.chance(0.7)
	phoneShare := map[persona]float64{personaOffice: 0.6, personaRemote: 0.35, personaVPN: 0.4, personaMobile: 1}[s.persona]
	if s.persona != personaMobile {
		s.devices = append(s.devices, newLaptop(r, cfg))
	}
	if r.chance(phoneShare) {
		s.devices = append(s.devices, newPhone(r, cfg))
	}
}

func newLaptop(r *stream, cfg Config) *device {
	x := r.rng.Float64()
	b := browsers[len(browsers)-1]
	for _, c := range browsers {
		if x < c.weight {
			b = c
			break
		}
		x -= c.weight
	}
	d := &device{kind: deviceLaptop, clientID: "acme-web", scopes: []string{"openid", "profile", "orders:read", "orders:write"},
		ua: b.before, reactive: r.chance(0.25),
		accessLife: 15 * time.Minute, refreshIdle: time.Hour, sessionMax: 10 * time.Hour}
	if r.chance(0.5) {
		d.upgraded, d.upgradeDay = b.new, r.intBetween(2, cfg.Days)
	}
	return d
}

func newPhone(r *stream, cfg Config) *device {
	app := pick(r, phoneApps)
	d := &device{kind: devicePhone, clientID: app.clientID, scopes: []string{"openid", "profile", "orders:read", "offline_access"},
		ua: app.before, reactive: r.chance(0.1),
		accessLife: 15 * time.Minute, refreshIdle: 14 * 24 * time.Hour, sessionMax: 90 * 24 * time.Hour}
	if r.chance(0.6) {
		d.upgraded, d.upgradeDay = app.new, r.intBetween(2, cfg.Days)
	}
	return d
}

// families returns the user-agent families of the subject's devices, as
// the detection's parser names them.
func (s *subject) families() []string {
	var out []string
	for _, d := range s.devices {
		out = append(out, familyOf(d.ua))
	}
	return out
}

// familyOf returns the family of one of the simulation's own user agents,
// as enrich's parser names it.
func familyOf(ua string) string {
	for _, f := range []struct{ marker, family string }{
		{"HeadlessChrome/", "HeadlessChrome"}, {"Edg/", "Edge"}, {"Firefox/", "Firefox"},
		{"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"okhttp/", "okhttp"}, {"aiohttp/", "aiohttp"},
		{"Java-http-client/", "Java"},
	} {
		if strings.Contains(ua, f.marker) {
			return f.family
		}
	}
	name, _, _ := strings.Cut(ua, "/")
	return name
}
