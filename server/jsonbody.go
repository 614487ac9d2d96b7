package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
)

// fieldError is an error in one field of a JSON object that a client
// sent, in the terms of that JSON: the key and the value as sent. Its
// Error is meant for the client.
type fieldError struct {
	field   string // the key as the client sent it, such as "kind" or "geo.asn"; "" for the whole object
	value   string // the value as shownValue prints it; "" when missing
	problem string // such as "is missing" or "is not one of ..."
	fix     string // the form to send instead, when problem does not give it
}

// Error returns `field "kind" is not one of ...: got "foo"`, with the fix
// after the value.
func (e *fieldError) Error() string {
	var b strings.Builder
	if e.field != "" {
		fmt.Fprintf(&b, "field %q ", e.field)
	}
	b.WriteString(e.problem)
	if e.value != "" {
		b.WriteString(": got ")
		b.WriteString(e.value)
	}
	if e.fix != "" {
		b.WriteString(": send ")
		b.WriteString(e.fix)
	}
	return b.String()
}

// maxShownValue is how much of a bad value an error quotes, in bytes.
const maxShownValue = 64

// shownValue returns a value that a client sent, for an error message: a
// raw JWT replaced by its fingerprint, invalid UTF-8 replaced and cut to
// maxShownValue bytes. JSON text is shown as it is, so a string keeps its
// quotes and a number has none.
func shownValue(s string) string {
	s = strings.ToValidUTF8(audit.RedactTokens(s), "\uFFFD")
	if len(s) <= maxShownValue {
		return s
	}
	cut := maxShownValue
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// jsonKind names the JSON type of the value that raw starts with.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "null"
	}
	return "a JSON number"
}

// objectField is one key and value of a JSON object, as sent.
type objectField struct {
	key   string
	value json.RawMessage
}

// objectFields returns the fields of the JSON object raw in the order
// sent, or a *fieldError when raw is not an object.
func objectFields(raw []byte, label string) ([]objectField, error) {
	if kind := jsonKind(raw); kind != "a JSON object" {
		return nil, &fieldError{problem: fmt.Sprintf("%s is %s, but it must be a JSON object", label, kind)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, invalidJSON(label, raw, err)
	}
	var fields []objectField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidJSON(label, raw, err)
		}
		key, _ := tok.(string) // inside an object, the decoder returns only string keys
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, invalidJSON(label, raw, err)
		}
		fields = append(fields, objectField{key, value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalidJSON(label, raw, err)
	}
	return fields, nil
}

// invalidJSON words a syntax error in raw, one record or body.
func invalidJSON(label string, raw []byte, err error) *fieldError {
	var syntax *json.SyntaxError
	isSyntax := errors.As(err, &syntax)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		isSyntax && syntax.Offset >= int64(len(bytes.TrimSpace(raw))):
		return &fieldError{problem: label + " ends inside its JSON value, as if it was cut short", fix: "the whole " + strings.TrimPrefix(label, "the ")}
	case isSyntax:
		return &fieldError{problem: fmt.Sprintf("%s is not valid JSON at byte %d: %v", label, syntax.Offset, syntax)}
	}
	return &fieldError{problem: fmt.Sprintf("%s is not valid JSON: %v", label, err)}
}

// decodeObject decodes the JSON object raw into v, a pointer to a struct,
// and words a failure as a *fieldError naming the key at fault. form
// returns what a field takes, by its lowercase JSON name, such as "an RFC
// 3339 time". A valid object costs one json.Unmarshal; only a failure
// decodes the fields one by one to find the bad one.
func decodeObject(raw []byte, v any, label string, form func(field string) string) error {
	err := json.Unmarshal(raw, v)
	if err == nil && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil
	}
	// json.Unmarshal accepts null as an object without fields, but null is
	// not an object.
	fields, ferr := objectFields(raw, label)
	if ferr != nil {
		return ferr
	}

	for _, f := range fields {
		single := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		key, _ := json.Marshal(f.key)
		if err := json.Unmarshal(fmt.Appendf(nil, "{%s:%s}", key, f.value), single); err != nil {
			return badField(f, err, form)
		}
	}
	return &fieldError{problem: fmt.Sprintf("%s cannot be decoded: %v", label, err)}
}

// badField words the error of decoding field f alone.
func badField(f objectField, err error, form func(field string) string) *fieldError {
	name := f.key
	value := shownValue(string(f.value))
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && strings.Contains(typeErr.Field, ".") {
		// A nested field, such as geo.asn: name it, not the whole object.
		name = f.key + typeErr.Field[strings.IndexByte(typeErr.Field, '.'):]
		switch value = typeErr.Value; {
		case strings.HasPrefix(value, "number "):
			value = strings.TrimPrefix(value, "number ")
		case value == "string", value == "number", value == "bool", value == "array", value == "object":
			value = "a JSON " + value
		}
	}
	fe := &fieldError{field: name, value: value, problem: "is not " + form(strings.ToLower(name))}
	// "status": "200" is the likeliest slip: a number sent as a string.
	var text string
	var number json.Number
	if json.Unmarshal(f.value, &text) == nil && json.Unmarshal([]byte(text), &number) == nil && errors.As(err, &typeErr) && typeErr.Value == "string" {
		fe.fix = "it as a JSON number, without quotes: " + text
	}
	return fe
}

// quotedValue returns text, such as a FieldError's Value, as shownValue
// shows a JSON string.
func quotedValue(text string) string {
	return shownValue(strconv.Quote(text))
}
