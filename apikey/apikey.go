// Package apikey manages the API keys of the tokentrail server: who may
// call it and with which roles. A key is shown once, when it is created.
// The store keeps only its SHA-256 digest, which is enough for keys of 256
// random bits, because no dictionary can guess them.
package apikey

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Role is a permission that a key carries.
type Role string

// The roles. Admin may do everything the others may.
const (
	RoleIngest Role = "ingest" // send events
	RoleRead   Role = "read"   // read reports, incidents, anomalies and the revocation feed
	RoleRevoke Role = "revoke" // record revocations, which the revocation feed serves to middleware
	RoleAdmin  Role = "admin"  // every other role, and manage keys and read the access log
)

// Roles lists every role, in the order of increasing power.
var Roles = []Role{RoleIngest, RoleRead, RoleRevoke, RoleAdmin}

// ParseRole returns the role named s, or an error wrapping ErrBadRole that
// names s and the valid roles.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles, r) {
		return r, nil
	}
	return "", fmt.Errorf("apikey: %w %q: want %s", ErrBadRole, s, roleList())
}

// roleList returns the valid roles for error messages: "ingest, read or
// admin".
func roleList() string {
	names := make([]string, len(Roles))
	for i, r := range Roles {
		names[i] = string(r)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// Key is a stored key without its secret.
//
// Its JSON form, which `tokentrail keys list --json` prints, has the fields
// id, name, roles, created_at and revoked_at, the last one omitted while
// the key is valid.
type Key struct {
	ID        string    `json:"id"`   // public part of the key, printed in logs and the access log
	Name      string    `json:"name"` // the operator's label, such as "payments-api"
	Roles     []Role    `json:"roles"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"` // zero while the key is valid
}

// Revoked reports whether k has been revoked.
func (k Key) Revoked() bool {
	return !k.RevokedAt.IsZero()
}

// Can reports whether k may act in role r. An admin key may act in every
// role.
func (k Key) Can(r Role) bool {
	return slices.Contains(k.Roles, r) || slices.Contains(k.Roles, RoleAdmin)
}

// Access is one read of a token, subject or incident through the server:
// who looked at what, and when. Its JSON form has the fields time, key_id,
// key_name, action, target and remote_ip, the last one omitted when unknown.
type Access struct {
	Time     time.Time  `json:"time"`
	KeyID    string     `json:"key_id"`
	KeyName  string     `json:"key_name"`
	Action   string     `json:"action"` // the kind of read, such as "token.report" or "incident.analyze"
	Target   string     `json:"target"` // the token id, fingerprint, subject or address read
	RemoteIP netip.Addr `json:"remote_ip,omitzero"`
}

// Sentinel errors that callers test with errors.Is.
var (
	ErrUnknownKey = errors.New("unknown API key")
	ErrRevokedKey = errors.New("revoked API key")
	ErrBadRole    = errors.New("unknown role")
	ErrBadName    = errors.New("invalid key name")
)
