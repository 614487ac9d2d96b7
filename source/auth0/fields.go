package auth0

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/tokentrail/tokentrail/audit"
)

// text returns the string at keys below v, or "" when the value is absent,
// not a JSON string, or a placeholder. Optional fields are read with text,
// so that an odd value costs the field, not the event.
func text(v *fastjson.Value, keys ...string) string {
	f := v.Get(keys...)
	if f == nil || f.Type() != fastjson.TypeString {
		return ""
	}
	b, _ := f.StringBytes() // StringBytes fails only on a value that is not a string
	return clean(b)
}

// clean trims b and returns "" for the placeholders that exports write
// where a value is unknown.
func clean(b []byte) string {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "", "null", "NULL", "Null", "nil", "-", "undefined", "N/A", "n/a":
		return ""
	}
	return string(b)
}

// requiredText returns the string field name of v, or an error that names
// the field when it is absent, not a string or a placeholder.
func requiredText(v *fastjson.Value, name string) (string, error) {
	f := v.Get(name)
	if f == nil || f.Type() == fastjson.TypeNull {
		return "", fmt.Errorf("field %q is missing", name)
	}
	if f.Type() != fastjson.TypeString {
		return "", fmt.Errorf("field %q is a JSON %s, want a string", name, f.Type())
	}
	b, _ := f.StringBytes()
	s := clean(b)
	if s == "" {
		return "", fmt.Errorf("field %q is empty (%s)", name, quoteValue(string(b)))
	}
	return s, nil
}

// quoteValue quotes s for an error message: cut to 64 bytes, with any raw
// JWT in it replaced, because the message is printed and logged.
func quoteValue(s string) string {
	s = audit.RedactTokens(s)
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "..."
	}
	return strconv.Quote(s)
}

// eventTime parses the date of a log record. Auth0 writes RFC 3339 in UTC
// with milliseconds. A time without a zone, as some converters write it, is
// taken as UTC.
func eventTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		var errNoZone error
		t, errNoZone = time.Parse("2006-01-02T15:04:05.999999999", s)
		if errNoZone != nil {
			return time.Time{}, fmt.Errorf("field \"date\" %s is not an RFC 3339 time such as 2021-11-04T00:15:10.706Z", quoteValue(s))
		}
	}
	return t.UTC(), nil
}

// parseIP returns the address in s, or the zero Addr when s holds none,
// such as an anonymised export's GUID. An IPv4-mapped IPv6 address becomes
// IPv4. Of a comma-separated list (a forwarded-for chain) the first address
// is taken, because it is the client's.
func parseIP(s string) netip.Addr {
	if first, _, found := strings.Cut(s, ","); found {
		s = strings.TrimSpace(first)
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return addr.Unmap()
}

// number returns the number at key of v, which may be a JSON number or a
// numeric string, and whether there is a finite one.
func number(v *fastjson.Value, key string) (float64, bool) {
	f := v.Get(key)
	if f == nil {
		return 0, false
	}
	var n float64
	switch f.Type() {
	case fastjson.TypeNumber:
		n, _ = f.Float64()
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		var err error
		if n, err = strconv.ParseFloat(string(bytes.TrimSpace(b)), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, false
	}
	return n, true
}

// geo reads location_info, the location that the Management API adds to a
// log when it resolved the address. 0/0 and coordinates out of range count
// as no position. The country is the ISO 3166-1 alpha-2 code, or the name
// when the code is missing.
func geo(v *fastjson.Value) audit.Geo {
	loc := v.Get("location_info")
	if loc == nil || loc.Type() != fastjson.TypeObject {
		return audit.Geo{}
	}
	g := audit.Geo{
		Country: text(loc, "country_code"),
		City:    text(loc, "city_name"),
	}
	if g.Country == "" {
		g.Country = text(loc, "country_name")
	}
	lat, latOK := number(loc, "latitude")
	lon, lonOK := number(loc, "longitude")
	if position := (audit.Geo{Latitude: lat, Longitude: lon}); latOK && lonOK && position.HasCoordinates() {
		g.Latitude, g.Longitude = lat, lon
	}
	return g
}

// list reads a field that Auth0 writes either as an array of strings or as
// one string of space-separated values (scope), and returns nil when it
// holds no value.
func list(v *fastjson.Value, key string) []string {
	f := v.Get(key)
	if f == nil {
		return nil
	}
	var out []string
	switch f.Type() {
	case fastjson.TypeString:
		b, _ := f.StringBytes()
		for _, s := range strings.Fields(string(b)) {
			if s = clean([]byte(s)); s != "" {
				out = append(out, s)
			}
		}
	case fastjson.TypeArray:
		items, _ := f.Array()
		for _, item := range items {
			if item.Type() != fastjson.TypeString {
				continue
			}
			b, _ := item.StringBytes()
			if s := clean(b); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// sessionID returns the Auth0 session id of a log record. Logins and
// logouts carry it in details.session_id, refresh-token exchanges in
// details.refresh_token.session_id, and some logins only in the prompts of
// details.
func sessionID(v *fastjson.Value) string {
	if id := text(v, "details", "session_id"); id != "" {
		return id
	}
	if id := text(v, "session_id"); id != "" {
		return id
	}
	if id := text(v, "details", "refresh_token", "session_id"); id != "" {
		return id
	}
	for _, prompt := range v.GetArray("details", "prompts") {
		if id := text(prompt, "session_id"); id != "" {
			return id
		}
	}
	return ""
}
