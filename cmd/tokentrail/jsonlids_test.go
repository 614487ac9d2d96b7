package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// TestImportGatewaysNumberingAlike imports two gateways' logs whose request
// ids both count from 1. Each gateway's events must be stored, and an
// anomaly on one token must name that token's events.
func TestImportGatewaysNumberingAlike(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	first := writeFile(t, dir, "gw1.jsonl",
		`{"id":"1","t":"2026-11-20T09:00:00Z","kind":"used","jti":"tok-A","sub":"alice","ip":"81.2.69.1"}`+"\n"+
			`{"id":"2","t":"2026-11-20T09:00:01Z","kind":"used","jti":"tok-A","sub":"alice","ip":"81.2.69.1"}`+"\n")
	second := writeFile(t, dir, "gw2.jsonl",
		`{"id":"1","t":"2026-11-20T09:05:00Z","kind":"refreshed","jti":"rt-B","sub":"bob","ip":"81.2.69.2"}`+"\n"+
			`{"id":"2","t":"2026-11-20T09:06:00Z","kind":"refreshed","jti":"rt-B","sub":"bob","ip":"45.33.32.156"}`+"\n")

	stdout, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", "id=id,time=t,kind=kind,jti=jti,sub=sub,ip=ip", first, second)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if line := summaryLine(t, stdout, second); !strings.Contains(line, "imported 2, duplicate 0") {
		t.Errorf("second gateway: %s, want both events imported", line)
	}

	stdout, _, err = run(t, "", "--db", db, "anomalies", "--json")
	if err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	var found []audit.Anomaly
	if err := json.Unmarshal([]byte(stdout), &found); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Rule != "refresh_token_reuse" || found[0].TokenID != "rt-B" {
		t.Fatalf("anomalies = %+v, want the one refresh_token_reuse of rt-B", found)
	}
	report := investigateJSON(t, db, "rt-B")
	ids := map[string]bool{}
	for _, e := range report.Events {
		ids[e.ID] = true
	}
	for _, id := range found[0].EventIDs {
		if !ids[id] {
			t.Errorf("anomaly names event %s, which is not one of rt-B's", id)
		}
	}
}

// TestImportWarnsOfRejectedUses imports a request with the response status
// 401 through a mapping without reject_status, which makes it a use, and
// expects a warning that names the fix. With reject_status there is none.
func TestImportWarnsOfRejectedUses(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "gw.jsonl",
		`{"id":"1","t":"2026-11-20T09:00:00Z","jti":"tok-A","ip":"81.2.69.1","status":200}`+"\n"+
			`{"id":"2","t":"2026-11-20T09:00:05Z","jti":"tok-A","ip":"81.2.69.1","status":401}`+"\n")

	_, stderr, err := run(t, "", "--db", filepath.Join(dir, "a.db"), "import", "--format", "jsonl", "--map", "id=id,time=t,jti=jti,ip=ip,status=status", file)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(stderr, "1 request got the response status 401 or 403") || !strings.Contains(stderr, "reject_status") {
		t.Errorf("stderr = %q, want a warning naming the request and reject_status", stderr)
	}

	_, stderr, err = run(t, "", "--db", filepath.Join(dir, "b.db"), "import", "--format", "jsonl", "--map", "id=id,time=t,jti=jti,ip=ip,status=status,reject_status=401", file)
	if err != nil {
		t.Fatalf("import with reject_status: %v", err)
	}
	if strings.Contains(stderr, "warning") {
		t.Errorf("stderr = %q, want no warning when reject_status is mapped", stderr)
	}
}
