package audit

import (
	"errors"
	"reflect"
	"strings"
	"sync"
)

// ErrInvalidValue is wrapped by the errors of Validate, ParseKind and the other
// parsers of this package when a value is outside its allowed set.
var ErrInvalidValue = errors.New("invalid value")

// ErrMalformedToken is returned by ParseToken when the input is not a compact
// JWT (three base64url segments whose first two decode to JSON objects).
var ErrMalformedToken = errors.New("malformed token")

// FieldError reports which field of an Event is wrong and why.
type FieldError struct {
	Field  string // the Go field name, such as "TokenID"
	Value  string // the offending value as text, empty when it is missing
	Reason string // what is wrong, such as "is missing"
}

// Error returns "field Value: reason", quoting the value when there is one.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return "field " + e.Field + " " + e.Reason
	}
	return "field " + e.Field + " " + e.Reason + ": " + quote(e.Value)
}

// Unwrap returns ErrInvalidValue so that callers can test with errors.Is.
func (e *FieldError) Unwrap() error { return ErrInvalidValue }

// JSONField returns the name that the JSON form of Event gives the field
// that e names, such as "token_id" for TokenID and "geo.country" for
// Geo.Country. It returns e.Field unchanged when Event has no such field,
// as for the fields of an Anomaly.
func (e *FieldError) JSONField() string {
	if name, ok := eventJSONNames()[e.Field]; ok {
		return name
	}
	return e.Field
}

// eventJSONNames maps the Go names of Event's fields, with "Geo." before
// those of Geo, to their JSON names. It reads the struct tags, so that the
// two cannot drift apart.
var eventJSONNames = sync.OnceValue(func() map[string]string {
	names := map[string]string{}
	var add func(t reflect.Type, goPrefix, jsonPrefix string)
	add = func(t reflect.Type, goPrefix, jsonPrefix string) {
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			names[goPrefix+f.Name] = jsonPrefix + name
			if f.Type == reflect.TypeFor[Geo]() {
				add(f.Type, goPrefix+f.Name+".", jsonPrefix+name+".")
			}
		}
	}
	add(reflect.TypeFor[Event](), "", "")
	return names
})
