package storetest

import (
	"container/heap"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Generate returns tokens*eventsPerToken synthetic events that look like the
// traffic of an API behind an OpenID Connect provider, in time order (ties by
// ID), starting on 2025-03-01 with a new session every 4 minutes: 50,000
// tokens span about four weeks. The same arguments give the same events, so benchmarks of
// different packages can fill a store with the same data.
//
// Every token has a random UUID jti and a fingerprint. Tokens come in refresh
// chains of up to five per session, each naming the previous one as
// ParentTokenID. There is one subject for every 16 tokens and one client
// address for every 12, so a store of 50,000 tokens has about 3,000 subjects
// and 4,000 addresses. Addresses are IPv4 from the benchmarking range
// 198.18.0.0/15 and private 10.0.0.0/8, IPv6 from the documentation prefix
// 2001:db8::/32, and a few IPv4-mapped IPv6. A token's events are: issued,
// then uses (about 1 in 100 rejected), then a last event that is a refresh
// when the chain goes on, or else a use, a logout revocation or a rejection
// as expired. Every event is valid (audit.Event.Validate).
//
// tokens <= 0 or eventsPerToken <= 0 yields no events.
func Generate(seed int64, tokens, eventsPerToken int) []audit.Event {
	var events []audit.Event
	if tokens > 0 && eventsPerToken > 0 {
		events = make([]audit.Event, 0, tokens*eventsPerToken)
	}
	for e := range GenerateSeq(seed, tokens, eventsPerToken) {
		events = append(events, e)
	}
	return events
}

// GenerateSeq yields the events of Generate one at a time. It holds only the
// events of the tokens whose lifetimes overlap the event it yields, so it can
// fill a store with more events than fit in memory.
func GenerateSeq(seed int64, tokens, eventsPerToken int) iter.Seq[audit.Event] {
	return func(yield func(audit.Event) bool) {
		if tokens <= 0 || eventsPerToken <= 0 {
			return
		}
		g := newGenerator(seed, tokens, eventsPerToken)
		for {
			e, ok := g.next()
			if !ok || !yield(e) {
				return
			}
		}
	}
}

// The shape of the generated traffic.
const (
	chainLength     = 5                // tokens in a session's refresh chain
	tokensPerUser   = 16               // tokens for each subject
	tokensPerIP     = 12               // tokens for each client address
	sessionSpacing  = 4 * time.Minute  // between the starts of two sessions
	tokenLifetime   = time.Hour        // exp - iat
	refreshAfter    = 50 * time.Minute // a token is refreshed this long after issue
	rejectedPerMill = 10               // rejected uses in every 1,000 uses
)

var generatorStart = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// generator merges the events of overlapping tokens into time order. A token
// is expanded into its events when the merge reaches its issue time. None of
// its events is earlier, so the merge never yields out of order.
type generator struct {
	seed           int64
	tokens         int
	eventsPerToken int
	sessions       int
	nextSession    int // next session whose first token is not yet queued
	subjects       []string
	addresses      []netip.Addr
	pending        pendingHeap
}

type pending struct {
	at    time.Time
	start *tokenStart  // a token to expand, or nil
	event *audit.Event // the event to yield when start is nil
}

// tokenStart is a token of a session's chain that is not yet expanded.
type tokenStart struct {
	session  int
	position int    // 0 for the session's first token
	parent   string // jti of the previous token in the chain
}

func newGenerator(seed int64, tokens, eventsPerToken int) *generator {
	g := &generator{
		seed:           seed,
		tokens:         tokens,
		eventsPerToken: eventsPerToken,
		sessions:       (tokens + chainLength - 1) / chainLength,
	}
	population := rand.New(rand.NewPCG(uint64(seed), 0x706f70)) // "pop"
	g.subjects = make([]string, max(1, tokens/tokensPerUser))
	for i := range g.subjects {
		g.subjects[i] = newSubject(population, i)
	}
	g.addresses = make([]netip.Addr, max(1, tokens/tokensPerIP))
	for i := range g.addresses {
		g.addresses[i] = newAddress(population)
	}
	return g
}

func (g *generator) next() (audit.Event, bool) {
	for {
		// Queue every session that starts no later than the earliest
		// pending item, so that its events take their place in the merge.
		for g.nextSession < g.sessions && (g.pending.Len() == 0 || !g.sessionStart(g.nextSession).After(g.pending[0].at)) {
			heap.Push(&g.pending, pending{at: g.sessionStart(g.nextSession), start: &tokenStart{session: g.nextSession}})
			g.nextSession++
		}
		if g.pending.Len() == 0 {
			return audit.Event{}, false
		}

		p := heap.Pop(&g.pending).(pending)
		if p.start == nil {
			return *p.event, true
		}
		g.expand(*p.start, p.at)
	}
}

func (g *generator) sessionStart(session int) time.Time {
	return generatorStart.Add(time.Duration(session) * sessionSpacing)
}

// expand queues the events of one token, and the start of the next token
// of its chain.
func (g *generator) expand(t tokenStart, issued time.Time) {
	index := t.session*chainLength + t.position
	rng := rand.New(rand.NewPCG(uint64(g.seed), uint64(index)+1))
	session := rand.New(rand.NewPCG(uint64(g.seed), 1<<40|uint64(t.session)))

	// What a session shares: its user, device, client and address.
	subject := g.subjects[session.IntN(len(g.subjects))]
	address := g.addresses[session.IntN(len(g.addresses))]
	userAgent := userAgents[session.IntN(len(userAgents))]
	client := clients[session.IntN(len(clients))]
	sessionID := newUUID(session)
	issuer := issuers[session.IntN(len(issuers))]

	hasChild := t.position+1 < chainLength && index+1 < g.tokens
	jti := newUUID(rng)
	fingerprint := make([]byte, 32)
	for i := range fingerprint {
		fingerprint[i] = byte(rng.Uint32())
	}
	base := audit.Event{
		TokenID:       jti,
		Fingerprint:   hex.EncodeToString(fingerprint),
		Issuer:        issuer,
		Subject:       subject,
		Audience:      client.audience,
		ClientID:      client.id,
		SessionID:     sessionID,
		ParentTokenID: t.parent,
		Scopes:        client.scopes,
		IssuedAt:      issued.Truncate(time.Second),
		NotBefore:     issued.Truncate(time.Second),
		ExpiresAt:     issued.Truncate(time.Second).Add(tokenLifetime),
		UserAgent:     userAgent,
	}

	// Use times: random offsets within the token's life before its
	// refresh, in microseconds as access logs write them.
	uses := max(0, g.eventsPerToken-2)
	offsets := make([]time.Duration, uses)
	for i := range offsets {
		offsets[i] = time.Duration(1+rng.Int64N(int64(refreshAfter/time.Microsecond)-1)) * time.Microsecond
	}
	slices.Sort(offsets)

	for i := 0; i < g.eventsPerToken; i++ {
		e := base
		e.ID = audit.NewID("storetest", strconv.FormatInt(g.seed, 10), strconv.Itoa(index), strconv.Itoa(i))
		e.TraceID = newTraceID(rng)
		e.IP = address
		e.Geo = geoOf(address)
		switch {
		case i == 0:
			e.Time = issued
			g.issue(&e, rng)
		case i == g.eventsPerToken-1:
			if hasChild {
				e.Time = issued.Add(refreshAfter)
				g.issue(&e, rng)
				e.Kind = audit.KindRefreshed
			} else {
				g.end(&e, issued, rng)
			}
		default:
			e.Time = issued.Add(offsets[i-1])
			g.use(&e, rng)
		}
		heap.Push(&g.pending, pending{at: e.Time, event: &e})
	}

	if hasChild {
		next := tokenStart{session: t.session, position: t.position + 1, parent: jti}
		heap.Push(&g.pending, pending{at: issued.Add(refreshAfter), start: &next})
	}
}

// issue makes e the identity provider's token endpoint minting the token.
func (g *generator) issue(e *audit.Event, rng *rand.Rand) {
	e.Kind = audit.KindIssued
	e.Method = "POST"
	e.Path = "/realms/acme/protocol/openid-connect/token"
	e.Status = 200
	e.Source = "keycloak-" + strconv.Itoa(1+rng.IntN(2))
}

// use makes e an API call with the token. Most calls are accepted, some are
// rejected from another address, and some fail with an error status.
func (g *generator) use(e *audit.Event, rng *rand.Rand) {
	e.Kind = audit.KindUsed
	route := routes[rng.IntN(len(routes))]
	e.Method = route.method
	e.Path = fmt.Sprintf(route.path, 1000+rng.IntN(90000))
	e.Source = "orders-api-" + strconv.Itoa(1+rng.IntN(4))
	switch n := rng.IntN(1000); {
	case n < rejectedPerMill:
		e.Kind = audit.KindRejected
		e.RejectReason = []audit.RejectReason{audit.RejectBadSignature, audit.RejectExpired, audit.RejectRevoked}[rng.IntN(3)]
		e.Status = 401
		e.IP = g.addresses[rng.IntN(len(g.addresses))]
		e.Geo = geoOf(e.IP)
	case n < 60:
		e.IP = g.addresses[rng.IntN(len(g.addresses))] // roaming device
		e.Geo = geoOf(e.IP)
		e.Status = route.status
	case n < 80:
		e.Status = []int{403, 404, 409, 500, 503}[rng.IntN(5)]
	default:
		e.Status = route.status
	}
}

// end makes e the last event of a token that is not refreshed: a use or a
// logout before the token expires, or a use rejected after it expired.
func (g *generator) end(e *audit.Event, issued time.Time, rng *rand.Rand) {
	beforeExpiry := issued.Add(refreshAfter + time.Duration(rng.Int64N(int64(tokenLifetime-refreshAfter))))
	switch n := rng.IntN(100); {
	case n < 15:
		e.Time = beforeExpiry
		e.Kind = audit.KindRevoked
		e.Method = "POST"
		e.Path = "/realms/acme/protocol/openid-connect/logout"
		e.Status = 204
		e.Actor = e.Subject
		e.Reason = "user signed out"
		e.RevocationMethod = audit.RevokedByLogout
		e.Source = "keycloak-1"
	case n < 30:
		e.Time = e.ExpiresAt.Add(time.Duration(1 + rng.Int64N(int64(20*time.Minute))))
		g.use(e, rng)
		e.Kind = audit.KindRejected
		e.RejectReason = audit.RejectExpired
		e.Status = 401
	default:
		e.Time = beforeExpiry
		g.use(e, rng)
	}
}

// newSubject returns the sub claim of user i: mostly a UUID, as Keycloak and
// Auth0 write it, sometimes an e-mail address with a non-ASCII name.
func newSubject(rng *rand.Rand, i int) string {
	if rng.IntN(5) > 0 {
		return newUUID(rng)
	}
	names := []string{"zoë", "josé", "łukasz", "ömer", "ana", "美咲", "søren", "chloé", "nguyễn", "priya"}
	return fmt.Sprintf("%s.%d@example.com", names[rng.IntN(len(names))], i)
}

// newAddress returns a client address: 70% public IPv4, 15% private IPv4,
// 13% IPv6, 2% IPv4-mapped IPv6 as dual-stack servers log them.
func newAddress(rng *rand.Rand) netip.Addr {
	switch n := rng.IntN(100); {
	case n < 70:
		return netip.AddrFrom4([4]byte{198, 18 + byte(rng.IntN(2)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	case n < 85:
		return netip.AddrFrom4([4]byte{10, byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))})
	case n < 98:
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		for i := 4; i < 16; i++ {
			b[i] = byte(rng.IntN(256))
		}
		return netip.AddrFrom16(b)
	default:
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{198, 18, byte(rng.IntN(256)), byte(1 + rng.IntN(254))}).As16())
	}
}

// newUUID returns a random (version 4) UUID drawn from rng.
func newUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}

// newTraceID returns a W3C trace-context trace id: 32 lowercase hex digits.
func newTraceID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return hex.EncodeToString(b[:])
}

// geoOf returns a location for a public address, chosen by its bytes so that
// an address always has the same one, and none for a private address.
func geoOf(ip netip.Addr) audit.Geo {
	if ip.Unmap().IsPrivate() {
		return audit.Geo{}
	}
	b := ip.As16()
	return places[(int(b[13])+int(b[14])*7)%len(places)]
}

var places = []audit.Geo{
	{Country: "DE", City: "Berlin", Latitude: 52.52, Longitude: 13.405, AccuracyKM: 20, ASN: 3320, Org: "Deutsche Telekom AG"},
	{Country: "FR", City: "Paris", Latitude: 48.8566, Longitude: 2.3522, AccuracyKM: 10, ASN: 3215, Org: "Orange S.A."},
	{Country: "BR", City: "São Paulo", Latitude: -23.5505, Longitude: -46.6333, AccuracyKM: 50, ASN: 28573, Org: "Claro NXT Telecomunicações"},
	{Country: "JP", City: "東京", Latitude: 35.6762, Longitude: 139.6503, AccuracyKM: 20, ASN: 2516, Org: "KDDI Corporation"},
	{Country: "US", City: "Ashburn", Latitude: 39.0438, Longitude: -77.4874, AccuracyKM: 100, ASN: 14618, Org: "Amazon.com, Inc."},
	{Country: "US", City: "Chicago", Latitude: 41.8781, Longitude: -87.6298, AccuracyKM: 50, ASN: 7922, Org: "Comcast Cable Communications, LLC"},
	{Country: "CH", City: "Zürich", Latitude: 47.3769, Longitude: 8.5417, AccuracyKM: 10, ASN: 3303, Org: "Swisscom (Schweiz) AG"},
	{Country: "PL", City: "Kraków", Latitude: 50.0647, Longitude: 19.945, AccuracyKM: 20, ASN: 5617, Org: "Orange Polska Spolka Akcyjna"},
	{Country: "IN", City: "Bengaluru", Latitude: 12.9716, Longitude: 77.5946, AccuracyKM: 50, ASN: 55836, Org: "Reliance Jio Infocomm Limited"},
	{Country: "ZA", City: "Johannesburg", Latitude: -26.2041, Longitude: 28.0473, AccuracyKM: 50, ASN: 37457, Org: "Telkom SA Ltd."},
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"okhttp/4.12.0",
	"curl/8.5.0",
	"python-requests/2.32.3",
	"Go-http-client/2.0",
	"PostmanRuntime/7.42.0",
}

type client struct {
	id       string
	audience []string
	scopes   []string
}

var clients = []client{
	{"web-portal", []string{"orders-api"}, []string{"openid", "profile", "orders:read", "orders:write"}},
	{"mobile-app", []string{"orders-api", "billing-api"}, []string{"openid", "offline_access", "orders:read"}},
	{"partner-sync", []string{"orders-api"}, []string{"orders:read"}},
	{"admin-console", []string{"orders-api", "admin-api"}, []string{"openid", "profile", "orders:admin"}},
}

var issuers = []string{
	"https://sso.example.com/realms/acme",
	"https://sso.example.com/realms/globex",
	"https://login.example.org/tenant-7/v2.0",
}

type route struct {
	method string
	path   string // with one %d for a resource number
	status int
}

var routes = []route{
	{"GET", "/api/v1/orders/%d", 200},
	{"GET", "/api/v1/orders?customer=%d", 200},
	{"POST", "/api/v1/orders/%d/items", 201},
	{"DELETE", "/api/v1/orders/%d", 204},
	{"GET", "/api/v1/customers/%d/invoices", 200},
	{"PUT", "/api/v1/customers/%d/address", 200},
	{"GET", "/api/v2/search/products/%d", 200},
}

// pendingHeap orders pending items by time. At equal times a token start
// comes first, so that its events join the merge before any event of that
// instant is yielded. Events at equal times follow in ID order.
type pendingHeap []pending

func (h pendingHeap) Len() int { return len(h) }

func (h pendingHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	if (h[i].start == nil) != (h[j].start == nil) {
		return h[i].start != nil
	}
	if h[i].start != nil {
		return h[i].start.session < h[j].start.session
	}
	return h[i].event.ID < h[j].event.ID
}

func (h pendingHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

func (h *pendingHeap) Push(x any) { *h = append(*h, x.(pending)) }

func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = pending{}
	*h = old[:len(old)-1]
	return x
}
