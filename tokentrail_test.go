package tokentrail_test

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres/pgtest"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

func TestRecordThenInvestigate(t *testing.T) {
	recordThenInvestigate(t, filepath.Join(t.TempDir(), "trail.db"))
}

// TestRecordThenInvestigateOnPostgres runs the same on a PostgreSQL schema
// of its own, when TOKENTRAIL_PG_DSN names a server.
func TestRecordThenInvestigateOnPostgres(t *testing.T) {
	recordThenInvestigate(t, pgtest.DSN(t))
}

// TestOpenRefusesPostgresSettings checks that a key=value connection
// string is refused, not taken for the name of a SQLite file.
func TestOpenRefusesPostgresSettings(t *testing.T) {
	t.Chdir(t.TempDir())

	_, err := tokentrail.Open(context.Background(), tokentrail.Config{DBPath: "host=127.0.0.1 user=u password=secret dbname=trail"})

	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open() = %v, want an error that does not show the password", err)
	}
	if entries, _ := os.ReadDir("."); len(entries) != 0 {
		t.Errorf("files created: %v, want none", entries)
	}
}

func recordThenInvestigate(t *testing.T, path string) {
	ctx := context.Background()
	trail, err := tokentrail.Open(ctx, tokentrail.Config{DBPath: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	issued := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	trail.RecordIssued(audit.Event{Time: issued, TokenID: "jti-1", Subject: "alice", ExpiresAt: issued.Add(time.Hour)})
	for i := range 3 {
		trail.RecordUsed(audit.Event{
			Time: issued.Add(time.Duration(i+1) * time.Minute), TokenID: "jti-1", Subject: "alice",
			IP: netip.MustParseAddr("203.0.113.24"), Method: "GET", Path: "/api/orders", Status: 200,
		})
	}
	trail.RecordRevoked(audit.Event{Time: issued.Add(10 * time.Minute), TokenID: "jti-1", Actor: "admin", RevocationMethod: audit.RevokedByAdmin})
	if err := trail.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	r, err := trail.InvestigateToken(ctx, forensics.TokenRef{TokenID: "jti-1"}, forensics.Options{Now: issued.Add(time.Hour / 2)})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	if r.Usage.Total != 3 || r.Status != forensics.StatusRevoked || r.Created == nil || r.Created.Subject != "alice" {
		t.Errorf("report: %d uses, status %s, created %+v; want 3, revoked, alice", r.Usage.Total, r.Status, r.Created)
	}
	if err := trail.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := trail.Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}

	// The events outlive the process: a new Trail on the same file reads them.
	again, err := tokentrail.Open(ctx, tokentrail.Config{DBPath: path})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer again.Close(ctx)
	if _, err := again.InvestigateToken(ctx, forensics.TokenRef{TokenID: "jti-1"}, forensics.Options{}); err != nil {
		t.Errorf("InvestigateToken after reopen: %v", err)
	}
}

// TestRecordedUsesAreChecked records a token used after its revocation and
// finds the anomaly stored once the recorder has flushed.
func TestRecordedUsesAreChecked(t *testing.T) {
	for _, disabled := range []bool{false, true} {
		ctx := context.Background()
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		trail, err := tokentrail.Open(ctx, tokentrail.Config{
			DBPath: filepath.Join(t.TempDir(), "trail.db"), DisableDetection: disabled,
			Recorder: recorder.Options{Logger: quiet},
		})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
		trail.RecordIssued(audit.Event{Time: t0, TokenID: "jti-2", Subject: "bob", ExpiresAt: t0.Add(time.Hour)})
		trail.RecordRevoked(audit.Event{Time: t0.Add(time.Minute), TokenID: "jti-2", Actor: "admin"})
		trail.RecordUsed(audit.Event{Time: t0.Add(5 * time.Minute), TokenID: "jti-2", Subject: "bob", IP: netip.MustParseAddr("198.51.100.77")})
		if err := trail.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}

		found, err := trail.Anomalies(ctx, store.AnomalyQuery{TokenID: "jti-2"})
		if err != nil {
			t.Fatalf("Anomalies: %v", err)
		}
		switch {
		case disabled && len(found) != 0:
			t.Errorf("with detection off, anomalies = %+v, want none", found)
		case !disabled && (len(found) != 1 || found[0].Rule != "revoked_token_use"):
			t.Errorf("anomalies = %+v, want one revoked_token_use", found)
		}
		if err := trail.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// TestRecordedClientChangeIsChecked checks that the zero Config parses user
// agents: a token that goes from a browser to curl raises user_agent_change.
func TestRecordedClientChangeIsChecked(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	trail, err := tokentrail.Open(ctx, tokentrail.Config{
		DBPath:   filepath.Join(t.TempDir(), "trail.db"),
		Recorder: recorder.Options{Logger: quiet},
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer trail.Close(ctx)

	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("81.2.69.142")
	trail.RecordUsed(audit.Event{Time: t0, TokenID: "jti-3", Subject: "carol", IP: ip,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"})
	trail.RecordUsed(audit.Event{Time: t0.Add(time.Minute), TokenID: "jti-3", Subject: "carol", IP: ip, UserAgent: "curl/8.5.0"})
	if err := trail.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	found, err := trail.Anomalies(ctx, store.AnomalyQuery{TokenID: "jti-3"})
	if err != nil {
		t.Fatalf("Anomalies: %v", err)
	}
	if len(found) != 1 || found[0].Rule != "user_agent_change" {
		t.Errorf("anomalies = %+v, want one user_agent_change", found)
	}
}

// TestRecordedUsesMeetStoredRevocations revokes tokens through another
// handle on the store, as tokentrail revoke does: one before the trail
// opens and one while it runs. A later use of each must raise
// revoked_token_use.
func TestRecordedUsesMeetStoredRevocations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trail.db")
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer other.Close()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	revoke := func(id, token string) {
		t.Helper()
		e := audit.Event{ID: id, Time: t0.Add(time.Minute), Kind: audit.KindRevoked, TokenID: token, Actor: "oncall", Reason: "leaked"}
		if _, err := other.Append(ctx, []audit.Event{e}); err != nil {
			t.Fatalf("store the revocation of %s: %v", token, err)
		}
	}
	revoke("rv-before", "jti-before")

	trail, err := tokentrail.Open(ctx, tokentrail.Config{DBPath: path, Recorder: recorder.Options{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer trail.Close(ctx)
	revoke("rv-while", "jti-while")
	for _, token := range []string{"jti-before", "jti-while"} {
		trail.RecordUsed(audit.Event{Time: t0.Add(5 * time.Minute), TokenID: token, Subject: "bob", IP: netip.MustParseAddr("198.51.100.77")})
	}
	if err := trail.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	for _, token := range []string{"jti-before", "jti-while"} {
		found, err := trail.Anomalies(ctx, store.AnomalyQuery{TokenID: token, Rules: []string{"revoked_token_use"}})
		if err != nil {
			t.Fatalf("Anomalies: %v", err)
		}
		if len(found) != 1 {
			t.Errorf("revoked_token_use anomalies of %s = %+v, want one", token, found)
		}
	}
}

// A token report of the facade raises revoked_token_use on a use after a
// revocation of the token's subject, which is not among the token's events.
func TestInvestigateSeesSubjectRevocation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trail.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	use := func(id string, at time.Time) audit.Event {
		return audit.Event{ID: id, Time: at, Kind: audit.KindUsed, TokenID: "jti-1", Subject: "alice", IssuedAt: t0,
			IP: netip.MustParseAddr("192.0.2.10")}
	}
	events := []audit.Event{
		use("use-1", t0.Add(time.Minute)),
		revocation.SubjectEvent("alice", t0.Add(10*time.Minute), t0.Add(10*time.Minute)),
		use("use-2", t0.Add(time.Hour)),
	}
	if _, err := db.Append(ctx, events); err != nil {
		t.Fatalf("store the events: %v", err)
	}

	trail, err := tokentrail.Open(ctx, tokentrail.Config{DBPath: path, DisableDetection: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer trail.Close(ctx)
	r, err := trail.InvestigateToken(ctx, forensics.TokenRef{TokenID: "jti-1"}, forensics.Options{Now: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatalf("InvestigateToken: %v", err)
	}
	var rules []string
	for _, a := range r.Anomalies {
		rules = append(rules, a.Rule)
	}
	if !slices.Contains(rules, "revoked_token_use") {
		t.Errorf("InvestigateToken anomalies = %v, want revoked_token_use", rules)
	}
}
