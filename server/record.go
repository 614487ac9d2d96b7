package server

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// rfc3339Form is the form of every time field of a request.
const rfc3339Form = `an RFC 3339 time such as "2026-11-20T10:00:00Z"`

// eventForms are the forms of the fields of an ingested event whose form
// is not "a string", by lowercase JSON name.
var eventForms = map[string]string{
	"time":              rfc3339Form,
	"issued_at":         rfc3339Form,
	"not_before":        rfc3339Form,
	"expires_at":        rfc3339Form,
	"kind":              "one of " + kindNames(),
	"ip":                `an IPv4 or IPv6 address such as "203.0.113.7"`,
	"status":            "an HTTP status code, a whole number from 100 to 599",
	"audience":          "an array of strings",
	"scopes":            "an array of strings",
	"geo":               "an object with the fields country, city, latitude, longitude, accuracy_km, asn and org",
	"geo.latitude":      "a number",
	"geo.longitude":     "a number",
	"geo.accuracy_km":   "a number",
	"geo.asn":           "a whole number from 0 to 4294967295",
	"revocation_method": "one of api, admin, logout, automated",
	"revocation_scope":  "one of token, family, session, subject",
	"reject_reason":     "one of " + rejectReasonNames(),
}

// eventForm returns the form of an event field.
func eventForm(field string) string {
	if form, ok := eventForms[field]; ok {
		return form
	}
	return "a string"
}

// missingFixes are the forms to send for required event fields that are
// missing, where audit's reason gives none.
var missingFixes = map[string]string{
	"id":   "a stable id of the event, such as a hash of the source record, so that a resent event counts as a duplicate",
	"time": rfc3339Form,
}

func kindNames() string {
	names := make([]string, len(audit.Kinds))
	for i, k := range audit.Kinds {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}

func rejectReasonNames() string {
	names := make([]string, len(audit.RejectReasons))
	for i, r := range audit.RejectReasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

// decodeEvent decodes one ingest record. Its error is a *fieldError that
// names the JSON field as sent, the value and the form the field takes.
func decodeEvent(raw []byte) (audit.Event, error) {
	var e audit.Event
	err := decodeObject(raw, &e, "the record", eventForm)
	return e, err
}

// rejectionMessage words why record number index, raw, was not stored:
// the record, the JSON field as the client sent it, the value and what to
// send. It ends with the record's keys that are no event field, which
// json.Unmarshal ignores: a "jti" sent for "token_id" often explains a
// missing field.
func rejectionMessage(index int, raw []byte, re *source.RecordError) string {
	fields, _ := objectFields(raw, "the record") // nil for a record that is no object, which has no keys to name
	var msg string
	var decodeErr *fieldError
	var invalid *audit.FieldError
	switch {
	case errors.As(re, &decodeErr):
		msg = decodeErr.Error()
	case errors.As(re, &invalid):
		fe := &fieldError{field: sentKey(fields, invalid.JSONField()), problem: invalid.Reason}
		if invalid.Value != "" {
			fe.value = quotedValue(invalid.Value)
		} else {
			fe.fix = missingFixes[invalid.JSONField()]
		}
		msg = fe.Error()
	default:
		msg = re.Reason
	}

	switch unknown := unknownKeys(fields); {
	case len(unknown) == 1:
		msg += fmt.Sprintf("; the record's key %s is not a field of an event, so it was ignored", unknown[0])
	case len(unknown) > 1:
		msg += fmt.Sprintf("; the record's keys %s are not fields of an event, so they were ignored", strings.Join(unknown, ", "))
	}
	return fmt.Sprintf("record %d: %s", index, audit.RedactTokens(msg))
}

// sentKey returns the key of fields that encoding/json matched to the
// event field name, which may differ in case, or name itself.
func sentKey(fields []objectField, name string) string {
	top, rest, nested := strings.Cut(name, ".")
	for _, f := range fields {
		if strings.EqualFold(f.key, top) {
			if nested {
				return f.key + "." + rest
			}
			return f.key
		}
	}
	return name
}

// unknownKeys returns the keys of fields, quoted, that match no field of
// the JSON form of audit.Event, even in another case as encoding/json
// allows.
func unknownKeys(fields []objectField) []string {
	var unknown []string
	for _, f := range fields {
		known := false
		for _, name := range eventFieldNames() {
			if strings.EqualFold(f.key, name) {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, shownValue(fmt.Sprintf("%q", f.key)))
		}
	}
	return unknown
}

// eventFieldNames returns the top-level JSON names of audit.Event, from
// its struct tags.
var eventFieldNames = sync.OnceValue(func() []string {
	var names []string
	for f := range reflect.TypeFor[audit.Event]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
})
