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
func readRecord(v *fastjson.Value, r *record) error {
	*r = record{targets: r.targets[:0]}

	eventType, err := requiredString(v, "eventType")
	if err != nil {
		return err
	}
	r.eventType = eventType
	r.uuid = text(v, "uuid")
	r.published = text(v, "published")

	if actor := v.Get("actor"); actor != nil {
		r.actorID = text(actor, "id")
		r.actorType = text(actor, "type")
	}

	if client := v.Get("client"); client != nil {
		r.clientID = text(client, "id")
		r.ip = text(client, "ipAddress")
		r.userAgent = text(client, "userAgent", "rawUserAgent")
		if isUnknownUserAgent(r.userAgent) {
			r.userAgent = ""
		}
		if geo := client.Get("geographicalContext"); geo != nil {
			r.city = text(geo, "city")
			r.country = text(geo, "country")
			r.latitude = number(geo, "geolocation", "lat")
			r.longitude = number(geo, "geolocation", "lon")
		}
	}
	if r.ip == "" {
		if chain := v.GetArray("request", "ipChain"); len(chain) > 0 {
			r.ip = text(chain[0], "ip")
		}
	}

	if security := v.Get("securityContext"); security != nil {
		r.asn = asNumber(security.Get("asNumber"))
		r.asOrg = text(security, "asOrg")
		if r.asOrg == "" {
			r.asOrg = text(security, "isp")
		}
	}

	if auth := v.Get("authenticationContext"); auth != nil {
		r.externalSessionID = text(auth, "externalSessionId")
		r.rootSessionID = text(auth, "rootSessionId")
	}

	if outcome := v.Get("outcome"); outcome != nil {
		r.result = strings.ToUpper(text(outcome, "result"))
		r.reason = text(outcome, "reason")
	}

	r.transactionID = text(v, "transaction", "id")

	if debug := v.Get("debugContext", "debugData"); debug != nil {
		r.requestID = text(debug, "requestId")
		r.requestURI = text(debug, "requestUri")
		r.grantType = text(debug, "grantType")
		r.grantedScopes = text(debug, "grantedScopes")
		r.requestedScopes = text(debug, "requestedScopes")
		r.debugClientID = text(debug, "clientId")
		r.debugIssuer = text(debug, "issuer")
		r.authServerID = text(debug, "authorizationServerId")
		r.refreshTokenID = text(debug, "refreshTokenId")
	}

	for _, t := range v.GetArray("target") {
		if t.Type() != fastjson.TypeObject {
			continue
		}
		r.targets = append(r.targets, target{
			id:          text(t, "id"),
			typ:         text(t, "type"),
			subject:     text(t, "detailEntry", "subject"),
			expires:     text(t, "detailEntry", "expires"),
			alternateID: text(t, "alternateId"),
		})
	}
	return nil
}

// requiredString returns the string at key of v, or a *fieldError when it
// is missing, null, of another JSON type, or a placeholder.
func requiredString(v *fastjson.Value, key string) (string, error) {
	field := v.Get(key)
	if field == nil || field.Type() == fastjson.TypeNull {
		return "", &fieldError{field: key, reason: "is missing"}
	}
	if field.Type() != fastjson.TypeString {
		return "", &fieldError{field: key, reason: fmt.Sprintf("is a JSON %s, not a string", field.Type())}
	}
	s := string(field.GetStringBytes())
	if !present(s) {
		return "", &fieldError{field: key, reason: fmt.Sprintf("is the placeholder %q", s)}
	}
	return s, nil
}

// text returns the string at the path keys of v, or "" when the value is
// missing, not a string, or a placeholder. A number is not read as text:
// Okta writes every text field of a LogEvent as a JSON string.
func text(v *fastjson.Value, keys ...string) string {
	b := v.GetStringBytes(keys...)
	if len(b) == 0 {
		return ""
	}
	s := string(b)
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

// asNumber reads securityContext.asNumber, a JSON number in Okta's exports
// and a numeric string in some forwarders' copies. It returns 0 for any
// other value or a number outside the 32-bit ASN range.
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
