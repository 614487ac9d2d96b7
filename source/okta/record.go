package okta

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// record holds the fields of one System Log event (a LogEvent object) that
// the importer reads. Text fields hold "" when the field is missing, null,
// not a string, or a placeholder (see present).
type record struct {
	uuid      string
	published string
	eventType string

	actorID   string
	actorType string

	clientID  string // client.id: the OAuth client of an OAuth request
	ip        string // client.ipAddress, else the first address of request.ipChain
	userAgent string
	city      string
	country   string
	latitude  float64
	longitude float64
	asn       uint32
	asOrg     string // securityContext.asOrg, else securityContext.isp

	externalSessionID string
	rootSessionID     string

	result string // outcome.result: SUCCESS, FAILURE, ALLOW, DENY...
	reason string // outcome.reason

	transactionID string

	// debugContext.debugData
	requestID       string
	requestURI      string
	grantType       string
	grantedScopes   string
	requestedScopes string
	debugClientID   string
	debugIssuer     string
	authServerID    string
	refreshTokenID  string

	targets []target
}

// target is one entry of the record's target array.
type target struct {
	id          string
	typ         string
	subject     string // detailEntry.subject of a token target
	expires     string // detailEntry.expires of a token target
	alternateID string
}

// fieldError names a required field that is missing or of the wrong JSON
// type.
type fieldError struct {
	field  string
	reason string
}

func (e *fieldError) Error() string { return e.field + " " + e.reason }

// readRecord reads the fields of v, a parsed System Log event. It returns a
// *fieldError when eventType is missing or not a string. The other required
// fields (uuid, published) are checked later, only for records that become
// events, so that a record the importer skips is not rejected for them.
func (fr *fieldReader) readRecord(v *fastjson.Value, r *record) error {
	*r = record{targets: r.targets[:0]}

	if err := requiredString(v, "eventType"); err != nil {
		return err
	}
	r.eventType = fr.text(v, "eventType")
	r.uuid = uniqueText(v, "uuid")
	r.published = uniqueText(v, "published")

	if actor := v.Get("actor"); actor != nil {
		r.actorID = fr.text(actor, "id")
		r.actorType = fr.text(actor, "type")
	}

	if client := v.Get("client"); client != nil {
		r.clientID = fr.text(client, "id")
		r.ip = fr.text(client, "ipAddress")
		r.userAgent = fr.text(client, "userAgent", "rawUserAgent")
		if isUnknownUserAgent(r.userAgent) {
			r.userAgent = ""
		}
		if geo := client.Get("geographicalContext"); geo != nil {
			r.city = fr.text(geo, "city")
			r.country = fr.text(geo, "country")
			r.latitude = number(geo, "geolocation", "lat")
			r.longitude = number(geo, "geolocation", "lon")
		}
	}
	if r.ip == "" {
		if chain := v.GetArray("request", "ipChain"); len(chain) > 0 {
			r.ip = fr.text(chain[0], "ip")
		}
	}

	if security := v.Get("securityContext"); security != nil {
		r.asn = asNumber(security.Get("asNumber"))
		r.asOrg = fr.text(security, "asOrg")
		if r.asOrg == "" {
			r.asOrg = fr.text(security, "isp")
		}
	}

	if auth := v.Get("authenticationContext"); auth != nil {
		r.externalSessionID = fr.text(auth, "externalSessionId")
		r.rootSessionID = fr.text(auth, "rootSessionId")
	}

	if outcome := v.Get("outcome"); outcome != nil {
		r.result = strings.ToUpper(fr.text(outcome, "result"))
		r.reason = fr.text(outcome, "reason")
	}

	r.transactionID = uniqueText(v, "transaction", "id")

	if debug := v.Get("debugContext", "debugData"); debug != nil {
		r.requestID = uniqueText(debug, "requestId")
		r.requestURI = fr.text(debug, "requestUri")
		r.grantType = fr.text(debug, "grantType")
		r.grantedScopes = fr.text(debug, "grantedScopes")
		r.requestedScopes = fr.text(debug, "requestedScopes")
		r.debugClientID = fr.text(debug, "clientId")
		r.debugIssuer = fr.text(debug, "issuer")
		r.authServerID = fr.text(debug, "authorizationServerId")
		r.refreshTokenID = fr.text(debug, "refreshTokenId")
	}

	for _, t := range v.GetArray("target") {
		if t.Type() != fastjson.TypeObject {
			continue
		}
		r.targets = append(r.targets, target{
			id:          fr.text(t, "id"),
			typ:         fr.text(t, "type"),
			subject:     fr.text(t, "detailEntry", "subject"),
			expires:     fr.text(t, "detailEntry", "expires"),
			alternateID: fr.text(t, "alternateId"),
		})
	}
	return nil
}

// requiredString returns a *fieldError when the value at key of v is
// missing, null, of another JSON type than string, or a placeholder.
func requiredString(v *fastjson.Value, key string) error {
	field := v.Get(key)
	if field == nil || field.Type() == fastjson.TypeNull {
		return &fieldError{field: key, reason: "is missing"}
	}
	if field.Type() != fastjson.TypeString {
		return &fieldError{field: key, reason: fmt.Sprintf("is a JSON %s, not a string", field.Type())}
	}
	if s := field.GetStringBytes(); !present(string(s)) {
		return &fieldError{field: key, reason: fmt.Sprintf("is the placeholder %q", s)}
	}
	return nil
}

// fieldReader reads text fields and shares the strings of values that
// repeat from record to record, such as user agents, cities, event types
// and user ids, so that a large file does not allocate each of them anew.
type fieldReader struct {
	interned map[string]string
}

// Bounds of fieldReader's table of shared strings: values longer than
// maxInternedBytes are not shared, and the table is emptied when it reaches
// maxInterned entries, which keeps it under about 2.5 MiB.
const (
	maxInterned      = 8192
	maxInternedBytes = 256
)

// text returns the string at the path keys of v, or "" when the value is
// missing, not a string, or a placeholder. A number is not read as text,
// because Okta writes every text field of a LogEvent as a JSON string.
func (fr *fieldReader) text(v *fastjson.Value, keys ...string) string {
	b := v.GetStringBytes(keys...)
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxInternedBytes {
		return presentOrEmpty(string(b))
	}
	if s, ok := fr.interned[string(b)]; ok {
		return s
	}
	key := string(b)
	s := presentOrEmpty(key)
	if fr.interned == nil || len(fr.interned) >= maxInterned {
		fr.interned = make(map[string]string)
	}
	fr.interned[key] = s
	return s
}

// uniqueText reads a text field as fieldReader.text does, for values that
// differ in each record and so are not worth sharing.
func uniqueText(v *fastjson.Value, keys ...string) string {
	b := v.GetStringBytes(keys...)
	if len(b) == 0 {
		return ""
	}
	return presentOrEmpty(string(b))
}

// presentOrEmpty returns s, or "" when s is a placeholder.
func presentOrEmpty(s string) string {
	if !present(s) {
		return ""
	}
	return s
}

// number returns the number at the path keys of v, or 0 when it is missing
// or not a JSON number.
func number(v *fastjson.Value, keys ...string) float64 {
	field := v.Get(keys...)
	if field == nil || field.Type() != fastjson.TypeNumber {
		return 0
	}
	f, err := field.Float64()
	if err != nil {
		return 0
	}
	return f
}

// asNumber reads securityContext.asNumber, which Okta writes as a JSON
// number. It also takes a numeric string, with or without an "AS" prefix.
// It returns 0 for any other value or a number outside the 32-bit ASN
// range.
func asNumber(v *fastjson.Value) uint32 {
	if v == nil {
		return 0
	}
	var s string
	switch v.Type() {
	case fastjson.TypeNumber:
		s = v.String()
	case fastjson.TypeString:
		s = strings.TrimPrefix(strings.TrimPrefix(string(v.GetStringBytes()), "AS"), "as")
	default:
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0
	}
	return uint32(n)
}

// present reports whether s holds a value rather than one of the
// placeholders that exports write for "none": "", "-", "null", "none",
// "unknown", "n/a" and "undefined", in any case and with surrounding spaces.
// Okta itself writes "unknown" for a session it cannot name and the string
// "null" in client.zone.
func present(s string) bool {
	// Most values are longer than any placeholder and need no further
	// look.
	if len(s) > len("undefined") && s[0] != ' ' && s[len(s)-1] != ' ' {
		return true
	}
	s = strings.TrimSpace(s)
	switch len(s) {
	case 0:
		return false
	case 1:
		return s != "-"
	}
	for _, p := range [...]string{"null", "none", "unknown", "n/a", "undefined", "nil"} {
		if strings.EqualFold(s, p) {
			return false
		}
	}
	return true
}

// isUnknownUserAgent reports whether ua is one of the values Okta writes in
// client.userAgent.rawUserAgent when the request carried no user agent.
func isUnknownUserAgent(ua string) bool {
	return strings.EqualFold(ua, "UNKNOWN") || strings.EqualFold(ua, "UNKNOWN-DOWNLOAD")
}
