package tokentrail_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

func TestRecordThenInvestigate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trail.db")
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
