package detect

import (
	"net/netip"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// The CEL types of the variables of custom rules.
const (
	celEventType   = "tokentrail.Event"
	celTokenType   = "tokentrail.Token"
	celSubjectType = "tokentrail.Subject"
)

// celVars is the activation of one evaluation of the custom rules: the
// variables event, token and subject over the event being checked. Field
// values are computed when an expression reads them, so a rule pays only
// for the fields it reads.
type celVars struct {
	// c is a copy of the check: holding a pointer to it here, in the
	// engine, would move every check to the heap.
	c   check
	sub *subjectState // nil when the subject has no state
}

// celEvent, celToken and celSubject are the values of the variables. They
// are distinct types so that each field getter can find its variable's
// state.
type (
	celEvent   struct{ *celVars }
	celToken   struct{ *celVars }
	celSubject struct{ *celVars }
)

// ResolveName returns the value of a variable.
func (v *celVars) ResolveName(name string) (any, bool) {
	switch name {
	case "event":
		return celEvent{v}, true
	case "token":
		return celToken{v}, true
	case "subject":
		return celSubject{v}, true
	}
	return nil, false
}

// Parent returns nil: the variables have no enclosing scope.
func (v *celVars) Parent() interpreter.Activation { return nil }

// celField is a field of a variable: its CEL type and how to read it.
type celField[T any] struct {
	name string
	typ  *types.Type
	get  func(T) ref.Val
}

var stringList = types.NewListType(types.StringType)

// eventFields are the fields of the variable event. Text fields that the
// event does not carry are "", numbers 0 and lists empty.
var eventFields = []celField[celEvent]{
	{"kind", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Kind.String()) }},
	{"token_id", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.TokenID) }},
	{"fingerprint", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Fingerprint) }},
	{"subject", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Subject) }},
	{"issuer", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Issuer) }},
	{"audience", stringList, func(v celEvent) ref.Val { return stringsValue(v.c.ev.Audience) }},
	{"client_id", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.ClientID) }},
	{"session_id", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.SessionID) }},
	{"ip", types.StringType, func(v celEvent) ref.Val { return addrValue(v.c.ev.IP.Unmap()) }},
	{"network", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.engine.ruleNetwork(v.c.ev.IP.Unmap())) }},
	{"country", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Geo.Country) }},
	{"city", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Geo.City) }},
	{"asn", types.IntType, func(v celEvent) ref.Val { return types.Int(v.c.ev.Geo.ASN) }},
	{"org", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Geo.Org) }},
	{"user_agent", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.UserAgent) }},
	{"ua_family", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.userAgentFamily()) }},
	{"method", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Method) }},
	{"path", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.Path) }},
	{"status", types.IntType, func(v celEvent) ref.Val { return types.Int(v.c.ev.Status) }},
	{"scopes", stringList, func(v celEvent) ref.Val { return stringsValue(v.c.ev.Scopes) }},
	{"reject_reason", types.StringType, func(v celEvent) ref.Val { return types.String(v.c.ev.RejectReason) }},
	{"time", types.TimestampType, func(v celEvent) ref.Val { return types.Timestamp{Time: v.c.ev.Time} }},
}

// tokenFields are the fields of the variable token, which describe the
// token with the event being checked counted in, but for last_seen.
var tokenFields = []celField[celToken]{
	{"uses", types.IntType, func(v celToken) ref.Val { return types.Int(v.c.st.custom.uses) }},
	{"distinct_networks", types.IntType, func(v celToken) ref.Val { return types.Int(v.c.st.custom.networkTotal) }},
	{"countries", stringList, func(v celToken) ref.Val {
		tc := v.c.st.custom
		return v.c.engine.countryList(tc.countries[:tc.countryCount])
	}},
	{"scopes", stringList, func(v celToken) ref.Val { return stringsValue(v.c.st.custom.scopes) }},
	{"age", types.DurationType, func(v celToken) ref.Val {
		start := v.c.st.issuedAt
		if start == 0 {
			start = v.c.st.custom.first
		}
		return types.Duration{Duration: time.Duration(v.c.ev.Time.UnixNano() - start)}
	}},
	{"first_seen", types.TimestampType, func(v celToken) ref.Val { return timeValue(v.c.st.custom.first) }},
	{"last_seen", types.TimestampType, func(v celToken) ref.Val { return timeValue(v.c.st.custom.previous) }},
}

// subjectFields are the fields of the variable subject, which describe the
// subject's uses before the event being checked. A subject without state,
// such as a placeholder, has no uses and empty lists.
var subjectFields = []celField[celSubject]{
	{"events", types.IntType, func(v celSubject) ref.Val {
		if v.sub == nil {
			return types.IntZero
		}
		return types.Int(v.sub.uses)
	}},
	{"first_seen", types.TimestampType, func(v celSubject) ref.Val {
		if v.sub == nil {
			return types.Timestamp{Time: v.c.ev.Time}
		}
		return timeValue(v.sub.first)
	}},
	{"known_countries", stringList, func(v celSubject) ref.Val {
		if v.sub == nil {
			return stringsValue(nil)
		}
		return v.c.engine.countryList(v.sub.countries[:v.sub.countryCount])
	}},
	{"known_asns", types.NewListType(types.IntType), func(v celSubject) ref.Val {
		var asns []ref.Val
		if v.sub != nil {
			for _, asn := range v.sub.asns[:v.sub.asnCount] {
				asns = append(asns, types.Int(asn))
			}
		}
		return types.NewRefValList(types.DefaultTypeAdapter, asns)
	}},
	{"known_ua_families", stringList, func(v celSubject) ref.Val {
		var names []string
		if v.sub != nil {
			for _, id := range v.sub.families[:v.sub.familyCount] {
				names = append(names, v.c.engine.mu.familyNames.name(id))
			}
		}
		return stringsValue(names)
	}},
	{"known_networks", stringList, func(v celSubject) ref.Val {
		var names []string
		if v.sub != nil && v.sub.networks != nil {
			for _, n := range v.sub.networks.networks[:v.sub.networks.count] {
				names = append(names, v.c.engine.ruleNetworkName(n))
			}
		}
		return stringsValue(names)
	}},
}

// noStrings is the empty list of strings, shared so that reading an empty
// list allocates nothing.
var noStrings = types.NewStringList(types.DefaultTypeAdapter, nil)

func stringsValue(s []string) ref.Val {
	if len(s) == 0 {
		return noStrings
	}
	return types.NewStringList(types.DefaultTypeAdapter, s)
}

func addrValue(a netip.Addr) ref.Val {
	if !a.IsValid() {
		return types.String("")
	}
	return types.String(a.String())
}

func timeValue(unixNano int64) ref.Val {
	return types.Timestamp{Time: time.Unix(0, unixNano).UTC()}
}

// countryList returns the names of the country numbers ids.
func (e *Engine) countryList(ids []uint16) ref.Val {
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = e.mu.countryNames.name(id)
	}
	return stringsValue(names)
}

// ruleNetwork returns the network of a at RapidIPChange's prefixes, such
// as "203.0.113.0/24", or "" when a is invalid.
func (e *Engine) ruleNetwork(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	rc := e.cfg.Rules.RapidIPChange
	return e.ruleNetworkName(networkOf(a, rc.IPv4Prefix, rc.IPv6Prefix))
}

// ruleNetworkName returns the prefix that networkOf packed into n at
// RapidIPChange's prefixes.
func (e *Engine) ruleNetworkName(n uint64) string {
	rc := e.cfg.Rules.RapidIPChange
	if n>>32 == 0xffff_ffff {
		a := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		return netip.PrefixFrom(a, rc.IPv4Prefix).String()
	}
	var b [16]byte
	for i := range 8 {
		b[i] = byte(n >> (56 - 8*i))
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), rc.IPv6Prefix).String()
}

// celProvider adds the types of the variables to CEL's standard types.
type celProvider struct {
	types.Provider
	structs map[string]map[string]*types.FieldType
	names   map[string][]string
}

func newCELProvider() (*celProvider, error) {
	base, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	p := &celProvider{Provider: base, structs: map[string]map[string]*types.FieldType{}, names: map[string][]string{}}
	addFields(p, celEventType, eventFields)
	addFields(p, celTokenType, tokenFields)
	addFields(p, celSubjectType, subjectFields)
	return p, nil
}

func addFields[T any](p *celProvider, typeName string, fields []celField[T]) {
	m := make(map[string]*types.FieldType, len(fields))
	for _, f := range fields {
		get := f.get
		m[f.name] = &types.FieldType{
			Type: f.typ,
			// has(event.country) is true when the event carries one.
			IsSet:   func(target any) bool { return !isZeroValue(get(target.(T))) },
			GetFrom: func(target any) (any, error) { return get(target.(T)), nil },
		}
		p.names[typeName] = append(p.names[typeName], f.name)
	}
	p.structs[typeName] = m
}

func isZeroValue(v ref.Val) bool {
	switch v := v.(type) {
	case types.String:
		return v == ""
	case types.Int:
		return v == 0
	case types.Timestamp:
		return v.Time.IsZero() || v.Time.UnixNano() == 0
	case types.Duration:
		return v.Duration == 0
	case traits.Sizer:
		return v.Size() == types.IntZero
	}
	return false
}

// FindStructType returns the type of a variable, or looks name up in the
// standard types.
func (p *celProvider) FindStructType(name string) (*types.Type, bool) {
	if _, ok := p.structs[name]; ok {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Provider.FindStructType(name)
}

// FindStructFieldNames returns the fields of a variable's type, or looks
// name up in the standard types.
func (p *celProvider) FindStructFieldNames(name string) ([]string, bool) {
	if names, ok := p.names[name]; ok {
		return names, true
	}
	return p.Provider.FindStructFieldNames(name)
}

// FindStructFieldType returns a field of a variable's type, or looks it
// up in the standard types.
func (p *celProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if fields, ok := p.structs[name]; ok {
		f, ok := fields[field]
		return f, ok
	}
	return p.Provider.FindStructFieldType(name, field)
}
