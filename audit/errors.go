package audit

import "errors"

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
