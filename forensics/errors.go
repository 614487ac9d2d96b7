package forensics

import "errors"

// ErrTokenNotFound is returned when no stored event names the token.
var ErrTokenNotFound = errors.New("token not found")

// ErrNoTokenRef is returned for a TokenRef that names no token.
var ErrNoTokenRef = errors.New("no token id or fingerprint given")

// ErrInvalidQuery is returned for an IncidentQuery or RelatedQuery that
// lacks a required field or holds an invalid value. The error wrapping it
// names the field.
var ErrInvalidQuery = errors.New("invalid query")

// ErrSubjectNotFound is returned by AnalyzeIncident when no stored event of
// the subject lies in the window.
var ErrSubjectNotFound = errors.New("no event of the subject in the window")
