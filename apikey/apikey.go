// Package apikey holds the API keys of the tokentrail server: who may call
// it and with which roles. A key is shown once, when it is created; the
// store keeps only its SHA-256 digest, which is enough for keys of 256
// random bits, since no dictionary can guess them.
package apikey

import (
	"errors"
	"net/netip"
	"slices"
	"time"
)

// Role is what a key may do.
type Role string

// The roles. Admin may do everything the others may.
const (
	RoleIngest Role = "ingest" // send events
	RoleRead   Role = "read"   // read reports, incidents, anomalies and the revocation feed
	RoleAdmin  Role = "admin"  // revoke tokens, manage keys, read the access log
)

// Roles lists every role, in the order of increasing power.
var Roles = []Role{RoleIngest, RoleRead, RoleAdmin}

// Key is a stored key without its secret.
type Key struct {
	ID        string // public part of the key, printed in logs and the access log
	Name      string // what the operator called it, such as "payments-api"
	Roles     []Role
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key is valid
}

// Can reports whether k may act in role r. An admin key may act in every
// role.
func (k Key) Can(r Role) bool {
	return slices.Contains(k.Roles, r) || slices.Contains(k.Roles, RoleAdmin)
}

// Access is one read of a token, subject or incident through the server:
// who looked at what, and when.
type Access struct {
	Time     time.Time
	KeyID    string
	KeyName  string
	Action   string // what was read, such as "token.report" or "incident.analyze"
	Target   string // the token id, fingerprint, subject or address read
	RemoteIP netip.Addr
}

// Sentinel errors that callers test with errors.Is.
var (
	ErrUnknownKey = errors.New("unknown API key")
	ErrRevokedKey = errors.New("revoked API key")
	ErrBadRole    = errors.New("unknown role")
)
