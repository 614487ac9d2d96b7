package jsonl

import "errors"

// ErrInvalidMapping is wrapped by the errors of ParseMapping, LoadMapping and
// Mapping.Set when a pair, a path, a field name or an option is invalid. The
// message names the pair or the YAML line.
var ErrInvalidMapping = errors.New("jsonl: invalid mapping")

// ErrIncompleteMapping is wrapped by the errors of Mapping.Validate, and so of
// ParseMapping, LoadMapping and Parse, when a mapping maps no time field or no
// field that identifies the token (jti, fingerprint or token).
var ErrIncompleteMapping = errors.New("jsonl: incomplete mapping")
