package forensics

import "errors"

// ErrTokenNotFound is returned when no stored event names the token.
var ErrTokenNotFound = errors.New("token not found")

// ErrNoTokenRef is returned for a TokenRef that names no token.
var ErrNoTokenRef = errors.New("no token id or fingerprint given")
