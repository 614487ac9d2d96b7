package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// RuleImpossibleTravel is the name of the rule in this file.
const RuleImpossibleTravel = "impossible_travel"

// place is a geolocated use of a token.
type place struct {
	at       int64
	lat, lon float32
	accuracy float32 // km
	asn      uint32
	client   uint64 // hash of the session ID and user agent
	id       string // the event; empty when there is no place yet
}

// impossibleTravel raises impossible_travel when the token's latest two
// geolocated observations are farther apart, less both accuracy radii,
// than MaxSpeedKMH allows in the time between them.
//
// An observation gives no location, and so never a verdict, when its Geo
// has no coordinates (missing, or 0/0), when its address is reserved (see
// isReserved) or trusted. An observation without an address but with
// coordinates, as identity providers report them, counts.
//
// A mobile carrier may hand one phone addresses that geolocate to cities
// far apart. Two observations within CarrierWindow, at most CarrierMaxKM
// apart, with the same ASN, the same non-empty session ID and the same user
// agent are taken to be such a phone. The session ID travels with the token,
// so a thief shares it; the ASN and user agent are what tell them apart.
func (c *check) impossibleTravel() {
	cfg := c.engine.cfg.Rules.ImpossibleTravel
	ev := c.ev
	if cfg.Disabled || !c.isObservation() || !ev.Geo.HasCoordinates() {
		return
	}
	if ip := ev.IP.Unmap(); ip.IsValid() && (isReserved(ip) || c.engine.isTrusted(ip)) {
		return
	}

	cur := place{
		at:       ev.Time.UnixNano(),
		lat:      float32(ev.Geo.Latitude),
		lon:      float32(ev.Geo.Longitude),
		accuracy: float32(cfg.DefaultAccuracyKM),
		asn:      ev.Geo.ASN,
		client:   clientHash(ev),
		id:       ev.ID,
	}
	if ev.Geo.AccuracyKM > 0 {
		cur.accuracy = float32(ev.Geo.AccuracyKM)
	}
	prev := c.st.place
	c.st.place = cur
	if prev.id == "" {
		return
	}

	km := distanceKM(float64(prev.lat), float64(prev.lon), float64(cur.lat), float64(cur.lon))
	beyond := km - float64(prev.accuracy) - float64(cur.accuracy)
	if beyond <= 0 {
		return
	}
	elapsed := time.Duration(cur.at - prev.at)
	if prev.asn != 0 && prev.asn == cur.asn && prev.client == cur.client && ev.SessionID != "" &&
		elapsed <= cfg.CarrierWindow && km <= cfg.CarrierMaxKM {
		return
	}
	speed := math.Inf(1)
	if elapsed > 0 {
		speed = beyond / elapsed.Hours()
	}
	if speed <= cfg.MaxSpeedKMH {
		return
	}

	c.raise(RuleImpossibleTravel, cfg.Severity,
		fmt.Sprintf("Token %s was used %.0f km apart within %s, faster than %.0f km/h: check whether the subject uses a VPN, and revoke the token if not.",
			c.st.key, km, FormatDuration(elapsed), cfg.MaxSpeedKMH),
		prev.id, cur.id)
}

// clientHash returns the 64-bit FNV-1a hash of the event's session ID and
// user agent, or 0 when the session ID is empty.
func clientHash(ev *audit.Event) uint64 {
	if ev.SessionID == "" {
		return 0
	}
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(ev.SessionID); i++ {
		h = (h ^ uint64(ev.SessionID[i])) * prime
	}
	h = (h ^ 0) * prime // separates the two strings
	for i := 0; i < len(ev.UserAgent); i++ {
		h = (h ^ uint64(ev.UserAgent[i])) * prime
	}
	return h
}

// distanceKM returns the great-circle distance between two points given in
// degrees, by the haversine formula on a sphere of the Earth's mean radius.
func distanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	const earthRadiusKM = 6371.0
	const rad = math.Pi / 180
	dlat := (lat2 - lat1) * rad
	dlon := (lon2 - lon1) * rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) +
		math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusKM * math.Asin(math.Sqrt(min(a, 1)))
}
