package jsonl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// recordReader converts the values an extractor found into event fields. It
// keeps the first error, and its methods return zero values once there is
// one, so that a caller can read every field and check err once.
type recordReader struct {
	m   *Mapping
	x   *extractor
	err error

	// rejectText is a reject_reason in the log's own words, which the
	// event keeps as its Reason under the reason "other".
	rejectText string

	// otherScheme names the authentication scheme, such as Basic, that
	// the token field held instead of a token.
	otherScheme string
}

// fail records the first error, naming the field and its path.
func (r *recordReader) fail(f field, format string, args ...any) {
	if r.err == nil {
		// The value quoted in the message may hold a raw token.
		r.err = fmt.Errorf("field %s (path %s): %s", f, r.m.paths[f].text, audit.RedactTokens(fmt.Sprintf(format, args...)))
	}
}

// lookup returns the value of f, or kindAbsent when f is unmapped, missing or
// null. A path that crosses a value of the wrong kind is an error, and so is
// a value that is not valid UTF-8, which JSON requires.
func (r *recordReader) lookup(f field) value {
	if r.err != nil || r.m.paths[f] == nil {
		return value{}
	}
	v := r.x.values[f]
	if v.kind == kindAbsent {
		if n := r.x.firstMismatch(f); n != nil {
			container := "an object"
			if len(n.indexes) > 0 && len(n.keys) == 0 {
				container = "an array"
			}
			where := n.prefix
			if where == "" {
				where = "the record"
			}
			r.fail(f, "%s is a JSON %s, want %s", where, kindName(r.x.mismatch[n.id]), container)
		}
		return value{}
	}
	if v.kind == kindNull {
		return value{}
	}
	if !utf8.Valid(v.raw) {
		r.fail(f, "the value is not valid UTF-8, so convert the log to UTF-8 (for example with iconv)")
		return value{}
	}
	return v
}

func (r *recordReader) wrongType(f field, v value, want string) {
	r.fail(f, "the value is a JSON %s, want %s", kindName(v.kind), want)
}

// absentText reports whether s is how logs write a missing value: nothing,
// "-" (nginx, Envoy), "null", "undefined" (JavaScript clients) or "N/A".
func absentText(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "-" || strings.EqualFold(s, "null") || s == "undefined" || strings.EqualFold(s, "n/a")
}

// decodeString returns the text of a JSON string value, which lookup has
// checked to be valid UTF-8.
func decodeString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return string(inner)
	}
	return s
}

// text reads a string, or the literal text of a number.
func (r *recordReader) text(f field) string {
	v := r.lookup(f)
	switch v.kind {
	case kindAbsent:
		return ""
	case kindString:
		if s := decodeString(v.raw); !absentText(s) {
			return s
		}
		return ""
	case kindNumber:
		return string(v.raw)
	default:
		r.wrongType(f, v, "a string")
		return ""
	}
}

// list reads an array of strings, or one string: split at white space when
// split is set (scope), else taken whole (aud).
func (r *recordReader) list(f field, split bool) []string {
	v := r.lookup(f)
	switch v.kind {
	case kindAbsent:
		return nil
	case kindString:
		s := decodeString(v.raw)
		if absentText(s) {
			return nil
		}
		if split {
			return strings.Fields(s)
		}
		return []string{s}
	case kindArray:
		var items []any
		if err := json.Unmarshal(v.raw, &items); err != nil {
			r.fail(f, "the array cannot be decoded: %v", err)
			return nil
		}
		out := make([]string, 0, len(items))
		for i, item := range items {
			s, ok := item.(string)
			if !ok {
				r.fail(f, "element %d is a JSON %s, want a string", i, jsonTypeOf(item))
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		r.wrongType(f, v, "a string or an array of strings")
		return nil
	}
}

func jsonTypeOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "string"
}

// numberText returns the text of a number or of a numeric string, and
// whether there is one.
func (r *recordReader) numberText(f field) (string, bool) {
	v := r.lookup(f)
	switch v.kind {
	case kindAbsent:
		return "", false
	case kindNumber:
		return string(v.raw), true
	case kindString:
		s := strings.TrimSpace(decodeString(v.raw))
		if absentText(s) {
			return "", false
		}
		return s, true
	default:
		r.wrongType(f, v, "a number or a numeric string")
		return "", false
	}
}

// integer reads a whole number within [low, high]. Zero means absent, as
// logs write 0 for an unknown status or ASN.
func (r *recordReader) integer(f field, low, high int64) int64 {
	s, ok := r.numberText(f)
	if !ok {
		return 0
	}
	if f == fieldASN && len(s) > 2 && strings.EqualFold(s[:2], "AS") {
		s = s[2:]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// JSON allows 200.0 and 2e2 for an integer.
		x, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			r.fail(f, "%q is not a whole number", s)
			return 0
		}
		n = int64(x)
	}
	if n == 0 {
		return 0
	}
	if n < low || n > high {
		r.fail(f, "%d is out of range [%d, %d]", n, low, high)
		return 0
	}
	return n
}

// float reads a number within [low, high].
func (r *recordReader) float(f field, low, high float64) float64 {
	s, ok := r.numberText(f)
	if !ok {
		return 0
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		r.fail(f, "%q is not a number", s)
		return 0
	}
	if x < low || x > high {
		r.fail(f, "%g is out of range [%g, %g]", x, low, high)
		return 0
	}
	return x
}

// ip reads an address. It takes the first address of a comma-separated
// X-Forwarded-For list, which is the original client as the proxies
// reported it, and drops a port, as in 1.2.3.4:5678 or [::1]:80.
func (r *recordReader) ip(f field) netip.Addr {
	v := r.lookup(f)
	switch v.kind {
	case kindAbsent:
		return netip.Addr{}
	case kindString:
	default:
		r.wrongType(f, v, "a string")
		return netip.Addr{}
	}

	s := decodeString(v.raw)
	first, _, _ := strings.Cut(s, ",")
	first = strings.TrimSpace(first)
	if absentText(first) || strings.EqualFold(first, "unknown") {
		return netip.Addr{}
	}
	host := first
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			host = host[1:end]
		}
	} else if strings.Count(host, ":") == 1 {
		host, _, _ = strings.Cut(host, ":")
	}
	addr, err := netip.ParseAddr(host)
	switch {
	case err == nil:
		return addr.Unmap()
	case source.IsGUID(first):
		// Anonymized exports put a GUID where the address was; the
		// record is still a real event, without an address.
		return netip.Addr{}
	}
	r.fail(f, "%q is not an IP address", first)
	return netip.Addr{}
}

// The Go layouts that the rfc3339 time format tries, in order. A layout
// with .999999999 also reads a time without fractional seconds.
var rfc3339Layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999", // no zone: Mapping.TimeZone applies
	"2006-01-02 15:04:05.999999999",
}

// timeValue reads a time in the mapping's format. A JWT claim (claim set)
// that is a number or a numeric string is read as seconds.
func (r *recordReader) timeValue(f field, claim bool) time.Time {
	v := r.lookup(f)
	if v.kind == kindAbsent {
		return time.Time{}
	}

	format := r.m.TimeFormat
	if format == "" {
		format = TimeRFC3339
	}
	var text string
	if v.kind == kindString {
		text = strings.TrimSpace(decodeString(v.raw))
		if absentText(text) {
			return time.Time{}
		}
	}
	if claim && (v.kind == kindNumber || isNumeric(text)) {
		format = TimeUnix
	}

	var t time.Time
	switch format {
	case TimeUnix, TimeUnixMS, TimeUnixNS:
		switch v.kind {
		case kindNumber:
			text = string(v.raw)
		case kindString:
		default:
			r.wrongType(f, v, "a number or a numeric string")
			return time.Time{}
		}
		var err error
		t, err = parseEpoch(text, format)
		if err != nil {
			r.fail(f, "%v", err)
			return time.Time{}
		}
		if t.IsZero() {
			return time.Time{}
		}
	default:
		if v.kind != kindString {
			r.wrongType(f, v, "a string in the time format "+format+" (for epoch numbers, set time_format to unix, unix_ms or unix_ns)")
			return time.Time{}
		}
		var err error
		t, err = r.parseTimeText(text, format)
		if err != nil {
			r.fail(f, "%v", err)
			return time.Time{}
		}
	}

	if y := t.Year(); y < 1 || y > 9999 {
		r.fail(f, "%s is outside the years 1 to 9999", t.Format(time.RFC3339))
		return time.Time{}
	}
	return t.UTC()
}

func (r *recordReader) zone() *time.Location {
	if r.m.TimeZone != nil {
		return r.m.TimeZone
	}
	return time.UTC
}

func (r *recordReader) parseTimeText(s, format string) (time.Time, error) {
	if format != TimeRFC3339 {
		t, err := time.ParseInLocation(format, s, r.zone())
		if err != nil {
			return time.Time{}, fmt.Errorf("%q does not match the time format %q", s, format)
		}
		return t, nil
	}
	for _, layout := range rfc3339Layouts {
		if t, err := time.ParseInLocation(layout, s, r.zone()); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2024-06-13T10:15:30Z (set time_format for another form)", s)
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// epochUnit returns how many units of an epoch format make a second, and how
// many digits of a fraction of a unit are above the nanosecond.
func epochUnit(format string) (unitsPerSecond int64, fractionDigits int) {
	switch format {
	case TimeUnixMS:
		return 1e3, 6
	case TimeUnixNS:
		return 1e9, 0
	default:
		return 1, 9
	}
}

// parseEpoch reads a count of seconds, milliseconds or nanoseconds since
// 1970 in decimal, keeping every digit of a fraction down to the nanosecond.
// Zero is the zero Time, which logs write for "no time".
func parseEpoch(s, format string) (time.Time, error) {
	units, fractionDigits := epochUnit(format)
	nanosPerUnit := int64(time.Second) / units

	if strings.ContainsAny(s, "eE") {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(x*float64(nanosPerUnit)) > math.MaxInt64 {
			return time.Time{}, fmt.Errorf("%q is not a %s time", s, format)
		}
		if x == 0 {
			return time.Time{}, nil
		}
		return time.Unix(0, int64(x*float64(nanosPerUnit))), nil
	}

	negative := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	whole, fraction, _ := strings.Cut(digits, ".")
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || strings.HasPrefix(whole, "+") || strings.Trim(fraction, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("%q is not a %s time", s, format)
	}

	sec, nsec := n/units, (n%units)*nanosPerUnit
	// The fraction was checked to be digits only.
	var fractionNanos int64
	for k := range fractionDigits {
		fractionNanos *= 10
		if k < len(fraction) {
			fractionNanos += int64(fraction[k] - '0')
		}
	}
	nsec += fractionNanos
	if negative {
		sec, nsec = -sec, -nsec
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}, nil
	}
	return time.Unix(sec, nsec), nil
}

// token reads the token field: a compact JWT or an Authorization header
// value. It returns the claims that audit.ParseToken reads, or only the
// fingerprint of an opaque bearer token. No error or return value holds the
// token itself.
func (r *recordReader) token() audit.Claims {
	v := r.lookup(fieldToken)
	switch v.kind {
	case kindAbsent:
		return audit.Claims{}
	case kindString:
	default:
		r.wrongType(fieldToken, v, "a string")
		return audit.Claims{}
	}

	s := decodeString(v.raw)
	if absentText(s) {
		return audit.Claims{}
	}
	claims, err := audit.ParseToken(s)
	if err == nil {
		return claims
	}

	bare := strings.TrimSpace(s)
	if scheme, _, ok := strings.Cut(bare, " "); ok && !strings.EqualFold(scheme, "bearer") && isToken68(scheme) {
		// Another HTTP authentication scheme, such as Basic or Digest:
		// the request carried a password or a signature, not a token.
		r.otherScheme = scheme
		return audit.Claims{}
	}
	if len(bare) > 7 && strings.EqualFold(bare[:7], "bearer ") {
		bare = strings.TrimSpace(bare[7:])
	}
	if absentText(bare) || strings.EqualFold(bare, "bearer") {
		// "Bearer undefined" and the like: a client that had no token to
		// send. Taken as a token, every such request would look like one
		// token used from everywhere.
		return audit.Claims{}
	}
	if isToken68(bare) {
		return audit.Claims{Fingerprint: audit.Fingerprint(s)}
	}
	r.fail(fieldToken, "the value is neither a JWT nor a bearer token: it contains white space or characters a token cannot have")
	return audit.Claims{}
}

// isToken68 reports whether s has the syntax of an opaque bearer token
// (token68 in RFC 7235): letters, digits and -._~+/ followed by any "=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}

func (r *recordReader) fingerprint() string {
	raw := strings.TrimSpace(r.text(fieldFingerprint))
	s := strings.ToLower(raw)
	if s != "" && !audit.IsFingerprint(s) {
		r.fail(fieldFingerprint, "%q is not 64 hex digits (a SHA-256)", raw)
		return ""
	}
	return s
}

// kind reads the kind field, which must hold a kind name. A record without
// one is rejected when its status is in Mapping.RejectStatus, and otherwise
// of the mapping's default kind.
//
// NOTE: a log that names its events in its own words cannot be mapped yet:
// Mapping has no table from a record's values to kinds.
func (r *recordReader) kind(status int) audit.Kind {
	s := r.text(fieldKind)
	if s == "" {
		if status != 0 && slices.Contains(r.m.RejectStatus, status) {
			return audit.KindRejected
		}
		if r.m.Kind != 0 {
			return r.m.Kind
		}
		return audit.KindUsed
	}
	k, err := audit.ParseKind(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		r.fail(fieldKind, "%q is not one of issued, used, refreshed, revoked, rejected, session", s)
	}
	return k
}

func (r *recordReader) revocationMethod() audit.RevocationMethod {
	raw := strings.TrimSpace(r.text(fieldRevocationMethod))
	m := audit.RevocationMethod(strings.ToLower(raw))
	if !m.Valid() {
		r.fail(fieldRevocationMethod, "%q is not one of api, admin, logout, automated", raw)
		return ""
	}
	return m
}

// rejectReason reads reject_reason. A value that is not one of the reasons
// tokentrail names, such as a gateway's "token expired", is kept: the
// reason is "other" and the text becomes the event's Reason.
func (r *recordReader) rejectReason() audit.RejectReason {
	r.rejectText = ""
	raw := strings.TrimSpace(r.text(fieldRejectReason))
	reason := audit.RejectReason(strings.ToLower(raw))
	if !reason.Valid() {
		r.rejectText = raw
		return audit.RejectOther
	}
	return reason
}
