package sqlite

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// tokenColumns are the columns of a tokens row after token_key, in the order
// that encodeToken fills.
var tokenColumns = []string{
	"token_id", "fingerprint", "issuer", "subject", "audience", "client_id",
	"session_id", "parent_token_id", "scopes", "issued_at", "not_before", "expires_at",
}

// eventColumns are the columns of an events row after seq, in the order that
// encodeEvent fills.
var eventColumns = []string{
	"id", "token_key", "time_ns", "kind",
	"ip", "user_agent",
	"geo_country", "geo_city", "geo_latitude", "geo_longitude", "geo_accuracy_km", "geo_asn", "geo_org",
	"method", "path", "status", "trace_id",
	"actor", "reason", "revocation_method", "reject_reason",
	"source", "action", "revocation_scope",
}

// selectColumns are the columns that a query reads for decodeEvent: those
// of the event without token_key, then those of its token.
var selectColumns = func() []string {
	var list []string
	for _, c := range eventColumns {
		if c != "token_key" {
			list = append(list, "e."+c)
		}
	}
	for _, c := range tokenColumns {
		list = append(list, "t."+c)
	}
	return list
}()

// The range of times that fit int64 nanoseconds since the Unix epoch, from
// 1677-09-21 to 2262-04-11. Validate keeps Event.Time within it, and
// encodeTime stores other times another way.
var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// checkStorable reports what Validate lets through but this store cannot keep
// faithfully, as an *audit.FieldError so that callers match it like one from
// Validate.
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
		// SQLite stores NaN as NULL, which would read back as 0.
		if math.IsNaN(g.value) || math.IsInf(g.value, 0) {
			return &audit.FieldError{Field: g.name, Value: strconv.FormatFloat(g.value, 'g', -1, 64), Reason: "is not a finite number"}
		}
	}
	return nil
}

// encodeToken fills args, which has one element for each of tokenColumns,
// with the token fields of e. A zero field becomes NULL.
func encodeToken(e *audit.Event, args []any) {
	args[0] = nullText(e.TokenID)
	args[1] = encodeFingerprint(e.Fingerprint)
	args[2] = nullText(e.Issuer)
	args[3] = nullText(e.Subject)
	args[4] = encodeList(e.Audience)
	args[5] = nullText(e.ClientID)
	args[6] = nullText(e.SessionID)
	args[7] = nullText(e.ParentTokenID)
	args[8] = encodeList(e.Scopes)
	args[9] = encodeTime(e.IssuedAt)
	args[10] = encodeTime(e.NotBefore)
	args[11] = encodeTime(e.ExpiresAt)
}

// encodeEvent fills args, which has one element for each of eventColumns,
// with the fields of e that are not token fields. A zero field becomes NULL.
// e must have passed Validate and checkStorable.
func encodeEvent(e *audit.Event, tokenKey int64, args []any) {
	args[0] = encodeID(e.ID)
	args[1] = tokenKey
	args[2] = e.Time.UnixNano()
	args[3] = int64(e.Kind)
	args[4] = encodeIP(e.IP)
	args[5] = nullText(e.UserAgent)
	args[6] = nullText(e.Geo.Country)
	args[7] = nullText(e.Geo.City)
	args[8] = nullFloat(e.Geo.Latitude)
	args[9] = nullFloat(e.Geo.Longitude)
	args[10] = nullFloat(e.Geo.AccuracyKM)
	args[11] = nullInt(int64(e.Geo.ASN))
	args[12] = nullText(e.Geo.Org)
	args[13] = nullText(e.Method)
	args[14] = nullText(e.Path)
	args[15] = nullInt(int64(e.Status))
	args[16] = nullText(e.TraceID)
	args[17] = nullText(e.Actor)
	args[18] = nullText(e.Reason)
	args[19] = nullText(string(e.RevocationMethod))
	args[20] = nullText(string(e.RejectReason))
	args[21] = nullText(e.Source)
	args[22] = nullText(e.Action)
	args[23] = nullText(string(e.RevocationScope))
}

// decodeEvent builds an Event from the values that a scan of selectColumns
// returned.
func decodeEvent(values []any) (audit.Event, error) {
	var e audit.Event
	var err error
	if e.ID, err = decodeID(values[0]); err != nil {
		return e, fmt.Errorf("column id: %w", err)
	}
	ns, ok := values[1].(int64)
	if !ok {
		return e, fmt.Errorf("column time_ns: got %T, want an integer", values[1])
	}
	e.Time = time.Unix(0, ns).UTC()
	kind, ok := values[2].(int64)
	if !ok || kind < 0 || kind > math.MaxUint8 {
		return e, fmt.Errorf("column kind: got %v, want a small integer", values[2])
	}
	e.Kind = audit.Kind(kind)

	if e.IP, err = decodeIP(values[3]); err != nil {
		return e, fmt.Errorf("column ip: %w", err)
	}
	e.UserAgent = text(values[4])
	e.Geo.Country = text(values[5])
	e.Geo.City = text(values[6])
	e.Geo.Latitude = float(values[7])
	e.Geo.Longitude = float(values[8])
	e.Geo.AccuracyKM = float(values[9])
	asn, _ := values[10].(int64)
	e.Geo.ASN = uint32(asn)
	e.Geo.Org = text(values[11])
	e.Method = text(values[12])
	e.Path = text(values[13])
	status, _ := values[14].(int64)
	e.Status = int(status)
	e.TraceID = text(values[15])
	e.Actor = text(values[16])
	e.Reason = text(values[17])
	e.RevocationMethod = audit.RevocationMethod(text(values[18]))
	e.RejectReason = audit.RejectReason(text(values[19]))
	e.Source = text(values[20])
	e.Action = text(values[21])
	e.RevocationScope = audit.RevocationScope(text(values[22]))

	token := values[23:]
	e.TokenID = text(token[0])
	if e.Fingerprint, err = decodeFingerprint(token[1]); err != nil {
		return e, fmt.Errorf("column fingerprint: %w", err)
	}
	e.Issuer = text(token[2])
	e.Subject = text(token[3])
	if e.Audience, err = decodeList(token[4]); err != nil {
		return e, fmt.Errorf("column audience: %w", err)
	}
	e.ClientID = text(token[5])
	e.SessionID = text(token[6])
	e.ParentTokenID = text(token[7])
	if e.Scopes, err = decodeList(token[8]); err != nil {
		return e, fmt.Errorf("column scopes: %w", err)
	}
	times := []struct {
		name string
		dst  *time.Time
		src  any
	}{
		{"issued_at", &e.IssuedAt, token[9]},
		{"not_before", &e.NotBefore, token[10]},
		{"expires_at", &e.ExpiresAt, token[11]},
	}
	for _, t := range times {
		if *t.dst, err = decodeTime(t.src); err != nil {
			return e, fmt.Errorf("column %s: %w", t.name, err)
		}
	}
	return e, nil
}

// sameToken reports whether a and b have the same token fields, as the
// store compares them: times as instants, and an empty list equal to nil.
func sameToken(a, b *audit.Event) bool {
	return a.TokenID == b.TokenID && a.Fingerprint == b.Fingerprint && a.Issuer == b.Issuer &&
		a.Subject == b.Subject && a.ClientID == b.ClientID && a.SessionID == b.SessionID &&
		a.ParentTokenID == b.ParentTokenID &&
		slices.Equal(a.Audience, b.Audience) && slices.Equal(a.Scopes, b.Scopes) &&
		a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// tokenDigest returns the digest that identifies a tokens row: the first 16
// bytes of the SHA-256 of values, the token columns as encodeToken fills
// them, each written as a type byte, its length and its bytes. Digests are
// stored, so a change of this encoding needs a migration that recomputes
// tokens.digest.
func tokenDigest(values []any) []byte {
	h := sha256.New()
	var header [1 + binary.MaxVarintLen64]byte
	for _, v := range values {
		var data []byte
		switch v := v.(type) {
		case nil:
			header[0] = 0
		case int64:
			header[0] = 1
			data = binary.BigEndian.AppendUint64(nil, uint64(v))
		case string:
			header[0] = 2
			data = []byte(v)
		case []byte:
			header[0] = 3
			data = v
		default:
			panic(fmt.Sprintf("sqlite: token column value of type %T", v))
		}
		n := binary.PutUvarint(header[1:], uint64(len(data)))
		h.Write(header[:1+n])
		h.Write(data)
	}
	return h.Sum(nil)[:16]
}

// encodeID stores an ID of 32 lowercase hex digits, the form of audit.NewID,
// as its 16 bytes, which halves the size of the id index. Any other ID stays
// text. The two forms never compare equal in SQLite, and each ID has exactly
// one form, so uniqueness on the column is uniqueness of the ID.
func encodeID(id string) any {
	if len(id) != 32 || !isLowerHex(id) {
		return id
	}
	b := make([]byte, 16)
	if _, err := hex.Decode(b, []byte(id)); err != nil {
		return id
	}
	return b
}

func decodeID(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		if len(v) != 16 {
			return "", fmt.Errorf("got a %d-byte blob, want 16 bytes", len(v))
		}
		return hex.EncodeToString(v), nil
	}
	return "", fmt.Errorf("got %T, want text or a blob", v)
}

// idSortKey is the SQL expression that orders events.id as the text of the
// IDs: blobs back to lowercase hex. SQLite sorts every text before every
// blob, so ordering by the column itself would put "zz" before "00...00".
const idSortKey = "CASE WHEN typeof(e.id) = 'blob' THEN lower(hex(e.id)) ELSE e.id END"

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// encodeFingerprint stores a fingerprint, which Validate guarantees to be 64
// lowercase hex digits, as its 32 bytes.
func encodeFingerprint(fp string) any {
	if fp == "" {
		return nil
	}
	b, err := hex.DecodeString(fp)
	if err != nil {
		// Unreachable after Validate; storing the text keeps the event
		// rather than losing it to an encoding rule.
		return fp
	}
	return b
}

func decodeFingerprint(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []byte:
		if len(v) != 32 {
			return "", fmt.Errorf("got a %d-byte blob, want 32 bytes", len(v))
		}
		return hex.EncodeToString(v), nil
	}
	return "", fmt.Errorf("got %T, want a blob", v)
}

// encodeTime stores an optional time as int64 nanoseconds since the Unix
// epoch. A time outside that range, such as the far-future exp of a token
// meant never to expire, is stored as the blob of time.MarshalBinary, so that
// no value of a claim is lost.
func encodeTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		b, err := t.UTC().MarshalBinary()
		if err != nil {
			// MarshalBinary fails only for a zone offset that is not whole
			// minutes, and UTC has none.
			panic(fmt.Sprintf("sqlite: encode time %v: %v", t, err))
		}
		return b
	}
	return t.UnixNano()
}

func decodeTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case nil:
		return time.Time{}, nil
	case int64:
		return time.Unix(0, v).UTC(), nil
	case []byte:
		var t time.Time
		if err := t.UnmarshalBinary(v); err != nil {
			return time.Time{}, err
		}
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("got %T, want an integer or a blob", v)
}

// encodeIP stores an address as netip.Addr.MarshalBinary does: 4 bytes for
// IPv4, 16 for IPv6 (an IPv4-mapped address included) followed by the zone.
// So every address comes back in the form it was given.
func encodeIP(ip netip.Addr) any {
	if !ip.IsValid() {
		return nil
	}
	b, _ := ip.MarshalBinary() // never fails
	return b
}

func decodeIP(v any) (netip.Addr, error) {
	var ip netip.Addr
	switch v := v.(type) {
	case nil:
		return ip, nil
	case []byte:
		err := ip.UnmarshalBinary(v)
		return ip, err
	}
	return ip, fmt.Errorf("got %T, want a blob", v)
}

// encodeList stores a list as a JSON array, which keeps every element (an
// empty one or one with a comma included) and which SQL can read with
// json_each. An empty list is NULL and reads back as nil.
func encodeList(list []string) any {
	if len(list) == 0 {
		return nil
	}
	b, _ := json.Marshal(list) // a []string of valid UTF-8 always encodes
	return string(b)
}

func decodeList(v any) ([]string, error) {
	s := text(v)
	if s == "" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	return list, nil
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64) any {
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

func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func float(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int64:
		return float64(v)
	}
	return 0
}

// placeholders returns "?, ?, ?" with n marks.
func placeholders(n int) string {
	return strings.Repeat("?, ", n-1) + "?"
}
