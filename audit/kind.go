package audit

import "fmt"

// Kind is the lifecycle fact an Event records. The zero Kind is invalid.
type Kind uint8

// The kinds of lifecycle fact, in the order a token usually lives them.
const (
	KindIssued    Kind = iota + 1 // a token was minted
	KindUsed                      // a token was presented and accepted
	KindRefreshed                 // a refresh token was redeemed for new tokens
	KindRevoked                   // a token, family or subject was revoked
	KindRejected                  // a presented token was refused

	// KindSession is a fact of a sign-in session that concerns no one
	// token: a login, a second factor, a policy decision, a logout. It
	// carries a SessionID and may carry no token identity. Reports show
	// such events as the context of the tokens minted in that session.
	KindSession
)

var kindNames = [...]string{
	KindIssued:    "issued",
	KindUsed:      "used",
	KindRefreshed: "refreshed",
	KindRevoked:   "revoked",
	KindRejected:  "rejected",
	KindSession:   "session",
}

// Kinds lists every valid Kind.
var Kinds = []Kind{KindIssued, KindUsed, KindRefreshed, KindRevoked, KindRejected, KindSession}

// kindList is the valid kinds for error messages.
const kindList = "issued, used, refreshed, revoked, rejected, session"

// String returns the lowercase name of k, or "kind(N)" for an invalid value.
func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is one of the defined kinds.
func (k Kind) Valid() bool {
	return k >= KindIssued && k <= KindSession
}

// MarshalText encodes k as its lowercase name.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("audit: invalid kind %d", uint8(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText decodes a kind name such as "issued".
func (k *Kind) UnmarshalText(text []byte) error {
	parsed, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = parsed
	return nil
}

// ParseKind returns the Kind named s ("issued", "used", "refreshed", "revoked",
// "rejected" or "session"). It returns an error wrapping ErrInvalidValue for any other s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if kindNames[k] == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: kind %q (want issued, used, refreshed, revoked, rejected or session)", ErrInvalidValue, s)
}
