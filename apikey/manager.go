package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
)

// Store is the part of a key store that a Manager uses. store.KeyStore has
// these methods, and store/sqlite implements it. The interface is declared
// here because package store imports this one.
type Store interface {
	PutKey(ctx context.Context, k Key, digest [32]byte) error
	KeyByID(ctx context.Context, id string) (k Key, digest [32]byte, ok bool, err error)
	Keys(ctx context.Context) ([]Key, error)
	RevokeKey(ctx context.Context, id string, t time.Time) error
}

// Secret format: "tt_", the key's ID, "_", then secretBytes random bytes in
// unpadded base64url. The ID is idBytes random bytes in lowercase hex, so it
// never contains the "_" that ends it.
const (
	secretPrefix = "tt_"
	idBytes      = 6
	secretBytes  = 32
)

// MaxNameLength is the maximum length of a key's name, in characters.
const MaxNameLength = 64

// AdminKeyName is the name of the key that EnsureAdmin creates.
const AdminKeyName = "admin"

// DefaultCacheTTL is how long Authenticate trusts a key it read from the
// store when Config.CacheTTL is zero.
const DefaultCacheTTL = time.Second

// DefaultCacheSize is the maximum number of keys cached when
// Config.CacheSize is zero.
const DefaultCacheSize = 1024

// DefaultUnknownTTL is how long Authenticate remembers that no key has an
// ID when Config.UnknownTTL is zero.
const DefaultUnknownTTL = time.Second

// DefaultUnknownSize is the maximum number of unknown key IDs remembered
// when Config.UnknownSize is zero.
const DefaultUnknownSize = 4096

// Config sets up a Manager. The zero Config is ready to use.
type Config struct {
	// CacheTTL is how long Authenticate trusts a key it read from the
	// store: 0 means DefaultCacheTTL, and a negative value reads the store
	// on every call.
	CacheTTL time.Duration

	CacheSize int // maximum keys cached; 0 means DefaultCacheSize

	// UnknownTTL is how long Authenticate remembers that no stored key
	// has an ID, so that a client that repeats an unknown key costs one
	// store query per UnknownTTL. 0 means DefaultUnknownTTL, and a
	// negative value reads the store on every call.
	UnknownTTL  time.Duration
	UnknownSize int // maximum unknown key IDs remembered; 0 means DefaultUnknownSize

	Now  func() time.Time // clock of creation, revocation and cache expiry; nil means time.Now
	Rand io.Reader        // source of key IDs and secrets; nil means crypto/rand.Reader
}

// Manager creates, authenticates, lists and revokes API keys kept in a
// Store. It is safe for concurrent use.
//
// Authenticate caches each key it reads for Config.CacheTTL. A revocation
// through this Manager takes effect at once. A revocation through another
// Manager or process, such as `tokentrail keys revoke` beside a running
// server, takes effect within CacheTTL (1 second by default).
//
// Authenticate also remembers, for Config.UnknownTTL, each key ID that no
// stored key has. A key that this Manager creates is found at once. A key
// created elsewhere is found at once too unless a client sent its ID in
// the UnknownTTL before, which needs the ID before it exists: IDs are
// random, so only a guess can name one.
type Manager struct {
	keys        Store
	ttl         time.Duration
	size        int
	unknownTTL  time.Duration
	unknownSize int
	now         func() time.Time
	rand        io.Reader

	mu struct {
		sync.RWMutex
		cache map[string]cachedKey // by key ID

		// unknown maps each key ID that no stored key has to the time
		// when that result expires.
		unknown map[string]time.Time

		// revocations counts the calls of Revoke. lookup caches what it
		// read only when no Revoke ran meanwhile, since what it read may
		// predate that revocation.
		revocations uint64
	}
}

// cachedKey is a key as read from the store, with the digest of its secret.
type cachedKey struct {
	key     Key
	digest  [32]byte
	expires time.Time
}

// NewManager returns a Manager of the keys in keys, with the defaults of
// cfg applied.
func NewManager(keys Store, cfg Config) *Manager {
	m := &Manager{keys: keys, ttl: cfg.CacheTTL, size: cfg.CacheSize, unknownTTL: cfg.UnknownTTL, unknownSize: cfg.UnknownSize, now: cfg.Now, rand: cfg.Rand}
	if m.ttl == 0 {
		m.ttl = DefaultCacheTTL
	}
	if m.size <= 0 {
		m.size = DefaultCacheSize
	}
	if m.unknownTTL == 0 {
		m.unknownTTL = DefaultUnknownTTL
	}
	if m.unknownSize <= 0 {
		m.unknownSize = DefaultUnknownSize
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	m.mu.cache = make(map[string]cachedKey)
	m.mu.unknown = make(map[string]time.Time)
	return m
}

// Create stores a new key with name and roles, and returns its secret,
// which exists only in the returned value: the store keeps its SHA-256
// digest. Roles given twice count once, and the key's Roles follow the order
// of Roles.
//
// An empty name, or one longer than MaxNameLength characters or holding a
// control character, is an error wrapping ErrBadName. No role, or an
// unknown one, is an error wrapping ErrBadRole.
func (m *Manager) Create(ctx context.Context, name string, roles []Role) (secret string, k Key, err error) {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return "", Key{}, err
	}
	roles, err = checkRoles(roles)
	if err != nil {
		return "", Key{}, err
	}

	random := make([]byte, idBytes+secretBytes)
	if _, err := io.ReadFull(m.rand, random); err != nil {
		return "", Key{}, fmt.Errorf("apikey: create key %q: read random bytes: %w", name, err)
	}
	id := hex.EncodeToString(random[:idBytes])
	secret = secretPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(random[idBytes:])
	k = Key{ID: id, Name: name, Roles: roles, CreatedAt: m.now().UTC()}

	if err := m.keys.PutKey(ctx, k, sha256.Sum256([]byte(secret))); err != nil {
		return "", Key{}, fmt.Errorf("apikey: create key %q: %w", name, err)
	}
	m.mu.Lock()
	delete(m.mu.unknown, id)
	m.mu.Unlock()
	return secret, k, nil
}

// Authenticate returns the key whose secret is secret. The error wraps
// ErrUnknownKey when secret is not of the form of a key, names no stored
// key, or does not match the stored digest, and ErrRevokedKey when the key
// matches but is revoked. It never contains the secret. For a malformed
// key it names the part that is wrong, with lengths and positions, so that
// an operator can tell a truncated paste from a key of another system.
func (m *Manager) Authenticate(ctx context.Context, secret string) (Key, error) {
	id, err := parseSecret(secret)
	if err != nil {
		return Key{}, fmt.Errorf("apikey: authenticate: %w", &malformedKeyError{detail: err})
	}
	digest := sha256.Sum256([]byte(secret))

	k, stored, err := m.lookup(ctx, id)
	if err != nil {
		return Key{}, err
	}
	if subtle.ConstantTimeCompare(digest[:], stored[:]) != 1 {
		return Key{}, fmt.Errorf("apikey: authenticate key %s: %w: its secret does not match", id, ErrUnknownKey)
	}
	if k.Revoked() {
		return Key{}, fmt.Errorf("apikey: authenticate key %s: %w since %s", id, ErrRevokedKey, k.RevokedAt.Format(time.RFC3339))
	}
	k.Roles = slices.Clone(k.Roles) // the cache shares its slice otherwise
	return k, nil
}

// lookup returns the key with id and its digest, from the cache while the
// entry is fresh, or else from the store.
func (m *Manager) lookup(ctx context.Context, id string) (Key, [32]byte, error) {
	now := m.now()
	m.mu.RLock()
	c, ok := m.mu.cache[id]
	unknownUntil, unknown := m.mu.unknown[id]
	revocations := m.mu.revocations
	m.mu.RUnlock()
	if m.ttl > 0 && ok && now.Before(c.expires) {
		return c.key, c.digest, nil
	}
	if unknown && now.Before(unknownUntil) {
		return Key{}, [32]byte{}, fmt.Errorf("apikey: authenticate key %s: %w: no key has this ID", id, ErrUnknownKey)
	}

	k, digest, found, err := m.keys.KeyByID(ctx, id)
	if err != nil {
		return Key{}, digest, fmt.Errorf("apikey: authenticate key %s: %w", id, err)
	}
	if !found {
		if m.unknownTTL > 0 {
			m.mu.Lock()
			m.rememberUnknownLocked(id, now)
			m.mu.Unlock()
		}
		return Key{}, digest, fmt.Errorf("apikey: authenticate key %s: %w: no key has this ID", id, ErrUnknownKey)
	}
	if m.ttl > 0 {
		m.mu.Lock()
		if m.mu.revocations == revocations {
			m.cacheLocked(id, cachedKey{key: k, digest: digest, expires: now.Add(m.ttl)}, now)
		}
		m.mu.Unlock()
	}
	return k, digest, nil
}

// cacheLocked adds c under id. When the cache is full it first drops the
// entries expired at now, and then, if none was, one entry chosen by map
// order, so that the cache never holds more than m.size keys.
func (m *Manager) cacheLocked(id string, c cachedKey, now time.Time) {
	if _, ok := m.mu.cache[id]; !ok && len(m.mu.cache) >= m.size {
		for other, e := range m.mu.cache {
			if !now.Before(e.expires) {
				delete(m.mu.cache, other)
			}
		}
		for other := range m.mu.cache {
			if len(m.mu.cache) < m.size {
				break
			}
			delete(m.mu.cache, other)
		}
	}
	m.mu.cache[id] = c
}

// rememberUnknownLocked records that no stored key has id, until
// unknownTTL after now. When the set is full it first drops the IDs
// expired at now, and then, if none was, one chosen by map order, so that
// a client that sends many IDs cannot grow it past unknownSize.
func (m *Manager) rememberUnknownLocked(id string, now time.Time) {
	if _, ok := m.mu.unknown[id]; !ok && len(m.mu.unknown) >= m.unknownSize {
		for other, expires := range m.mu.unknown {
			if !now.Before(expires) {
				delete(m.mu.unknown, other)
			}
		}
		for other := range m.mu.unknown {
			if len(m.mu.unknown) < m.unknownSize {
				break
			}
			delete(m.mu.unknown, other)
		}
	}
	m.mu.unknown[id] = now.Add(m.unknownTTL)
}

// List returns every key, revoked ones included, oldest first.
func (m *Manager) List(ctx context.Context) ([]Key, error) {
	keys, err := m.keys.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("apikey: list keys: %w", err)
	}
	return keys, nil
}

// Revoke marks the key with id revoked now, so that Authenticate rejects it,
// and returns it. A key revoked already keeps its first revocation time. An
// unknown id is an error wrapping ErrUnknownKey.
func (m *Manager) Revoke(ctx context.Context, id string) (Key, error) {
	if err := m.keys.RevokeKey(ctx, id, m.now().UTC()); err != nil {
		return Key{}, fmt.Errorf("apikey: revoke key %s: %w", id, err)
	}
	m.mu.Lock()
	delete(m.mu.cache, id)
	m.mu.revocations++
	m.mu.Unlock()

	k, _, found, err := m.keys.KeyByID(ctx, id)
	switch {
	case err != nil:
		return Key{}, fmt.Errorf("apikey: read key %s after revoking it: %w", id, err)
	case !found:
		return Key{}, fmt.Errorf("apikey: read key %s after revoking it: %w: it is no longer stored", id, ErrUnknownKey)
	}
	return k, nil
}

// EnsureAdmin creates a key named AdminKeyName with the admin role when the
// store holds no valid admin key, and returns its secret and true. When a
// valid admin key exists it creates nothing and returns "" and false.
//
// NOTE: two processes that call EnsureAdmin on one new store at the same
// moment may both create a key, since the check and the creation are two
// steps.
func (m *Manager) EnsureAdmin(ctx context.Context) (secret string, created bool, err error) {
	keys, err := m.keys.Keys(ctx)
	if err != nil {
		return "", false, fmt.Errorf("apikey: look for an admin key: %w", err)
	}
	for _, k := range keys {
		if !k.Revoked() && slices.Contains(k.Roles, RoleAdmin) {
			return "", false, nil
		}
	}
	secret, _, err = m.Create(ctx, AdminKeyName, []Role{RoleAdmin})
	if err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// parseSecret returns the key ID in secret, or an error that describes how
// secret differs from the form that Create makes. It checks the form only;
// the digest decides whether the secret is right. The error never quotes
// secret: it names the part at fault with lengths and positions, and a
// character only when it is padding or white space.
func parseSecret(secret string) (id string, err error) {
	rest, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return "", unprefixedSecret(secret)
	}
	id, body, ok := strings.Cut(rest, "_")
	if !ok {
		return "", fmt.Errorf("no _ follows the key ID, so the secret part is missing: the key has %d characters, want %d", len(secret), secretLength)
	}

	if len(id) != 2*idBytes {
		return "", fmt.Errorf("its key ID, between %s and the next _, has %d characters, want %d", secretPrefix, len(id), 2*idBytes)
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'A' <= c && c <= 'F':
			return "", fmt.Errorf("its key ID has a capital letter at position %d, but key IDs are lowercase hex: send the key as created", i+1)
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return "", fmt.Errorf("its key ID has a character that is not a hex digit at position %d", i+1)
		}
	}

	if want := base64.RawURLEncoding.EncodedLen(secretBytes); len(body) != want {
		return "", fmt.Errorf("the secret part of key %s has %d characters, want %d: check that the key was copied whole", id, len(body), want)
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '=':
			return "", fmt.Errorf("the secret part of key %s has padding (=) at position %d, which keys never carry", id, i+1)
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			return "", fmt.Errorf("the secret part of key %s has white space at position %d: check how the key was pasted", id, i+1)
		case (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_':
			return "", fmt.Errorf("the secret part of key %s has a character outside base64url at position %d", id, i+1)
		}
	}
	return id, nil
}

// secretLength is the length of every key that Create makes.
var secretLength = len(secretPrefix) + 2*idBytes + 1 + base64.RawURLEncoding.EncodedLen(secretBytes)

// unprefixedSecret words why secret, which lacks the tt_ prefix, is not a
// key, naming the mix-ups that callers make most: a JWT, a key ID, the
// scheme sent twice.
func unprefixedSecret(secret string) error {
	switch {
	case secret == "":
		return errors.New("it is empty")
	case audit.ContainsToken(secret):
		return fmt.Errorf("it is a JWT, not an API key of tokentrail, which starts with %s", secretPrefix)
	case len(secret) >= 7 && strings.EqualFold(secret[:7], "bearer "):
		return errors.New(`it starts with "Bearer " again, after the Authorization scheme`)
	case isKeyID(secret):
		return errors.New("it has the form of a key ID, which keys list prints, not of a key: send the whole key that keys create printed")
	case len(secret) >= len(secretPrefix) && strings.EqualFold(secret[:len(secretPrefix)], secretPrefix):
		return fmt.Errorf("it starts with %s in capitals, but keys start with %s: send the key as created", secret[:len(secretPrefix)], secretPrefix)
	}
	return fmt.Errorf("it does not start with %s, so it is not a key of tokentrail: the key has %d characters, want %d", secretPrefix, len(secret), secretLength)
}

// isKeyID reports whether s has the form of a key's ID: lowercase hex of
// idBytes bytes.
func isKeyID(s string) bool {
	if len(s) != 2*idBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkName rejects a name that the access log and the actor of a
// revocation could not show on one line.
func checkName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case name == "":
		return fmt.Errorf("apikey: %w: missing name: name the service or person that uses the key, such as payments-api", ErrBadName)
	case !utf8.ValidString(name):
		return fmt.Errorf("apikey: %w %q: not valid UTF-8", ErrBadName, name)
	case n > MaxNameLength:
		return fmt.Errorf("apikey: %w %q: %d characters, want at most %d", ErrBadName, name, n, MaxNameLength)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("apikey: %w %q: it contains a control character, such as a newline or tab", ErrBadName, name)
	}
	return nil
}

// checkRoles returns roles without repeats, in the order of Roles, or an
// error wrapping ErrBadRole.
func checkRoles(roles []Role) ([]Role, error) {
	if len(roles) == 0 {
		return nil, fmt.Errorf("apikey: %w: none given, want one or more of %s", ErrBadRole, roleList())
	}
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return nil, err
		}
	}
	var out []Role
	for _, r := range Roles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// malformedKeyError is the error of a secret that is not of the form of a
// key. It counts as ErrUnknownKey, but its message states that the form
// is wrong, unlike the message of a key that is merely unknown.
type malformedKeyError struct {
	detail error
}

func (e *malformedKeyError) Error() string { return "malformed API key: " + e.detail.Error() }

func (e *malformedKeyError) Unwrap() []error { return []error{ErrUnknownKey, e.detail} }
