package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// TestMigrationNumbersAnomalies opens a store written at schema version 9,
// whose anomalies have no seq, and checks that the feed lists them in the
// order they were stored, not by time, and that a new one follows them.
func TestMigrationNumbersAnomalies(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v9.db")
	old, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, tx, migrations[:9]); err != nil {
		t.Fatalf("migrate to version 9: %v", err)
	}
	for _, row := range []struct {
		id     string
		timeNS int64
	}{{"stored-first", 3000}, {"stored-second", 1000}, {"stored-third", 2000}} {
		_, err = tx.Exec(`INSERT INTO anomalies (id, rule, severity, time_ns, token_id, subject, event_ids, summary, country)
			VALUES (?, 'rapid_ip_change', 2, ?, 't1', 'alice', '["e1"]', 'used from 3 networks', 'NL')`, row.id, row.timeNS)
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s := openPath(t, path)
	list, next, err := s.AnomaliesAfter(ctx, 0, store.AnomalyQuery{})
	if err != nil {
		t.Fatalf("AnomaliesAfter(0) after migration: %v", err)
	}
	var got []string
	for _, a := range list {
		got = append(got, a.ID)
	}
	if want := []string{"stored-first", "stored-second", "stored-third"}; !slices.Equal(got, want) {
		t.Errorf("AnomaliesAfter(0) after migration = %v, want %v", got, want)
	}
	if len(list) > 0 && (list[0].Country != "NL" || len(list[0].EventIDs) != 1) {
		t.Errorf("first anomaly after migration = %+v, want its country and event kept", list[0])
	}

	added := audit.Anomaly{ID: "stored-fourth", Rule: "rapid_ip_change", Severity: audit.SeverityMedium, Time: list[0].Time,
		EventIDs: []string{"e2"}, Summary: "s"}
	if _, err := s.AppendAnomalies(ctx, []audit.Anomaly{added}); err != nil {
		t.Fatalf("AppendAnomalies after migration: %v", err)
	}
	list, _, err = s.AnomaliesAfter(ctx, next, store.AnomalyQuery{})
	if err != nil || len(list) != 1 || list[0].ID != added.ID {
		t.Errorf("AnomaliesAfter(%d) = %+v, %v; want only %s", next, list, err, added.ID)
	}
}
