package simulate

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// token is a token the simulation minted, or an attacker forged.
type token struct {
	jti      string
	issuer   string
	subject  string
	clientID string
	sid      string
	parent   string // the refresh token this one was minted from
	scopes   []string
	iat, exp time.Time
	refresh  bool
}

// client is where a request comes from: its address with what GeoIP data
// says of it, and its user agent.
type client struct {
	ip  netip.Addr
	geo audit.Geo
	ua  string
}

// The sources that record events, and their clocks. The identity provider
// keeps the reference time. The API gateway instances each run a clock off
// by a fixed offset of up to 30 s either way, and each request reaches one
// of them at random.
const (
	gatewayCount = 6
	maxClockSkew = 30 * time.Second

	// gatewayLeeway is how long past exp a gateway still accepts a token,
	// by its own clock, as JWT libraries allow for clock differences.
	gatewayLeeway = 30 * time.Second
)

var idpSources = [2]string{"idp-1", "idp-2"}

// gatewayOffsets draws the clock offsets of the gateway instances. The first
// two sit at the limits, so that every run has the widest skew.
func gatewayOffsets(seed uint64) [gatewayCount]time.Duration {
	r := newStream(seed, "clocks")
	var out [gatewayCount]time.Duration
	out[0], out[1] = maxClockSkew-500*time.Millisecond, -maxClockSkew+500*time.Millisecond
	for i := 2; i < gatewayCount; i++ {
		out[i] = r.between(-maxClockSkew, maxClockSkew)
	}
	return out
}

var gatewayNames = func() (out [gatewayCount]string) {
	for i := range out {
		out[i] = "api-gw-" + strconv.Itoa(i+1)
	}
	return out
}()

// The API the tokens are used on.
var (
	userPaths = []struct{ method, path string }{
		{"GET", "/api/v1/orders"}, {"GET", "/api/v1/orders/{id}"}, {"POST", "/api/v1/orders"},
		{"GET", "/api/v1/profile"}, {"GET", "/api/v1/search"}, {"GET", "/api/v1/invoices"},
		{"GET", "/api/v1/notifications"}, {"PATCH", "/api/v1/orders/{id}"},
	}
	servicePaths = []struct{ method, path string }{
		{"GET", "/api/v1/export/orders"}, {"POST", "/api/v1/sync"}, {"GET", "/api/v1/orders"},
	}
	guestPaths = []struct{ method, path string }{
		{"GET", "/api/v1/catalog"}, {"GET", "/api/v1/catalog/items/{id}"}, {"GET", "/api/v1/search"},
	}
)

// newEvent returns an event of tok with the claims a log records.
func newEvent(s *stream, kind audit.Kind, at time.Time, tok *token, c client) audit.Event {
	e := audit.Event{
		ID:        s.eventID(),
		Time:      at.UTC(),
		Kind:      kind,
		TokenID:   tok.jti,
		Issuer:    tok.issuer,
		Subject:   tok.subject,
		ClientID:  tok.clientID,
		SessionID: tok.sid,
		IssuedAt:  tok.iat,
		ExpiresAt: tok.exp,
		IP:        c.ip,
		UserAgent: c.ua,
		Geo:       c.geo,
	}
	if tok.issuer == issuerIdP {
		e.Audience = []string{apiAudience}
	}
	return e
}

// idpEvent returns an event the identity provider records.
func idpEvent(s *stream, kind audit.Kind, at time.Time, tok *token, c client) audit.Event {
	e := newEvent(s, kind, at, tok, c)
	e.Source = idpSources[s.rng.IntN(len(idpSources))]
	if kind == audit.KindIssued {
		e.ParentTokenID = tok.parent
		e.Scopes = tok.scopes
	}
	return e
}

// gatewayEvent returns an event that gateway gw records of a request made
// at true time at: its time is the gateway's clock.
func (g *generator) gatewayEvent(s *stream, kind audit.Kind, at time.Time, gw int, tok *token, c client, method, path string, status int) audit.Event {
	e := newEvent(s, kind, at.Add(g.offsets[gw]), tok, c)
	e.Source = gatewayNames[gw]
	e.Method, e.Path, e.Status = method, path, status
	return e
}

// mint returns a new token of the device's session.
func mint(s *stream, at time.Time, subject string, d *device, refresh bool, parent string) *token {
	tok := &token{
		jti: s.uuid(), issuer: issuerIdP, subject: subject, clientID: d.clientID, sid: d.sid,
		parent: parent, scopes: d.scopes, refresh: refresh,
		iat: at.Truncate(time.Second), // JWT times are whole seconds
	}
	if refresh {
		tok.exp = tok.iat.Add(d.refreshIdle)
		if limit := d.signedIn.Add(d.sessionMax); tok.exp.After(limit) {
			tok.exp = limit.Truncate(time.Second)
		}
	} else {
		tok.exp = tok.iat.Add(d.accessLife)
	}
	return tok
}
