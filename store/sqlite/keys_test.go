package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/storetest"
)

func TestKeysAfterMigrationFromVersion7(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v7.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, tx, migrations[:7]); err != nil {
		t.Fatalf("migrate to version 7: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	s := openPath(t, path)
	mustAppend(t, s, storetest.Generate(9, 2, 3))

	k := apikey.Key{ID: "k1", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: time.Unix(1700000000, 0).UTC()}
	if err := s.PutKey(ctx, k, sha256.Sum256([]byte("secret"))); err != nil {
		t.Fatalf("PutKey after migrating from version 7: %v", err)
	}
	if _, _, found, err := s.KeyByID(ctx, "k1"); err != nil || !found {
		t.Errorf("KeyByID after migrating from version 7 = found %v, %v; want the key", found, err)
	}
	if n := countRows(t, s, "events"); n != 6 {
		t.Errorf("events after the migration = %d, want 6", n)
	}
}

func TestPutKeyRejectsIncompleteKeys(t *testing.T) {
	s := openTemp(t)
	valid := apikey.Key{ID: "k1", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: time.Unix(1700000000, 0)}
	tests := []struct {
		name   string
		change func(k *apikey.Key)
	}{
		{"no ID", func(k *apikey.Key) { k.ID = "" }},
		{"no name", func(k *apikey.Key) { k.Name = "" }},
		{"no creation time", func(k *apikey.Key) { k.CreatedAt = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := valid
			tt.change(&k)
			if err := s.PutKey(context.Background(), k, [32]byte{}); !errors.Is(err, audit.ErrInvalidValue) {
				t.Errorf("PutKey(%s) = %v, want an error wrapping audit.ErrInvalidValue", tt.name, err)
			}
		})
	}
	if err := s.RevokeKey(context.Background(), "k1", time.Time{}); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("RevokeKey(zero time) = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
}

func TestKeysReadOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	s := openPath(t, path)
	k := apikey.Key{ID: "k1", Name: "oncall", Roles: []apikey.Role{apikey.RoleAdmin}, CreatedAt: time.Unix(1700000000, 0).UTC()}
	if err := s.PutKey(ctx, k, sha256.Sum256([]byte("secret"))); err != nil {
		t.Fatal(err)
	}
	mustClose(t, s)

	ro := openPath(t, path, ReadOnly())
	if keys, err := ro.Keys(ctx); err != nil || len(keys) != 1 {
		t.Errorf("Keys on a read-only store = %v, %v; want the stored key", keys, err)
	}
	if err := ro.RevokeKey(ctx, "k1", time.Now()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RevokeKey on a read-only store = %v, want ErrReadOnly", err)
	}
	if err := ro.AppendAccess(ctx, apikey.Access{Time: time.Now(), KeyID: "k1", Action: "token.report"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("AppendAccess on a read-only store = %v, want ErrReadOnly", err)
	}
	mustClose(t, ro)
	if _, _, _, err := ro.KeyByID(ctx, "k1"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("KeyByID after Close = %v, want store.ErrClosed", err)
	}
}

func TestAccessesUseIndexes(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	t0 := time.Unix(1700000000, 0)
	for i := range 200 {
		a := apikey.Access{Time: t0.Add(time.Duration(i) * time.Second), KeyID: fmt.Sprintf("k%d", i%5), Action: "token.report", Target: fmt.Sprintf("jti-%d", i%50)}
		if err := s.AppendAccess(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	since := t0.Add(time.Minute)
	queries := []struct {
		name  string
		query store.AccessQuery
	}{
		{"all with a limit", store.AccessQuery{Limit: 100}},
		{"since", store.AccessQuery{Since: since}},
		{"key", store.AccessQuery{KeyID: "k1"}},
		{"key since", store.AccessQuery{KeyID: "k1", Since: since, Limit: 10}},
		{"target", store.AccessQuery{Target: "jti-7"}},
		{"key and target", store.AccessQuery{KeyID: "k2", Target: "jti-7"}},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.writer.Exec("ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range queries {
			t.Run(fmt.Sprintf("%s/analyzed=%v", tt.name, analyzed), func(t *testing.T) {
				query, args := accessQuery(tt.query)
				plan := queryPlan(t, s, query, args...)
				for _, step := range plan {
					// Only a query without filters reads the whole time index.
					wholeIndex := tt.query == (store.AccessQuery{Limit: tt.query.Limit}) && step == "SCAN accesses USING INDEX accesses_time"
					if (strings.HasPrefix(step, "SCAN ") && !wholeIndex) || strings.Contains(step, "TEMP B-TREE") {
						t.Errorf("plan of Accesses(%s) has step %q, want an index read in order; whole plan: %q", tt.name, step, plan)
					}
				}
			})
		}
	}
}
