package keycloak

import "errors"

// Errors of the key=value message parser. They reach the user inside the
// reason of a rejected record, wrapped in a pairError that gives the place.
var (
	errMissingKey        = errors.New("missing key= at the start of a pair")
	errUnterminatedQuote = errors.New("quoted value is not closed")
	errDuplicateKey      = errors.New("key appears twice with different values")
)

// Errors that reject a record which would yield events but cannot be placed
// in time.
var (
	errNoTime           = errors.New("no time in the record")
	errNoDate           = errors.New("no date for a line that carries a time of day only")
	errInvalidTimestamp = errors.New("invalid timestamp")
)

// Errors that reject a JSON record.
var (
	errInvalidJSON = errors.New("invalid JSON")
	errWrongType   = errors.New("wrong JSON type")
)

// errNoType rejects an event record without a type, which cannot be mapped.
var errNoType = errors.New(`the event has no type (want type=CODE_TO_TOKEN, type="CODE_TO_TOKEN" or a JSON "type")`)

// errNotEvent marks a message of the events logger that contains neither
// key=value pairs nor a JSON object, so it is skipped rather than rejected.
var errNotEvent = errors.New("message is neither key=value pairs nor a JSON object")
