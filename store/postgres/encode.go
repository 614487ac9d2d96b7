package postgres

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tokentrail/tokentrail/audit"
)

// eventColumns are the columns of an events row that encodeEvent fills and
// eventRow reads, in that order. revocation_seq follows them in a COPY.
var eventColumns = []string{
	"id", "time_ns", "kind", "action",
	"token_id", "fingerprint", "issuer", "subject", "audience", "client_id",
	"session_id", "parent_token_id", "scopes", "issued_at", "not_before", "expires_at",
	"ip", "user_agent",
	"geo_country", "geo_city", "geo_latitude", "geo_longitude", "geo_accuracy_km", "geo_asn", "geo_org",
	"method", "path", "status", "trace_id",
	"actor", "reason", "revocation_method", "revocation_scope", "reject_reason",
	"source",
}

// selectColumns is the SELECT list of eventColumns.
var selectColumns = strings.Join(eventColumns, ", ")

// The range of times that fit int64 nanoseconds since the Unix epoch, from
// 1677-09-21 to 2262-04-11. Validate keeps Event.Time within it.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// checkEvent runs Validate, and then checkStorable.
func checkEvent(e *audit.Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	return checkStorable(e)
}

// checkStorable reports what Validate lets through but this store cannot
// keep faithfully, as an *audit.FieldError so that callers match it like one
// from Validate: a Geo coordinate that is infinite or NaN, which
// store/sqlite rejects too, and a NUL character in a text field, which
// PostgreSQL text cannot hold.
func checkStorable(e *audit.Event) error {
	geo := [...]struct {
		name  string
		value float64
	}{
		{"Geo.Latitude", e.Geo.Latitude},
		{"Geo.Longitude", e.Geo.Longitude},
		{"Geo.AccuracyKM", e.Geo.AccuracyKM},
	}
	for _, g := range geo {
		if math.IsNaN(g.value) || math.IsInf(g.value, 0) {
			return &audit.FieldError{Field: g.name, Value: strconv.FormatFloat(g.value, 'g', -1, 64), Reason: "is not a finite number"}
		}
	}

	texts := [...]struct{ name, value string }{
		{"ID", e.ID}, {"Action", e.Action}, {"TokenID", e.TokenID}, {"Issuer", e.Issuer},
		{"Subject", e.Subject}, {"ClientID", e.ClientID}, {"SessionID", e.SessionID},
		{"ParentTokenID", e.ParentTokenID}, {"UserAgent", e.UserAgent},
		{"Geo.Country", e.Geo.Country}, {"Geo.City", e.Geo.City}, {"Geo.Org", e.Geo.Org},
		{"Method", e.Method}, {"Path", e.Path}, {"TraceID", e.TraceID}, {"Actor", e.Actor},
		{"Reason", e.Reason}, {"RevocationMethod", string(e.RevocationMethod)},
		{"RevocationScope", string(e.RevocationScope)}, {"RejectReason", string(e.RejectReason)},
		{"Source", e.Source},
	}
	for _, f := range texts {
		if err := checkNUL(f.name, f.value); err != nil {
			return err
		}
	}
	for _, list := range [...]struct {
		name   string
		values []string
	}{{"Audience", e.Audience}, {"Scopes", e.Scopes}} {
		for _, v := range list.values {
			if err := checkNUL(list.name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkNUL returns an *audit.FieldError when value holds a NUL character.
func checkNUL(field, value string) error {
	if strings.IndexByte(value, 0) < 0 {
		return nil
	}
	return &audit.FieldError{Field: field, Value: strings.ReplaceAll(value, "\x00", `\x00`), Reason: "contains a NUL character, which PostgreSQL text cannot hold"}
}

// encodeEvent returns the values of eventColumns for e, which must have
// passed checkEvent. A zero field becomes NULL.
func encodeEvent(e *audit.Event) []any {
	return []any{
		e.ID,
		e.Time.UnixNano(),
		int16(e.Kind),
		nullText(e.Action),
		nullText(e.TokenID),
		encodeFingerprint(e.Fingerprint),
		nullText(e.Issuer),
		nullText(e.Subject),
		nullList(e.Audience),
		nullText(e.ClientID),
		nullText(e.SessionID),
		nullText(e.ParentTokenID),
		nullList(e.Scopes),
		encodeTime(e.IssuedAt),
		encodeTime(e.NotBefore),
		encodeTime(e.ExpiresAt),
		encodeIP(e.IP),
		nullText(e.UserAgent),
		nullText(e.Geo.Country),
		nullText(e.Geo.City),
		nullFloat(e.Geo.Latitude),
		nullFloat(e.Geo.Longitude),
		nullFloat(e.Geo.AccuracyKM),
		nullInt(int64(e.Geo.ASN)),
		nullText(e.Geo.Org),
		nullText(e.Method),
		nullText(e.Path),
		nullInt32(int32(e.Status)),
		nullText(e.TraceID),
		nullText(e.Actor),
		nullText(e.Reason),
		nullText(string(e.RevocationMethod)),
		nullText(string(e.RevocationScope)),
		nullText(string(e.RejectReason)),
		nullText(e.Source),
	}
}

// eventRow receives one row of eventColumns. Its pointers are nil for NULL.
type eventRow struct {
	id                                           string
	timeNS                                       int64
	kind                                         int16
	action, tokenID                              *string
	fingerprint                                  []byte
	issuer, subject                              *string
	audience                                     []string
	clientID, sessionID, parentTokenID           *string
	scopes                                       []string
	issuedAt, notBefore, expiresAt               pgtype.Numeric
	ip                                           []byte
	userAgent, country, city                     *string
	latitude, longitude, accuracy                *float64
	asn                                          *int64
	org, method, path                            *string
	status                                       *int32
	traceID, actor, reason                       *string
	revocationMethod, revocationScope, rejectWhy *string
	source                                       *string
}

// dest returns the scan destinations of eventColumns, followed by extra.
func (r *eventRow) dest(extra ...any) []any {
	return append([]any{
		&r.id, &r.timeNS, &r.kind, &r.action,
		&r.tokenID, &r.fingerprint, &r.issuer, &r.subject, &r.audience, &r.clientID,
		&r.sessionID, &r.parentTokenID, &r.scopes, &r.issuedAt, &r.notBefore, &r.expiresAt,
		&r.ip, &r.userAgent,
		&r.country, &r.city, &r.latitude, &r.longitude, &r.accuracy, &r.asn, &r.org,
		&r.method, &r.path, &r.status, &r.traceID,
		&r.actor, &r.reason, &r.revocationMethod, &r.revocationScope, &r.rejectWhy,
		&r.source,
	}, extra...)
}

// event builds the Event that r holds.
func (r *eventRow) event() (audit.Event, error) {
	e := audit.Event{
		ID:               r.id,
		Time:             time.Unix(0, r.timeNS).UTC(),
		Kind:             audit.Kind(r.kind),
		Action:           text(r.action),
		TokenID:          text(r.tokenID),
		Issuer:           text(r.issuer),
		Subject:          text(r.subject),
		Audience:         r.audience,
		ClientID:         text(r.clientID),
		SessionID:        text(r.sessionID),
		ParentTokenID:    text(r.parentTokenID),
		Scopes:           r.scopes,
		UserAgent:        text(r.userAgent),
		Method:           text(r.method),
		Path:             text(r.path),
		TraceID:          text(r.traceID),
		Actor:            text(r.actor),
		Reason:           text(r.reason),
		RevocationMethod: audit.RevocationMethod(text(r.revocationMethod)),
		RevocationScope:  audit.RevocationScope(text(r.revocationScope)),
		RejectReason:     audit.RejectReason(text(r.rejectWhy)),
		Source:           text(r.source),
		Geo: audit.Geo{
			Country:    text(r.country),
			City:       text(r.city),
			Latitude:   float(r.latitude),
			Longitude:  float(r.longitude),
			AccuracyKM: float(r.accuracy),
			Org:        text(r.org),
		},
	}
	if r.asn != nil {
		e.Geo.ASN = uint32(*r.asn)
	}
	if r.status != nil {
		e.Status = int(*r.status)
	}
	var err error
	if e.Fingerprint, err = decodeFingerprint(r.fingerprint); err != nil {
		return e, fmt.Errorf("event %s: column fingerprint: %w", e.ID, err)
	}
	if e.IP, err = decodeIP(r.ip); err != nil {
		return e, fmt.Errorf("event %s: column ip: %w", e.ID, err)
	}
	times := [...]struct {
		name string
		dst  *time.Time
		src  pgtype.Numeric
	}{
		{"issued_at", &e.IssuedAt, r.issuedAt},
		{"not_before", &e.NotBefore, r.notBefore},
		{"expires_at", &e.ExpiresAt, r.expiresAt},
	}
	for _, t := range times {
		if *t.dst, err = decodeTime(t.src); err != nil {
			return e, fmt.Errorf("event %s: column %s: %w", e.ID, t.name, err)
		}
	}
	return e, nil
}

// encodeFingerprint stores a fingerprint, which Validate guarantees to be 64
// lowercase hex digits, as its 32 bytes.
func encodeFingerprint(fp string) any {
	if fp == "" {
		return nil
	}
	b, err := hex.DecodeString(fp)
	if err != nil {
		// Unreachable after Validate, which makes the query filter and
		// checkEvent reject such a fingerprint first.
		panic(fmt.Sprintf("postgres: encode fingerprint %q: %v", fp, err))
	}
	return b
}

func decodeFingerprint(b []byte) (string, error) {
	switch len(b) {
	case 0:
		return "", nil
	case 32:
		return hex.EncodeToString(b), nil
	}
	return "", fmt.Errorf("got %d bytes, want 32", len(b))
}

// nanosPerSecond converts seconds to the nanoseconds of a numeric time.
var nanosPerSecond = big.NewInt(1e9)

// encodeTime stores an optional time as numeric nanoseconds since the Unix
// epoch, which holds every time.Time that a JSON time can give, such as
// the year 1 or 9999, with its nanoseconds. A zero time is NULL.
func encodeTime(t time.Time) pgtype.Numeric {
	if t.IsZero() {
		return pgtype.Numeric{}
	}
	ns := new(big.Int).Mul(big.NewInt(t.Unix()), nanosPerSecond)
	ns.Add(ns, big.NewInt(int64(t.Nanosecond())))
	return pgtype.Numeric{Int: ns, Valid: true}
}

func decodeTime(n pgtype.Numeric) (time.Time, error) {
	if !n.Valid {
		return time.Time{}, nil
	}
	if n.NaN || n.InfinityModifier != pgtype.Finite {
		return time.Time{}, fmt.Errorf("got %v, want a whole number of nanoseconds", n)
	}
	ns := new(big.Int).Set(n.Int)
	if n.Exp > 0 {
		ns.Mul(ns, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n.Exp)), nil))
	} else if n.Exp < 0 {
		var rem big.Int
		ns.QuoRem(ns, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-n.Exp)), nil), &rem)
		if rem.Sign() != 0 {
			return time.Time{}, fmt.Errorf("got a fraction of a nanosecond, want a whole number")
		}
	}
	sec, nsec := new(big.Int).DivMod(ns, nanosPerSecond, new(big.Int))
	if !sec.IsInt64() {
		return time.Time{}, fmt.Errorf("got %s nanoseconds, out of the range of time.Time", ns)
	}
	return time.Unix(sec.Int64(), nsec.Int64()).UTC(), nil
}

// encodeIP stores an address as netip.Addr.MarshalBinary does: 4 bytes for
// IPv4, 16 for IPv6 (an IPv4-mapped address included) followed by the zone.
// So every address comes back in the form it was given, and the addresses
// of a network are one range of byte strings.
func encodeIP(ip netip.Addr) []byte {
	if !ip.IsValid() {
		return nil
	}
	b, _ := ip.MarshalBinary() // never fails
	return b
}

func decodeIP(b []byte) (netip.Addr, error) {
	var ip netip.Addr
	if b == nil {
		return ip, nil
	}
	err := ip.UnmarshalBinary(b)
	return ip, err
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullList stores an empty list as NULL, which reads back as nil.
func nullList(list []string) any {
	if len(list) == 0 {
		return nil
	}
	return list
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

func nullInt32(n int32) any {
	if n == 0 {
		return nil
	}
	return n
}

func nullFloat(f float64) any {
	if f == 0 {
		return nil
	}
	return f
}

func text(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func float(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
