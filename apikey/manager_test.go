package apikey_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// clock is a settable time source for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingStore counts the key reads that reach a real store.
type countingStore struct {
	*sqlite.Store
	reads atomic.Int64
}

func (s *countingStore) KeyByID(ctx context.Context, id string) (apikey.Key, [32]byte, bool, error) {
	s.reads.Add(1)
	return s.Store.KeyByID(ctx, id)
}

// openStore opens a new SQLite store in a temporary folder and returns it
// with the path of its file.
func openStore(tb testing.TB) (*sqlite.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "keys.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() }) // a test may have closed it already
	return st, path
}

func mustCreate(tb testing.TB, m *apikey.Manager, name string, roles ...apikey.Role) (string, apikey.Key) {
	tb.Helper()
	secret, k, err := m.Create(context.Background(), name, roles)
	if err != nil {
		tb.Fatalf("Create(%q, %v) = %v", name, roles, err)
	}
	return secret, k
}

var secretForm = regexp.MustCompile(`^tt_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$`)

func TestCreate(t *testing.T) {
	ctx := context.Background()
	st, path := openStore(t)
	clk := &clock{now: t0.Add(123)}
	m := apikey.NewManager(st, apikey.Config{Now: clk.Now})

	secret, k, err := m.Create(ctx, "  payments-api ", []apikey.Role{apikey.RoleRead, apikey.RoleIngest, apikey.RoleRead})
	if err != nil {
		t.Fatalf("Create = %v", err)
	}

	match := secretForm.FindStringSubmatch(secret)
	if match == nil {
		t.Fatalf("secret has length %d and does not have the form tt_<12 hex>_<43 base64url>", len(secret))
	}
	if match[1] != k.ID {
		t.Errorf("ID in the secret = %s, want the key's ID %s", match[1], k.ID)
	}
	if k.Name != "payments-api" {
		t.Errorf("Name = %q, want the name without spaces around it", k.Name)
	}
	if want := []apikey.Role{apikey.RoleIngest, apikey.RoleRead}; !slices.Equal(k.Roles, want) {
		t.Errorf("Roles = %v, want %v (once each, in the order of apikey.Roles)", k.Roles, want)
	}
	if !k.CreatedAt.Equal(t0.Add(123)) || k.Revoked() {
		t.Errorf("CreatedAt, RevokedAt = %v, %v; want %v and none", k.CreatedAt, k.RevokedAt, t0.Add(123))
	}

	stored, digest, found, err := st.KeyByID(ctx, k.ID)
	if err != nil || !found {
		t.Fatalf("KeyByID(%s) = found %v, %v; want the created key", k.ID, found, err)
	}
	if digest != sha256.Sum256([]byte(secret)) {
		t.Errorf("stored digest is not the SHA-256 of the secret")
	}
	if stored.Name != k.Name || !slices.Equal(stored.Roles, k.Roles) {
		t.Errorf("stored key = %+v, want %+v", stored, k)
	}

	other, _ := mustCreate(t, m, "other", apikey.RoleRead)
	if other == secret {
		t.Errorf("two Create calls returned the same secret")
	}

	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(file)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if strings.Contains(string(data), secret[len("tt_")+13:]) {
			t.Errorf("%s contains the random part of the secret, want only its digest stored", filepath.Base(file))
		}
	}
}

func TestCreateRejectsBadInput(t *testing.T) {
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{})
	tests := []struct {
		name    string
		keyName string
		roles   []apikey.Role
		want    error
		wantMsg string
	}{
		{"unknown role", "ci", []apikey.Role{apikey.RoleRead, "writer"}, apikey.ErrBadRole, `unknown role "writer": want ingest, read, revoke or admin`},
		{"role in capitals", "ci", []apikey.Role{"Admin"}, apikey.ErrBadRole, `unknown role "Admin"`},
		{"no role", "ci", nil, apikey.ErrBadRole, "none given, want one or more of ingest, read, revoke or admin"},
		{"empty name", "", []apikey.Role{apikey.RoleRead}, apikey.ErrBadName, "missing name"},
		{"blank name", " \t ", []apikey.Role{apikey.RoleRead}, apikey.ErrBadName, "missing name"},
		{"long name", strings.Repeat("é", apikey.MaxNameLength+1), []apikey.Role{apikey.RoleRead}, apikey.ErrBadName, "65 characters, want at most 64"},
		{"newline in name", "ci\nadmin", []apikey.Role{apikey.RoleRead}, apikey.ErrBadName, "control character"},
		{"invalid UTF-8", "ci\xff", []apikey.Role{apikey.RoleRead}, apikey.ErrBadName, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret, _, err := m.Create(context.Background(), tt.keyName, tt.roles)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create(%q, %v) = %v, want an error wrapping %v", tt.keyName, tt.roles, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Create(%q, %v) error = %q, want it to contain %q", tt.keyName, tt.roles, err, tt.wantMsg)
			}
			if secret != "" {
				t.Errorf("Create with bad input returned a secret")
			}
		})
	}
	if keys, err := m.List(context.Background()); err != nil || len(keys) != 0 {
		t.Errorf("List after rejected creations = %v, %v; want no key", keys, err)
	}
}

// failingReader fails every read, like an exhausted entropy source.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source failed") }

func TestCreateRandomFailure(t *testing.T) {
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{Rand: failingReader{}})

	if _, _, err := m.Create(context.Background(), "ci", []apikey.Role{apikey.RoleRead}); err == nil || !strings.Contains(err.Error(), "entropy source failed") {
		t.Errorf("Create with a failing random source = %v, want its error", err)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{})
	secret, created := mustCreate(t, m, "payments-api", apikey.RoleIngest)

	k, err := m.Authenticate(ctx, secret)
	if err != nil {
		t.Fatalf("Authenticate(created secret) = %v", err)
	}
	if k.ID != created.ID || k.Name != "payments-api" || !k.Can(apikey.RoleIngest) || k.Can(apikey.RoleRead) {
		t.Errorf("Authenticate = %+v, want key %s with role ingest only", k, created.ID)
	}

	k.Roles[0] = apikey.RoleAdmin
	if again, err := m.Authenticate(ctx, secret); err != nil || again.Can(apikey.RoleAdmin) {
		t.Errorf("Authenticate after the caller changed a returned Roles = %v, %v; want the stored roles", again.Roles, err)
	}

	_, otherID := mustCreate(t, m, "other", apikey.RoleRead)
	body := secret[len(secret)-43:]
	changed := secret[:len(secret)-1] + "A"
	if strings.HasSuffix(secret, "A") {
		changed = secret[:len(secret)-1] + "B"
	}
	tests := []struct {
		name   string
		secret string
	}{
		{"empty", ""},
		{"no prefix", strings.TrimPrefix(secret, "tt_")},
		{"other prefix", "xx_" + strings.TrimPrefix(secret, "tt_")},
		{"truncated", secret[:len(secret)-1]},
		{"one byte longer", secret + "A"},
		{"last character changed", changed},
		{"other key's ID", "tt_" + otherID.ID + "_" + body},
		{"unknown ID", "tt_0123456789ab_" + body},
		{"ID in capitals", "tt_" + strings.ToUpper(created.ID) + "_" + body},
		{"character outside base64url", secret[:len(secret)-1] + "="},
		{"bearer prefix kept", "Bearer " + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := m.Authenticate(ctx, tt.secret)
			if !errors.Is(err, apikey.ErrUnknownKey) {
				t.Fatalf("Authenticate(%s) = %+v, %v; want an error wrapping ErrUnknownKey", tt.name, k, err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), body) {
				t.Errorf("Authenticate(%s) error contains the secret", tt.name)
			}
		})
	}
}

func TestAuthenticateRevoked(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	clk := &clock{now: t0}
	m := apikey.NewManager(st, apikey.Config{Now: clk.Now})
	secret, k := mustCreate(t, m, "ci", apikey.RoleRead)
	if _, err := m.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate before Revoke = %v", err)
	}

	clk.Advance(time.Minute)
	revoked, err := m.Revoke(ctx, k.ID)
	if err != nil {
		t.Fatalf("Revoke(%s) = %v", k.ID, err)
	}
	if !revoked.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Revoke(%s) RevokedAt = %v, want %v", k.ID, revoked.RevokedAt, t0.Add(time.Minute))
	}

	_, err = m.Authenticate(ctx, secret)
	if !errors.Is(err, apikey.ErrRevokedKey) {
		t.Fatalf("Authenticate after Revoke through the same Manager = %v, want ErrRevokedKey at once", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Authenticate error of a revoked key contains the secret")
	}

	clk.Advance(time.Minute)
	if again, err := m.Revoke(ctx, k.ID); err != nil || !again.RevokedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Revoke a second time = %v, %v; want the first revocation time %v", again.RevokedAt, err, t0.Add(time.Minute))
	}
	if _, err := m.Revoke(ctx, "0123456789ab"); !errors.Is(err, apikey.ErrUnknownKey) {
		t.Errorf("Revoke(unknown ID) = %v, want an error wrapping ErrUnknownKey", err)
	}
}

// TestCacheBound checks the bound that the Manager documents: a revocation
// by another process reaches a running Manager within CacheTTL.
func TestCacheBound(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	clk := &clock{now: t0}
	server := apikey.NewManager(st, apikey.Config{Now: clk.Now})
	cli := apikey.NewManager(st, apikey.Config{Now: clk.Now})
	secret, k := mustCreate(t, cli, "ci", apikey.RoleRead)

	if _, err := server.Authenticate(ctx, secret); err != nil {
		t.Fatalf("Authenticate of a key created by another Manager = %v, want it found at once", err)
	}
	if _, err := cli.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}

	clk.Advance(apikey.DefaultCacheTTL - time.Nanosecond)
	if _, err := server.Authenticate(ctx, secret); err != nil {
		t.Errorf("Authenticate within the cache TTL of another Manager's Revoke = %v, want the cached key", err)
	}
	clk.Advance(time.Nanosecond)
	if _, err := server.Authenticate(ctx, secret); !errors.Is(err, apikey.ErrRevokedKey) {
		t.Errorf("Authenticate once the cache TTL has passed = %v, want ErrRevokedKey", err)
	}
}

func TestCacheOff(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	server := apikey.NewManager(st, apikey.Config{CacheTTL: -1})
	cli := apikey.NewManager(st, apikey.Config{})
	secret, k := mustCreate(t, cli, "ci", apikey.RoleRead)
	if _, err := server.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}

	if _, err := cli.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}

	if _, err := server.Authenticate(ctx, secret); !errors.Is(err, apikey.ErrRevokedKey) {
		t.Errorf("Authenticate without cache after another Manager's Revoke = %v, want ErrRevokedKey at once", err)
	}
}

func TestCacheReadsStoreOncePerTTL(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	counting := &countingStore{Store: st}
	clk := &clock{now: t0}
	m := apikey.NewManager(counting, apikey.Config{Now: clk.Now, CacheSize: 2})
	var secrets []string
	for i := range 3 {
		secret, _ := mustCreate(t, m, fmt.Sprintf("key-%d", i), apikey.RoleRead)
		secrets = append(secrets, secret)
	}

	for range 10 {
		if _, err := m.Authenticate(ctx, secrets[0]); err != nil {
			t.Fatal(err)
		}
	}
	if n := counting.reads.Load(); n != 1 {
		t.Errorf("store reads for 10 authentications of one key within the TTL = %d, want 1", n)
	}

	clk.Advance(apikey.DefaultCacheTTL)
	if _, err := m.Authenticate(ctx, secrets[0]); err != nil {
		t.Fatal(err)
	}
	if n := counting.reads.Load(); n != 2 {
		t.Errorf("store reads after the TTL passed = %d, want 2", n)
	}

	// A cache of 2 keys with 3 keys in use still authenticates each one.
	for round := range 3 {
		for i, secret := range secrets {
			if _, err := m.Authenticate(ctx, secret); err != nil {
				t.Errorf("round %d: Authenticate(key-%d) with a full cache = %v", round, i, err)
			}
		}
	}
}

func TestUnknownKeyReadsStoreOncePerTTL(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	counting := &countingStore{Store: st}
	clk := &clock{now: t0}
	m := apikey.NewManager(counting, apikey.Config{Now: clk.Now, UnknownSize: 2})
	secret, _ := mustCreate(t, m, "ci", apikey.RoleRead)
	// Same form as a real key, with an ID that no key has.
	unknown := "tt_0123456789ab" + secret[len("tt_0123456789ab"):]

	for range 10 {
		if _, err := m.Authenticate(ctx, unknown); !errors.Is(err, apikey.ErrUnknownKey) {
			t.Fatalf("Authenticate(unknown ID) = %v, want ErrUnknownKey", err)
		}
	}
	if n := counting.reads.Load(); n != 1 {
		t.Errorf("store reads for 10 authentications of one unknown ID within the TTL = %d, want 1", n)
	}

	clk.Advance(apikey.DefaultUnknownTTL)
	if _, err := m.Authenticate(ctx, unknown); !errors.Is(err, apikey.ErrUnknownKey) {
		t.Fatalf("Authenticate(unknown ID) after the TTL = %v, want ErrUnknownKey", err)
	}
	if n := counting.reads.Load(); n != 2 {
		t.Errorf("store reads after the unknown TTL passed = %d, want 2", n)
	}

	// More unknown IDs than UnknownSize stay unknown and keep the set
	// bounded, and a known key is still found.
	for i := range 5 {
		other := fmt.Sprintf("tt_%012x", i) + secret[len("tt_0123456789ab"):]
		if _, err := m.Authenticate(ctx, other); !errors.Is(err, apikey.ErrUnknownKey) {
			t.Errorf("Authenticate(unknown ID %d) = %v, want ErrUnknownKey", i, err)
		}
	}
	if _, err := m.Authenticate(ctx, secret); err != nil {
		t.Errorf("Authenticate(known key) after unknown IDs = %v, want it found", err)
	}
}

func TestUnknownCacheOff(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	counting := &countingStore{Store: st}
	m := apikey.NewManager(counting, apikey.Config{UnknownTTL: -1})
	unknown := "tt_0123456789ab_" + strings.Repeat("A", 43)
	for range 3 {
		if _, err := m.Authenticate(ctx, unknown); !errors.Is(err, apikey.ErrUnknownKey) {
			t.Fatalf("Authenticate(unknown ID) = %v, want ErrUnknownKey", err)
		}
	}
	if n := counting.reads.Load(); n != 3 {
		t.Errorf("store reads for 3 unknown IDs with UnknownTTL -1 = %d, want 3", n)
	}
}

func TestAuthenticateConcurrent(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{CacheSize: 1})
	good, _ := mustCreate(t, m, "good", apikey.RoleRead)
	revokedSecret, revokedKey := mustCreate(t, m, "gone", apikey.RoleRead)

	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := m.Authenticate(ctx, good); err != nil {
					errs <- fmt.Errorf("Authenticate(good) = %w", err)
				}
				_, err := m.Authenticate(ctx, revokedSecret)
				if err != nil && !errors.Is(err, apikey.ErrRevokedKey) {
					errs <- fmt.Errorf("Authenticate(revoked key) = %w", err)
				}
			}
		})
	}
	wg.Go(func() {
		if _, err := m.Revoke(ctx, revokedKey.ID); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := m.Authenticate(ctx, revokedSecret); !errors.Is(err, apikey.ErrRevokedKey) {
		t.Errorf("Authenticate(revokedSecret) after the concurrent Revoke = %v, want ErrRevokedKey", err)
	}
}

func TestEnsureAdmin(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{})
	mustCreate(t, m, "reader", apikey.RoleRead, apikey.RoleIngest)

	secret, created, err := m.EnsureAdmin(ctx)
	if err != nil || !created || secret == "" {
		t.Fatalf("EnsureAdmin with no admin key = created %v, %v; want a new key", created, err)
	}
	k, err := m.Authenticate(ctx, secret)
	if err != nil || k.Name != apikey.AdminKeyName || !slices.Equal(k.Roles, []apikey.Role{apikey.RoleAdmin}) {
		t.Fatalf("Authenticate(EnsureAdmin's secret) = %+v, %v; want key %q with role admin", k, err, apikey.AdminKeyName)
	}

	secret, created, err = m.EnsureAdmin(ctx)
	if err != nil || created || secret != "" {
		t.Errorf("EnsureAdmin with a valid admin key = created %v, secret of %d bytes, %v; want nothing created", created, len(secret), err)
	}

	if _, err := m.Revoke(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	secret, created, err = m.EnsureAdmin(ctx)
	if err != nil || !created || secret == "" {
		t.Errorf("EnsureAdmin after the admin key was revoked = created %v, %v; want a new key", created, err)
	}
	keys, err := m.List(ctx)
	if err != nil || len(keys) != 3 {
		t.Errorf("List = %d keys, %v; want reader and two admin keys", len(keys), err)
	}
}

func TestParseRole(t *testing.T) {
	for _, r := range apikey.Roles {
		if got, err := apikey.ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", r, got, err, r)
		}
	}
	if _, err := apikey.ParseRole("root"); !errors.Is(err, apikey.ErrBadRole) || !strings.Contains(err.Error(), `"root"`) {
		t.Errorf("ParseRole(root) = %v, want an error wrapping ErrBadRole that names root", err)
	}
}

// TestAuthenticateNamesMalformedPart checks that the error for a malformed
// key names the part that is wrong, so that the server log can tell a cut paste
// from a key of another system, and never quotes the key.
func TestAuthenticateNamesMalformedPart(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	m := apikey.NewManager(st, apikey.Config{})
	secret, k := mustCreate(t, m, "payments-api", apikey.RoleIngest)
	body := secret[len(secret)-43:]
	jwt := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6InRvay0xIn0.c2lnbmF0dXJl"

	tests := []struct {
		name   string
		secret string
		want   string
	}{
		{"empty", "", "it is empty"},
		{"JWT", jwt, "it is a JWT"},
		{"scheme twice", "Bearer " + secret, `starts with "Bearer " again`},
		{"key ID only", k.ID, "form of a key ID"},
		{"prefix in capitals", "TT_" + strings.TrimPrefix(secret, "tt_"), "in capitals"},
		{"other system", "sk_live_" + body, "does not start with tt_"},
		{"no secret part", "tt_" + k.ID, "no _ follows the key ID"},
		{"ID too short", "tt_" + k.ID[1:] + "_" + body, "key ID, between tt_ and the next _, has 11 characters, want 12"},
		{"ID in capitals", "tt_0A" + k.ID[2:] + "_" + body, "capital letter at position 2"},
		{"ID not hex", "tt_" + k.ID[:4] + "zz" + k.ID[6:] + "_" + body, "not a hex digit at position 5"},
		{"secret cut", secret[:len(secret)-2], "secret part of key " + k.ID + " has 41 characters, want 43"},
		{"padding", secret[:len(secret)-1] + "=", "padding (=) at position 43"},
		{"space inside", secret[:20] + " " + secret[21:], "white space at position 5"},
		{"outside base64url", secret[:len(secret)-1] + "+", "outside base64url at position 43"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Authenticate(ctx, tt.secret)
			if !errors.Is(err, apikey.ErrUnknownKey) {
				t.Fatalf("Authenticate(%s) error = %v, want one wrapping ErrUnknownKey", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Authenticate(%s) error = %q, want it to contain %q", tt.name, err, tt.want)
			}
			if strings.Contains(err.Error(), body[:20]) || strings.Contains(err.Error(), "eyJ") {
				t.Errorf("Authenticate(%s) error = %q, which quotes the key", tt.name, err)
			}
		})
	}
}
