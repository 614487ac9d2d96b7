package entra

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/ingest"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// importFile imports the test data file name into db.
func importFile(tb testing.TB, db ingest.Appender, name string) ingest.Summary {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	summary, err := ingest.File(context.Background(), db, Format(), source.Input{Reader: f, Name: name}, ingest.Options{})
	if err != nil {
		tb.Fatalf("import %s: %v", name, err)
	}
	return summary
}

// TestReportJoinsSignInAndGraph imports the synthetic records into a store
// and checks that the report on the token shows its sign-in as the creation
// context, the Graph requests as its uses, and the session's other sign-ins.
// Importing the same sign-in again, from a file or from a Graph API page,
// adds nothing.
func TestReportJoinsSignInAndGraph(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "trail.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	first := importFile(t, db, "diagnostic-records.json")
	if first.Imported != 5 || first.Skipped != 1 || first.Rejected != 0 {
		t.Errorf("first import: imported, skipped, rejected = %d, %d, %d, want 5, 1, 0", first.Imported, first.Skipped, first.Rejected)
	}
	again := importFile(t, db, "diagnostic-records.json")
	if again.Imported != 0 || again.Duplicates != 5 {
		t.Errorf("second import: imported, duplicates = %d, %d, want 0, 5", again.Imported, again.Duplicates)
	}
	page := importFile(t, db, "graph-api-signins.json")
	if page.Imported != 2 || page.Duplicates != 1 {
		t.Errorf("Graph API page: imported, duplicates = %d, %d, want 2, 1 (its first sign-in is already stored)", page.Imported, page.Duplicates)
	}

	report, err := forensics.InvestigateToken(ctx, db, forensics.TokenRef{TokenID: testUTI},
		forensics.Options{Now: time.Date(2025, 3, 7, 12, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}

	if report.Created == nil {
		t.Fatalf("report has no creation context; events: %+v", report.Events)
	}
	if report.Created.Action != "SignInLogs authenticationProtocol=deviceCode" || report.Created.SessionID != testSession {
		t.Errorf("Created action, session = %q, %q, want the device-code sign-in in session %s",
			report.Created.Action, report.Created.SessionID, testSession)
	}
	// Graph returns 403 after it accepted the token, so the forbidden
	// request is a use, and its address is in the usage.
	if report.Usage.Total != 2 {
		t.Errorf("Usage.Total = %d, want both Graph requests, the forbidden one included", report.Usage.Total)
	}
	if len(report.Usage.IPs) != 2 {
		t.Errorf("Usage.IPs = %+v, want both addresses", report.Usage.IPs)
	}
	if len(report.Rejections) != 0 {
		t.Errorf("Rejections = %+v, want none", report.Rejections)
	}
	if want := []string{"diagnostic-records.json"}; !slices.Equal(report.Sources, want) {
		t.Errorf("Sources = %q, want %q", report.Sources, want)
	}

	if len(report.Sessions) != 1 || report.Sessions[0].ID != testSession {
		t.Fatalf("Sessions = %+v, want the session %s", report.Sessions, testSession)
	}
	var outcomes []string
	for _, e := range report.Sessions[0].Events {
		outcomes = append(outcomes, e.Outcome)
	}
	for _, want := range []string{
		"error 53003: Access has been blocked by Conditional Access policies. The access policy does not allow token issuance. (conditional access: failure)",
		"error 50074: Strong Authentication is required. (conditional access: notApplied)",
	} {
		if !slices.Contains(outcomes, want) {
			t.Errorf("session events' outcomes = %q, want one to be %q", outcomes, want)
		}
	}

	kinds := map[audit.Kind]int{}
	for _, e := range report.Events {
		kinds[e.Kind]++
	}
	if kinds[audit.KindIssued] != 1 || kinds[audit.KindUsed] != 2 || kinds[audit.KindRejected] != 0 {
		t.Errorf("report events by kind = %v, want one issued and two used", kinds)
	}
}
