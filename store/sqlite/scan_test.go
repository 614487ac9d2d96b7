package sqlite

import (
	"context"
	"database/sql"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// TestScanUsesTimeIndex checks with EXPLAIN QUERY PLAN that each page query
// of Scan seeks in events_time and sorts nothing, with and without the
// statistics that ANALYZE gathers, so that a page costs the same wherever
// it starts.
func TestScanUsesTimeIndex(t *testing.T) {
	s := openTemp(t)
	mustAppend(t, s, storetest.Generate(8, 200, 10))
	upper := int64(1) << 62
	texts := scanQueries(&upper)
	queries := []struct {
		name string
		sql  string
		args []any
	}{
		{"text IDs of an instant", texts[0], []any{int64(5), "x", 10}},
		{"blob IDs of an instant", texts[1], []any{int64(5), []byte{1}, 10}},
		{"after an instant", texts[2], []any{int64(5), 10}},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := s.writer.Exec("ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range queries {
			plan := explain(t, s.reader, q.sql, q.args...)
			uses := false
			for _, step := range plan {
				if strings.HasPrefix(step, "SEARCH e USING INDEX events_time ") {
					uses = true
				}
				if strings.Contains(step, "TEMP B-TREE") || strings.HasPrefix(step, "SCAN ") {
					t.Errorf("plan of the scan query for %s (analyzed %v) has step %q; whole plan: %q", q.name, analyzed, step, plan)
				}
			}
			if !uses {
				t.Errorf("plan of the scan query for %s (analyzed %v) = %q, want a search in events_time", q.name, analyzed, plan)
			}
		}
	}
}

func explain(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatalf("explain %s: %v", query, err)
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

// TestMigrationKeepsAnomalies opens a store written at schema version 3,
// before anomalies had a client, and reads its anomaly back with the new
// fields empty, then stores one with them.
func TestMigrationKeepsAnomalies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, tx, migrations[:3]); err != nil {
		t.Fatalf("migrate to version 3: %v", err)
	}
	_, err = tx.Exec(`INSERT INTO anomalies (id, rule, severity, time_ns, token_id, subject, event_ids, summary)
		VALUES ('a1', 'rapid_ip_change', 2, 1000, 't1', 'alice', '["e1","e2"]', 'used from 3 networks')`)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openPath(t, path)
	if v := schemaVersion(t, s); v != len(migrations) {
		t.Errorf("schema version after Open = %d, want %d", v, len(migrations))
	}
	found, err := s.Anomalies(ctx, store.AnomalyQuery{})
	if err != nil || len(found) != 1 {
		t.Fatalf("Anomalies after migration = %+v, %v; want the one stored at version 3", found, err)
	}
	if a := found[0]; a.ID != "a1" || a.Subject != "alice" || len(a.EventIDs) != 2 || a.IP.IsValid() || a.ASN != 0 || a.UserAgent != "" {
		t.Errorf("anomaly after migration = %+v, want a1 of alice with two events and no client", a)
	}

	withClient := audit.Anomaly{ID: "a2", Rule: "rapid_ip_change", Severity: audit.SeverityMedium, Time: found[0].Time,
		EventIDs: []string{"e3"}, Summary: "s", IP: netip.MustParseAddr("203.0.113.7"), ASN: 64500, Org: "Example", Country: "NL", UserAgent: "curl/8.5.0"}
	if _, err := s.AppendAnomalies(ctx, []audit.Anomaly{withClient}); err != nil {
		t.Fatalf("AppendAnomalies after migration: %v", err)
	}
	found, err = s.Anomalies(ctx, store.AnomalyQuery{ASN: 64500})
	if err != nil || len(found) != 1 || found[0].IP != withClient.IP || found[0].UserAgent != withClient.UserAgent {
		t.Errorf("Anomalies(ASN 64500) after migration = %+v, %v; want a2 with its client", found, err)
	}
}
