package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

// subjectRevokedStore returns a store where alice's token jti-sub-1,
// issued at 08:55, is used at 09:00 and at 11:30. Between the uses lies a
// revocation of alice's tokens issued before 09:10, which tokentrail
// revoke stored after the import. No stored anomaly names the later use,
// so a report raises revoked_token_use only when its own detection reads
// the stored revocation.
func subjectRevokedStore(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	db := filepath.Join(dir, "trail.db")
	const iat = 1795164900 // 2026-11-20T08:55:00Z
	line := func(clock string) string {
		return fmt.Sprintf(`{"ts":"2026-11-20T%sZ","jti":"jti-sub-1","sub":"alice","iat":%d,"ip":"192.0.2.10","ua":"curl/8.5.0"}`+"\n", clock, iat)
	}
	logFile := writeFile(tb, dir, "gateway.jsonl", line("09:00:00")+line("11:30:00"))
	if _, _, err := run(tb, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap+",iat=iat", logFile); err != nil {
		tb.Fatalf("import: %v", err)
	}
	if _, _, err := run(tb, "", "--db", db, "revoke", "--subject", "alice", "--issued-before", "2026-11-20T09:10:00Z",
		"--at", "2026-11-20T09:10:00Z", "--actor", "oncall@example.com", "--reason", "laptop stolen"); err != nil {
		tb.Fatalf("revoke --subject: %v", err)
	}
	if got := countRule(tb, db, "revoked_token_use"); got != 0 {
		tb.Fatalf("stored revoked_token_use = %d, want 0 before any report", got)
	}
	return db
}

// hasRevokedUse reports whether anomalies hold revoked_token_use on
// jti-sub-1.
func hasRevokedUse(anomalies []audit.Anomaly) bool {
	return slices.ContainsFunc(anomalies, func(a audit.Anomaly) bool {
		return a.Rule == "revoked_token_use" && a.TokenID == "jti-sub-1"
	})
}

func ruleNames(anomalies []audit.Anomaly) []string {
	var names []string
	for _, a := range anomalies {
		names = append(names, a.Rule+" "+a.TokenID)
	}
	return names
}

func TestInvestigateSeesSubjectRevocation(t *testing.T) {
	db := subjectRevokedStore(t)

	stdout, _, err := run(t, "", "--db", db, "investigate", "--json", "--at", "2026-11-20T12:00:00Z", "jti-sub-1")
	if err != nil {
		t.Fatalf("investigate: %v", err)
	}
	var r forensics.TokenReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("investigate --json does not decode: %v", err)
	}
	if !hasRevokedUse(r.Anomalies) {
		t.Errorf("investigate anomalies = %v, want revoked_token_use on jti-sub-1", ruleNames(r.Anomalies))
	}
}

// The revocation lies before the incident's window, so only the stored
// revocations, not the subject's events in the window, carry it.
func TestIncidentSeesRevocationBeforeWindow(t *testing.T) {
	db := subjectRevokedStore(t)

	stdout, _, err := run(t, "", "--db", db, "incident", "--subject", "alice", "--at", "2026-11-20T11:30:00Z", "--window", "1h", "--format", "json")
	if err != nil {
		t.Fatalf("incident: %v", err)
	}
	var r forensics.IncidentReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("incident --format json does not decode: %v", err)
	}
	if !hasRevokedUse(r.Anomalies) {
		t.Errorf("incident anomalies = %v, want revoked_token_use on jti-sub-1", ruleNames(r.Anomalies))
	}
}

func TestServeTokenReportSeesSubjectRevocation(t *testing.T) {
	db := subjectRevokedStore(t)
	url, stderr, stop := startServe(t, serveTestFlags(db), true)
	defer stop()
	m := adminSecret.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("serve printed no admin key:\n%s", stderr)
	}

	var r forensics.TokenReport
	getJSON(t, url+"/api/v1/tokens/jti-sub-1", m[1], &r)
	if !hasRevokedUse(r.Anomalies) {
		t.Errorf("GET /api/v1/tokens/jti-sub-1 anomalies = %v, want revoked_token_use on jti-sub-1", ruleNames(r.Anomalies))
	}

	var incident forensics.IncidentReport
	getJSON(t, url+"/api/v1/incidents?subject=alice&at=2026-11-20T11:30:00Z&window=1h", m[1], &incident)
	if !hasRevokedUse(incident.Anomalies) {
		t.Errorf("GET incident of alice anomalies = %v, want revoked_token_use on jti-sub-1", ruleNames(incident.Anomalies))
	}
}
