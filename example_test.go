package tokentrail_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/tokentrail/tokentrail"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "tokentrail-example-")
	defer os.RemoveAll(dir)

	trail, err := tokentrail.Open(ctx, tokentrail.Config{DBPath: filepath.Join(dir, "trail.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer trail.Close(ctx)

	// In a handler, after the token was verified: record the use. This
	// queues the event and returns at once.
	at := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	trail.RecordUsed(audit.Event{
		Time: at, TokenID: "5f0c3d7e", Subject: "alice",
		IP: netip.MustParseAddr("203.0.113.24"), Method: "GET", Path: "/api/orders", Status: 200,
	})

	// Later, in an investigation.
	if err := trail.Flush(ctx); err != nil {
		fmt.Println(err)
		return
	}
	report, err := trail.InvestigateToken(ctx, forensics.TokenRef{TokenID: "5f0c3d7e"}, forensics.Options{Now: at})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report.Usage.Total, "use by", report.Usage.Subjects[0].Value, "from", report.Usage.IPs[0].Value)
	// Output: 1 use by alice from 203.0.113.24
}
