package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

func TestRunFindsAnomaliesOfATrail(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	// A trail in reverse order: revoked at t0+1m, used again at t0+5m.
	events := []audit.Event{
		{ID: "use-after", Time: t0.Add(5 * time.Minute), Kind: audit.KindUsed, TokenID: "t1", IP: netip.MustParseAddr("198.51.100.7")},
		{ID: "revoke", Time: t0.Add(time.Minute), Kind: audit.KindRevoked, TokenID: "t1"},
		{ID: "issue", Time: t0, Kind: audit.KindIssued, TokenID: "t1", ExpiresAt: t0.Add(time.Hour)},
	}

	found, err := Run(Config{}, events)
	if err != nil {
		t.Fatal(err)
	}

	if len(found) != 1 || found[0].Rule != RuleRevokedTokenUse {
		t.Fatalf("Run = %+v, want one %s anomaly", found, RuleRevokedTokenUse)
	}
	if ids := found[0].EventIDs; len(ids) == 0 || ids[len(ids)-1] != "use-after" {
		t.Errorf("EventIDs = %v, want them to end with the use after revocation", ids)
	}
}

func TestRunRejectsAnInvalidConfig(t *testing.T) {
	if _, err := Run(Config{ClockSkew: -time.Second}, nil); err == nil {
		t.Errorf("Run with a negative clock skew = nil error, want one")
	}
}
