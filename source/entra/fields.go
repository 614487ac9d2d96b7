package entra

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
)

// text returns the string in v without surrounding white space. It returns
// "" when v is absent, null, an object, an array or a boolean, and for the
// placeholders that exports write for a missing value ("null", "-"). A
// number is returned as its JSON text, because some exports write an id or a
// code as a number where others write a string.
func text(v *fastjson.Value) string {
	return string(textBytes(v))
}

// textBytes is text without the copy: the result is valid until the next
// parse, and nil when text returns "".
func textBytes(v *fastjson.Value) []byte {
	if v == nil {
		return nil
	}
	var b []byte
	switch v.Type() {
	case fastjson.TypeString:
		b = v.GetStringBytes()
	case fastjson.TypeNumber:
		b = v.MarshalTo(nil)
	default:
		return nil
	}
	b = bytes.TrimSpace(b)
	if isPlaceholder(b) {
		return nil
	}
	return b
}

func isPlaceholder(b []byte) bool {
	return len(b) == 0 || bytes.Equal(b, []byte("-")) || bytes.EqualFold(b, []byte("null")) ||
		bytes.Equal(b, []byte(nilGUID))
}

// nilGUID is Entra's placeholder in an id field that has no value, such as
// the sessionId of a sign-in without session. Taken as an id, it would join the
// records of unrelated users into one session.
const nilGUID = "00000000-0000-0000-0000-000000000000"

// integer returns the integer in v, which may be a JSON number or a string
// of decimal digits. ok is false when v holds neither.
func integer(v *fastjson.Value) (n int64, ok bool) {
	if v == nil {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		n, err := v.Int64()
		if err != nil {
			// A float such as 403.0, or a number too large for int64.
			f, err := v.Float64()
			if err != nil || f != float64(int64(f)) {
				return 0, false
			}
			return int64(f), true
		}
		return n, true
	case fastjson.TypeString:
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v.GetStringBytes())), 10, 64)
		return n, err == nil
	default:
		return 0, false
	}
}

// float returns the number in v, which may be a JSON number or a numeric
// string.
func float(v *fastjson.Value) (f float64, ok bool) {
	if v == nil {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		f, err := v.Float64()
		return f, err == nil
	case fastjson.TypeString:
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(v.GetStringBytes())), 64)
		return f, err == nil
	default:
		return 0, false
	}
}

// address returns the client address in s, or the zero Addr when s is not
// an IP address. Exports put other values there (a GUID when a sign-in is
// anonymised, an empty string for some service-principal sign-ins), and such
// a record is still a real event, so an unreadable address is dropped and
// not rejected. An IPv4-mapped IPv6 address becomes the IPv4 address, and a
// port or an IPv6 zone is removed.
func address(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("")
}

// timeLayouts are the forms of time that the logs use besides RFC 3339:
// Microsoft writes seven fractional digits, which RFC 3339 parsing accepts,
// and some exports drop the zone, which then means UTC.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

var errTimeFormat = errors.New("is not an RFC 3339 time")

// parseTime reads s as an RFC 3339 time, or as one without a zone, which is
// taken to be UTC. It returns the time in UTC.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errTimeFormat
}

// eventTime returns the time in the first of fields (names of keys of obj)
// that holds a value. name is the prefix of the field names in messages,
// such as "properties.".
func eventTime(name string, obj *fastjson.Value, fields ...string) (time.Time, error) {
	for _, f := range fields {
		s := text(obj.Get(f))
		if s == "" {
			continue
		}
		t, err := parseTime(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("field %s%s %s %w", name, f, strconv.Quote(shorten(s)), err)
		}
		return t, nil
	}
	if len(fields) == 1 {
		return time.Time{}, fmt.Errorf("field %s%s is missing, so the record has no time", name, fields[0])
	}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = name + f
	}
	return time.Time{}, fmt.Errorf("fields %s are missing, so the record has no time", strings.Join(names, " and "))
}

// geo returns the location of a sign-in from its location object: the city,
// the country or region (an ISO 3166-1 alpha-2 code in the logs) and the
// coordinates, and the network's ASN. Coordinates of 0/0 or out of range,
// and an empty geoCoordinates object, mean no position.
func geo(location, asn *fastjson.Value) audit.Geo {
	var g audit.Geo
	if location != nil && location.Type() == fastjson.TypeObject {
		g.City = text(location.Get("city"))
		g.Country = text(location.Get("countryOrRegion"))
		coordinates := location.Get("geoCoordinates")
		lat, latOK := float(coordinates.Get("latitude"))
		lon, lonOK := float(coordinates.Get("longitude"))
		position := audit.Geo{Latitude: lat, Longitude: lon}
		if latOK && lonOK && position.HasCoordinates() {
			g.Latitude, g.Longitude = lat, lon
		}
	}
	if n, ok := integer(asn); ok && n > 0 && n <= 1<<32-1 {
		g.ASN = uint32(n)
	}
	return g
}

// issuer returns the issuer of the tokens of tenant, in the form of the iss
// claim of a v2.0 token.
//
// NOTE: a v1.0 access token, which Microsoft Graph and many other resources
// receive, carries "https://sts.windows.net/<tenant>/" instead. The logs do
// not say which version a token had, so every event names the tenant in the
// v2.0 form.
func issuer(tenant string) string {
	if tenant == "" {
		return ""
	}
	return "https://login.microsoftonline.com/" + tenant + "/v2.0"
}

// tokenIdentifier returns a uti as the events record it. The identifier is
// the base64url form of 16 bytes without padding, and some Microsoft logs
// add the padding "==", so trailing "=" are removed on both sides of the
// link between a sign-in and the requests made with its token.
func tokenIdentifier(s string) string {
	return strings.TrimRight(s, "=")
}

// fields splits a list of scopes or roles, separated by spaces (as in the
// scope claim) or commas.
func fields(s string) []string {
	var list []string
	if strings.IndexByte(s, ',') < 0 {
		list = strings.Fields(s)
	} else {
		list = strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	}
	if len(list) == 0 {
		return nil
	}
	return list
}

// shorten prepares a value for a message: a raw JWT in it is replaced by
// its fingerprint, and s is cut so that one hostile value cannot make a
// rejection reason large.
func shorten(s string) string {
	const max = 64
	s = audit.RedactTokens(s)
	if len(s) <= max {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}
