package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// testKeys checks a store that implements store.KeyStore; a store that does
// not is skipped.
func testKeys(t *testing.T, s store.Store) {
	ks, ok := s.(store.KeyStore)
	if !ok {
		t.Skip("the store does not implement store.KeyStore")
	}
	ctx := context.Background()

	if keys, err := ks.Keys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("Keys() on a new store = %v, %v; want none", keys, err)
	}
	if _, _, found, err := ks.KeyByID(ctx, "k1"); err != nil || found {
		t.Fatalf("KeyByID(k1) on a new store = found %v, %v; want not found", found, err)
	}

	ingest := apikey.Key{ID: "k2", Name: "payments-api", Roles: []apikey.Role{apikey.RoleIngest, apikey.RoleRead},
		CreatedAt: base.Add(2*time.Minute + 123456789)}
	admin := apikey.Key{ID: "k1", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: base.Add(time.Minute)}
	ingestDigest := sha256.Sum256([]byte("secret of k2"))
	adminDigest := sha256.Sum256([]byte("secret of k1"))
	for _, put := range []struct {
		k      apikey.Key
		digest [32]byte
	}{{ingest, ingestDigest}, {admin, adminDigest}} {
		if err := ks.PutKey(ctx, put.k, put.digest); err != nil {
			t.Fatalf("PutKey(%s) = %v", put.k.ID, err)
		}
	}

	got, digest, found, err := ks.KeyByID(ctx, "k2")
	if err != nil || !found {
		t.Fatalf("KeyByID(k2) = found %v, %v; want the key just stored", found, err)
	}
	if !reflect.DeepEqual(got, ingest) {
		t.Errorf("KeyByID(k2) = %+v, want %+v", got, ingest)
	}
	if digest != ingestDigest {
		t.Errorf("KeyByID(k2) digest = %x, want %x", digest, ingestDigest)
	}

	keys, err := ks.Keys(ctx)
	if err != nil {
		t.Fatalf("Keys() = %v", err)
	}
	if want := []apikey.Key{admin, ingest}; !reflect.DeepEqual(keys, want) {
		t.Errorf("Keys() = %+v, want %+v (oldest first)", keys, want)
	}

	again := admin
	again.Name = "someone else"
	if err := ks.PutKey(ctx, again, ingestDigest); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("PutKey(stored ID k1) = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
	if got, digest, _, _ := ks.KeyByID(ctx, "k1"); got.Name != "oncall" || digest != adminDigest {
		t.Errorf("key k1 after a second PutKey = %q with digest %x, want the first one kept", got.Name, digest)
	}
}

// testRevokeKey checks RevokeKey of a store that implements store.KeyStore.
func testRevokeKey(t *testing.T, s store.Store) {
	ks, ok := s.(store.KeyStore)
	if !ok {
		t.Skip("the store does not implement store.KeyStore")
	}
	ctx := context.Background()
	k := apikey.Key{ID: "k1", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: base}
	if err := ks.PutKey(ctx, k, sha256.Sum256([]byte("secret"))); err != nil {
		t.Fatalf("PutKey(k1) = %v", err)
	}

	first := base.Add(time.Hour + 42)
	if err := ks.RevokeKey(ctx, "k1", first); err != nil {
		t.Fatalf("RevokeKey(k1) = %v", err)
	}
	got, _, _, err := ks.KeyByID(ctx, "k1")
	if err != nil || !got.RevokedAt.Equal(first) {
		t.Errorf("KeyByID(k1) after RevokeKey = revoked at %v, %v; want %v", got.RevokedAt, err, first)
	}

	if err := ks.RevokeKey(ctx, "k1", first.Add(time.Hour)); err != nil {
		t.Errorf("RevokeKey(k1) a second time = %v, want nil", err)
	}
	if got, _, _, _ := ks.KeyByID(ctx, "k1"); !got.RevokedAt.Equal(first) {
		t.Errorf("revocation time after a second RevokeKey = %v, want the first one, %v", got.RevokedAt, first)
	}

	if err := ks.RevokeKey(ctx, "nope", first); !errors.Is(err, apikey.ErrUnknownKey) {
		t.Errorf("RevokeKey(unknown ID) = %v, want an error wrapping apikey.ErrUnknownKey", err)
	}
}

// testAccesses checks a store that implements store.AccessStore; a store
// that does not is skipped.
func testAccesses(t *testing.T, s store.Store) {
	accessLog, ok := s.(store.AccessStore)
	if !ok {
		t.Skip("the store does not implement store.AccessStore")
	}
	ctx := context.Background()
	at := func(minutes int) time.Time { return base.Add(time.Duration(minutes)*time.Minute + 7) }

	if got, err := accessLog.Accesses(ctx, store.AccessQuery{}); err != nil || len(got) != 0 {
		t.Fatalf("Accesses() on a new store = %v, %v; want none", got, err)
	}

	ip := netip.MustParseAddr("2001:db8::7")
	records := []apikey.Access{
		{Time: at(1), KeyID: "k1", KeyName: "oncall", Action: "token.report", Target: "jti-1", RemoteIP: netip.MustParseAddr("192.0.2.10")},
		{Time: at(2), KeyID: "k2", KeyName: "soc-bot", Action: "incident.analyze", Target: "alice", RemoteIP: ip},
		{Time: at(2), KeyID: "k1", KeyName: "oncall", Action: "subject.tokens", Target: "alice"}, // same instant, stored later
		{Time: at(3), KeyID: "k1", KeyName: "oncall", Action: "token.report", Target: "jti-2", RemoteIP: netip.MustParseAddr("::ffff:192.0.2.10")},
	}
	for _, a := range records {
		if err := accessLog.AppendAccess(ctx, a); err != nil {
			t.Fatalf("AppendAccess(%+v) = %v", a, err)
		}
	}

	tests := []struct {
		name string
		q    store.AccessQuery
		want []apikey.Access
	}{
		{"all, newest first", store.AccessQuery{}, []apikey.Access{records[3], records[2], records[1], records[0]}},
		{"key", store.AccessQuery{KeyID: "k1"}, []apikey.Access{records[3], records[2], records[0]}},
		{"target", store.AccessQuery{Target: "alice"}, []apikey.Access{records[2], records[1]}},
		{"since inclusive", store.AccessQuery{Since: at(2)}, []apikey.Access{records[3], records[2], records[1]}},
		{"until exclusive", store.AccessQuery{Until: at(2)}, []apikey.Access{records[0]}},
		{"limit keeps the newest", store.AccessQuery{Limit: 2}, []apikey.Access{records[3], records[2]}},
		{"key and target", store.AccessQuery{KeyID: "k2", Target: "alice"}, []apikey.Access{records[1]}},
		{"no match", store.AccessQuery{KeyID: "k9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := accessLog.Accesses(ctx, tt.q)
			if err != nil {
				t.Fatalf("Accesses(%+v) = %v", tt.q, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Accesses(%+v) =\n%+v\nwant\n%+v", tt.q, got, tt.want)
			}
		})
	}

	if _, err := accessLog.Accesses(ctx, store.AccessQuery{Limit: -1}); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("Accesses(Limit -1) = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
	for _, bad := range []apikey.Access{
		{KeyID: "k1", Action: "token.report"},
		{Time: at(4), Action: "token.report"},
		{Time: at(4), KeyID: "k1"},
	} {
		if err := accessLog.AppendAccess(ctx, bad); !errors.Is(err, audit.ErrInvalidValue) {
			t.Errorf("AppendAccess(%+v) = %v, want an error wrapping audit.ErrInvalidValue", bad, err)
		}
	}
}
