package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// TestRevocationsUsesIndex checks with EXPLAIN QUERY PLAN that Revocations
// seeks in events_revoked instead of reading the events table, with and
// without the statistics of ANALYZE.
func TestRevocationsUsesIndex(t *testing.T) {
	s := openTemp(t)
	mustAppend(t, s, storetest.Generate(8, 200, 10))
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.writer.Exec("ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		plan := queryPlan(t, s, revocationsSQL, int64(100), 1000)
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "events_revoked") {
			t.Errorf("plan of Revocations (analyzed=%v) = %q, want a search of events_revoked", analyzed, plan)
		}
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("plan of Revocations (analyzed=%v) has a full scan %q; whole plan: %q", analyzed, step, plan)
			}
		}
	}
}

func queryPlan(tb testing.TB, s *Store, query string, args ...any) []string {
	tb.Helper()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return plan
}

// TestMigrationSetsScopeOfOldRevocations writes revocations the way they
// were stored before migration 6, marked by their action, into a file at
// schema version 5, and checks that Open gives them their scope.
func TestMigrationSetsScopeOfOldRevocations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v5.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, tx, migrations[:5]); err != nil {
		t.Fatalf("migrate to version 5: %v", err)
	}
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC).UnixNano()
	legacy := []struct{ id, action, tokenID, subject, session string }{
		{"old-family", "revoke_family", "root-1", "", ""},
		{"old-session", "revoke_session", "session:sid-1", "", "sid-1"},
		{"old-subject", "revoke_subject", "subject:mallory", "mallory", ""},
		{"old-token", "REVOKE_GRANT", "jti-1", "", ""},
	}
	for i, l := range legacy {
		_, err := tx.ExecContext(ctx, "INSERT INTO tokens (token_key, digest, token_id, subject, session_id) VALUES (?, ?, ?, ?, ?)",
			i+1, []byte(l.id), l.tokenID, nullText(l.subject), nullText(l.session))
		if err == nil {
			_, err = tx.ExecContext(ctx, "INSERT INTO events (id, token_key, time_ns, kind, action) VALUES (?, ?, ?, ?, ?)",
				l.id, i+1, at, int64(audit.KindRevoked), l.action)
		}
		if err != nil {
			t.Fatalf("insert %s: %v", l.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openPath(t, path)
	events, _, err := s.Revocations(ctx, 0, 10)
	if err != nil {
		t.Fatalf("Revocations after the migration: %v", err)
	}
	want := map[string]audit.RevocationScope{
		"old-family": audit.RevokeFamily, "old-session": audit.RevokeSession, "old-subject": audit.RevokeSubject, "old-token": "",
	}
	if len(events) != len(want) {
		t.Fatalf("Revocations after the migration = %d events, want %d", len(events), len(want))
	}
	for _, e := range events {
		if e.RevocationScope != want[e.ID] {
			t.Errorf("event %s RevocationScope = %q, want %q", e.ID, e.RevocationScope, want[e.ID])
		}
	}
}
