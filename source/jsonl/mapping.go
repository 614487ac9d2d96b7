package jsonl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tokentrail/tokentrail/audit"
)

// field is an event field that a Mapping can fill.
type field int

// The fields, named in fieldNames.
const (
	fieldID field = iota
	fieldTime
	fieldKind
	fieldJTI
	fieldFingerprint
	fieldToken
	fieldSub
	fieldIss
	fieldAud
	fieldClient
	fieldSession
	fieldParent
	fieldScope
	fieldIat
	fieldNbf
	fieldExp
	fieldIP
	fieldUA
	fieldMethod
	fieldPath
	fieldStatus
	fieldTrace
	fieldActor
	fieldReason
	fieldRevocationMethod
	fieldRejectReason
	fieldCountry
	fieldCity
	fieldLat
	fieldLon
	fieldAccuracy
	fieldASN
	fieldOrg
	numFields
)

var fieldNames = [numFields]string{
	fieldID:               "id",
	fieldTime:             "time",
	fieldKind:             "kind",
	fieldJTI:              "jti",
	fieldFingerprint:      "fingerprint",
	fieldToken:            "token",
	fieldSub:              "sub",
	fieldIss:              "iss",
	fieldAud:              "aud",
	fieldClient:           "client",
	fieldSession:          "session",
	fieldParent:           "parent",
	fieldScope:            "scope",
	fieldIat:              "iat",
	fieldNbf:              "nbf",
	fieldExp:              "exp",
	fieldIP:               "ip",
	fieldUA:               "ua",
	fieldMethod:           "method",
	fieldPath:             "path",
	fieldStatus:           "status",
	fieldTrace:            "trace",
	fieldActor:            "actor",
	fieldReason:           "reason",
	fieldRevocationMethod: "revocation_method",
	fieldRejectReason:     "reject_reason",
	fieldCountry:          "country",
	fieldCity:             "city",
	fieldLat:              "lat",
	fieldLon:              "lon",
	fieldAccuracy:         "accuracy_km",
	fieldASN:              "asn",
	fieldOrg:              "org",
}

func (f field) String() string { return fieldNames[f] }

// FieldNames returns the names of the fields a Mapping can map, in the order
// of audit.Event.
func FieldNames() []string {
	return append([]string(nil), fieldNames[:]...)
}

func lookupField(name string) (field, bool) {
	for f, n := range fieldNames {
		if n == name {
			return field(f), true
		}
	}
	return 0, false
}

// The values of Mapping.TimeFormat that are not Go layouts.
const (
	TimeRFC3339 = "rfc3339" // RFC 3339 text, with or without zone and fractional seconds
	TimeUnix    = "unix"    // seconds since 1970, integer or decimal
	TimeUnixMS  = "unix_ms" // milliseconds since 1970
	TimeUnixNS  = "unix_ns" // nanoseconds since 1970
)

// Mapping locates the fields of an event in a JSON record and sets how times
// are read. The zero Mapping maps nothing, so Validate rejects it: a
// usable Mapping maps time and at least one of jti, fingerprint and token.
// Build one with ParseMapping, LoadMapping or Set.
type Mapping struct {
	// Kind is the kind of every event whose record does not map one with
	// the kind field. The zero Kind means audit.KindUsed.
	Kind audit.Kind

	// TimeFormat is the notation of the time field: TimeRFC3339 (the default
	// when empty), TimeUnix, TimeUnixMS, TimeUnixNS, or a Go time layout
	// such as "02/Jan/2006:15:04:05 -0700". The iat, nbf and exp fields are
	// read as seconds when they are numbers, as JWT claims are, and in this
	// format otherwise.
	TimeFormat string

	// TimeZone is the zone of times written without one. Nil means UTC.
	TimeZone *time.Location

	// RejectStatus lists HTTP status codes, such as 401, that mean the
	// token was refused: a record with one of them in its status field
	// becomes a rejected event, unless the record maps its own kind.
	RejectStatus []int

	paths [numFields]*path // nil where a field is not mapped
}

// Set maps the named field to the path, which is written as in the
// ParseMapping spec. It returns an error wrapping ErrInvalidMapping for an
// unknown field, an invalid path or a field that is already mapped.
func (m *Mapping) Set(name, pathText string) error {
	if err := m.setField(name, pathText); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	return nil
}

func (m *Mapping) setField(name, pathText string) error {
	f, ok := lookupField(name)
	if !ok {
		return fmt.Errorf("unknown field %q (want one of %s)", name, strings.Join(fieldNames[:], ", "))
	}
	if m.paths[f] != nil {
		return fmt.Errorf("field %s is mapped twice, to %s and %s", name, m.paths[f].text, strings.TrimSpace(pathText))
	}
	p, err := parsePath(pathText)
	if err != nil {
		return fmt.Errorf("field %s: %v", name, err)
	}
	m.paths[f] = &p
	return nil
}

// Path returns the path of the named field, or "" when it is not mapped.
func (m *Mapping) Path(name string) string {
	f, ok := lookupField(name)
	if !ok || m.paths[f] == nil {
		return ""
	}
	return m.paths[f].text
}

// Validate returns an error wrapping ErrIncompleteMapping when m maps no
// time or no token identity, and one wrapping ErrInvalidMapping when an
// option is invalid.
func (m *Mapping) Validate() error {
	if m.paths[fieldTime] == nil {
		return fmt.Errorf("%w: field time is not mapped, so events would have no time", ErrIncompleteMapping)
	}
	if m.paths[fieldJTI] == nil && m.paths[fieldFingerprint] == nil && m.paths[fieldToken] == nil {
		return fmt.Errorf("%w: none of the fields jti, fingerprint and token is mapped, so events would name no token", ErrIncompleteMapping)
	}
	if m.Kind != 0 && !m.Kind.Valid() {
		return fmt.Errorf("%w: kind %d is not a valid kind", ErrInvalidMapping, m.Kind)
	}
	if err := checkTimeFormat(m.TimeFormat); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	if len(m.RejectStatus) > 0 && m.paths[fieldStatus] == nil {
		return fmt.Errorf("%w: reject_status needs the status field mapped", ErrInvalidMapping)
	}
	for _, code := range m.RejectStatus {
		if code < 100 || code > 599 {
			return fmt.Errorf("%w: reject_status %d is not an HTTP status code (100 to 599)", ErrInvalidMapping, code)
		}
	}
	return nil
}

// String returns m in the form that ParseMapping reads.
func (m *Mapping) String() string {
	var pairs []string
	for f, p := range m.paths {
		if p != nil {
			pairs = append(pairs, fieldNames[f]+"="+p.text)
		}
	}
	if m.Kind != 0 {
		pairs = append(pairs, "default_kind="+m.Kind.String())
	}
	if m.TimeFormat != "" {
		pairs = append(pairs, "time_format="+quoteOption(m.TimeFormat))
	}
	if m.TimeZone != nil {
		pairs = append(pairs, "time_zone="+quoteOption(m.TimeZone.String()))
	}
	if len(m.RejectStatus) > 0 {
		codes := make([]string, len(m.RejectStatus))
		for i, code := range m.RejectStatus {
			codes[i] = strconv.Itoa(code)
		}
		pairs = append(pairs, "reject_status="+strings.Join(codes, "|"))
	}
	return strings.Join(pairs, ",")
}

// quoteOption quotes an option value that would otherwise end its pair or
// lose its spaces, as a Go layout such as "Jan 2, 2006" would.
func quoteOption(v string) string {
	if strings.ContainsAny(v, ",\"\\") || v != strings.TrimSpace(v) {
		return strconv.Quote(v)
	}
	return v
}

// unquoteOption reverses quoteOption.
func unquoteOption(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		return v, nil
	}
	u, err := strconv.Unquote(v)
	if err != nil {
		return "", fmt.Errorf("option value %s is not a valid quoted string", v)
	}
	return u, nil
}

// ParseMapping reads a mapping from the comma-separated form that the --map
// flag takes, such as
//
//	jti=requestContext.authorizer.jwt.claims.jti,ip=requestContext.http.sourceIp,time=requestContext.timeEpoch,time_format=unix_ms
//
// Each pair is field=path, with the field names that FieldNames returns, or
// an option: time_format (see Mapping.TimeFormat), time_zone (an IANA name
// such as Europe/Paris, or an offset such as +02:00), default_kind (see
// Mapping.Kind) and reject_status (status codes separated by "|", such as
// reject_status=401|403; see Mapping.RejectStatus). An option's value may be in double quotes, as a Go layout
// with a comma must be: time_format="Jan 2, 2006 15:04:05".
//
// A path is dotted keys with bracketed array indexes, as in a.b[0].c. A key
// that contains a dot, a bracket, a comma or white space is written in
// double quotes, as in user.extra."authentication.kubernetes.io/credential-id"[0].
//
// The error wraps ErrInvalidMapping and names the bad pair, or wraps
// ErrIncompleteMapping when time or every token identity is left unmapped.
func ParseMapping(spec string) (Mapping, error) {
	var m Mapping
	pairs, err := splitPairs(spec)
	if err != nil {
		return Mapping{}, err
	}
	for n, pair := range pairs {
		name, value, ok := strings.Cut(pair, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.TrimSpace(value) == "" {
			return Mapping{}, fmt.Errorf("%w: pair %d %q is not field=path", ErrInvalidMapping, n+1, pair)
		}
		if err := m.setPair(name, value); err != nil {
			return Mapping{}, fmt.Errorf("%w: pair %d %q: %v", ErrInvalidMapping, n+1, pair, err)
		}
	}
	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// splitPairs splits spec at the commas outside double quotes.
func splitPairs(spec string) ([]string, error) {
	var pairs []string
	start, quoted := 0, false
	for i := 0; i < len(spec); i++ {
		switch spec[i] {
		case '\\':
			if quoted {
				i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				pairs = append(pairs, spec[start:i])
				start = i + 1
			}
		}
	}
	if quoted {
		return nil, fmt.Errorf("%w: %q has a quote that is not closed", ErrInvalidMapping, spec)
	}
	pairs = append(pairs, spec[start:])

	for n, p := range pairs {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("%w: pair %d of %q is empty", ErrInvalidMapping, n+1, spec)
		}
	}
	return pairs, nil
}

// setPair applies one pair of the ParseMapping form: an option or a field.
// An option's value may be in double quotes, with Go escapes.
func (m *Mapping) setPair(name, value string) error {
	value = strings.TrimSpace(value)
	switch name {
	case "time_format", "time_zone", "default_kind", "reject_status":
	default:
		return m.setField(name, value)
	}

	value, err := unquoteOption(value)
	if err != nil {
		return err
	}
	switch name {
	case "time_format":
		return m.setTimeFormat(value)
	case "time_zone":
		return m.setTimeZone(value)
	case "reject_status":
		return m.setRejectStatus(strings.FieldsFunc(value, func(r rune) bool { return r == '|' || r == ' ' }))
	default:
		return m.setKind(value)
	}
}

// setRejectStatus parses the status codes of the reject_status option.
func (m *Mapping) setRejectStatus(codes []string) error {
	if m.RejectStatus != nil {
		return errors.New("reject_status is set twice")
	}
	if len(codes) == 0 {
		return errors.New("reject_status lists no status code")
	}
	for _, c := range codes {
		code, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || code < 100 || code > 599 {
			return fmt.Errorf("reject_status %q is not an HTTP status code (100 to 599)", c)
		}
		m.RejectStatus = append(m.RejectStatus, code)
	}
	return nil
}

func (m *Mapping) setTimeFormat(format string) error {
	if m.TimeFormat != "" {
		return errors.New("time_format is set twice")
	}
	if err := checkTimeFormat(format); err != nil {
		return err
	}
	m.TimeFormat = format
	return nil
}

func (m *Mapping) setTimeZone(name string) error {
	if m.TimeZone != nil {
		return errors.New("time_zone is set twice")
	}
	loc, err := loadZone(name)
	if err != nil {
		return err
	}
	m.TimeZone = loc
	return nil
}

func (m *Mapping) setKind(name string) error {
	if m.Kind != 0 {
		return errors.New("the default kind is set twice")
	}
	k, err := audit.ParseKind(name)
	if err != nil {
		return fmt.Errorf("default kind: %v", err)
	}
	m.Kind = k
	return nil
}

// referenceTime checks that a Go layout writes and reads back a time.
var referenceTime = time.Date(2024, time.June, 13, 10, 15, 30, 123456789, time.UTC)

func checkTimeFormat(format string) error {
	switch format {
	case "", TimeRFC3339, TimeUnix, TimeUnixMS, TimeUnixNS:
		return nil
	}
	text := referenceTime.Format(format)
	if text == format {
		return fmt.Errorf("time_format %q is not rfc3339, unix, unix_ms, unix_ns or a Go layout such as 02/Jan/2006:15:04:05 -0700", format)
	}
	if _, err := time.Parse(format, text); err != nil {
		return fmt.Errorf("time_format %q is a Go layout that cannot read its own output: %v", format, err)
	}
	return nil
}

// loadZone reads an IANA zone name or a fixed offset such as +02:00.
//
// NOTE: names are looked up in the system's zone database, since this
// package does not embed time/tzdata. A host without one accepts only UTC,
// Local and offsets.
func loadZone(name string) (*time.Location, error) {
	if t, err := time.Parse("-07:00", name); err == nil {
		_, offset := t.Zone()
		return time.FixedZone(name, offset), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time_zone %q is not an IANA zone name such as Europe/Paris or an offset such as +02:00: %v", name, err)
	}
	return loc, nil
}

// maxMappingFileBytes bounds what LoadMapping reads: a mapping is a few
// dozen lines.
const maxMappingFileBytes = 1 << 20

// LoadMapping reads a mapping from YAML, such as
//
//	fields:
//	  jti: requestContext.authorizer.jwt.claims.jti
//	  ip: requestContext.http.sourceIp
//	  time: requestContext.timeEpoch
//	time_format: unix_ms
//	time_zone: UTC
//	kind: used
//	reject_status: [401]
//
// The keys of fields are the names that FieldNames returns and their values
// are paths, written as for ParseMapping. The other keys are the options:
// time_format, time_zone, kind, the kind of events whose record maps none
// (Mapping.Kind), and reject_status, a status code or a list of them
// (Mapping.RejectStatus). The error wraps ErrInvalidMapping and names the YAML
// line, or wraps ErrIncompleteMapping.
func LoadMapping(r io.Reader) (Mapping, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxMappingFileBytes+1))
	if err != nil {
		return Mapping{}, fmt.Errorf("read mapping: %w", err)
	}
	if len(data) > maxMappingFileBytes {
		return Mapping{}, fmt.Errorf("%w: the file is larger than %d bytes", ErrInvalidMapping, maxMappingFileBytes)
	}

	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if err == io.EOF {
			return Mapping{}, fmt.Errorf("%w: the file is empty", ErrInvalidMapping)
		}
		return Mapping{}, fmt.Errorf("%w: %v", ErrInvalidMapping, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return Mapping{}, fmt.Errorf("%w: line %d: want a mapping with the keys fields, kind, time_format, time_zone and reject_status", ErrInvalidMapping, root.Line)
	}

	var m Mapping
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := root.Content[i], root.Content[i+1]
		if first, ok := seen[key.Value]; ok {
			return Mapping{}, fmt.Errorf("%w: line %d: key %s repeats the one on line %d", ErrInvalidMapping, key.Line, key.Value, first)
		}
		seen[key.Value] = key.Line

		if key.Value == "fields" {
			if err := m.loadFields(value); err != nil {
				return Mapping{}, err
			}
			continue
		}
		if key.Value == "reject_status" {
			if err := m.loadRejectStatus(value); err != nil {
				return Mapping{}, fmt.Errorf("%w: line %d: %v", ErrInvalidMapping, value.Line, err)
			}
			continue
		}
		if value.Kind != yaml.ScalarNode {
			return Mapping{}, fmt.Errorf("%w: line %d: %s wants a single value", ErrInvalidMapping, value.Line, key.Value)
		}
		switch key.Value {
		case "kind":
			err = m.setKind(value.Value)
		case "time_format":
			err = m.setTimeFormat(value.Value)
		case "time_zone":
			err = m.setTimeZone(value.Value)
		default:
			err = fmt.Errorf("unknown key %q (want fields, kind, time_format, time_zone or reject_status)", key.Value)
		}
		if err != nil {
			return Mapping{}, fmt.Errorf("%w: line %d: %v", ErrInvalidMapping, key.Line, err)
		}
	}

	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// loadFields reads the fields mapping of a YAML mapping file.
func (m *Mapping) loadFields(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("%w: line %d: fields wants a mapping of field names to paths", ErrInvalidMapping, node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		if value.Kind != yaml.ScalarNode || value.Value == "" {
			return fmt.Errorf("%w: line %d: field %s wants a path such as a.b[0].c", ErrInvalidMapping, value.Line, key.Value)
		}
		if err := m.setField(key.Value, value.Value); err != nil {
			return fmt.Errorf("%w: line %d: %v", ErrInvalidMapping, key.Line, err)
		}
	}
	return nil
}

// loadRejectStatus reads reject_status from YAML: one code or a list.
func (m *Mapping) loadRejectStatus(value *yaml.Node) error {
	switch value.Kind {
	case yaml.ScalarNode:
		return m.setRejectStatus([]string{value.Value})
	case yaml.SequenceNode:
		codes := make([]string, 0, len(value.Content))
		for _, item := range value.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("reject_status lists something that is not a status code")
			}
			codes = append(codes, item.Value)
		}
		return m.setRejectStatus(codes)
	}
	return fmt.Errorf("reject_status wants a status code or a list of them")
}
