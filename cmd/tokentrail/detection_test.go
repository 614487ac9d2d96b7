package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// countRule returns how many anomalies of rule the store holds.
func countRule(tb testing.TB, db, rule string) int {
	tb.Helper()
	n := 0
	for _, a := range storedAnomalies(tb, db) {
		if a.Rule == rule {
			n++
		}
	}
	return n
}

// An import raises revoked_token_use on a use of a token that the API of
// an earlier serve revoked.
func TestImportAfterAPIRevocation(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "trail.db")
	const tok = "jti-api-1"
	url, stderr, stop := startServe(t, serveTestFlags(db), true)
	m := adminSecret.FindStringSubmatch(stderr.String())
	if m == nil {
		stop()
		t.Fatalf("serve printed no admin key:\n%s", stderr)
	}
	body := fmt.Sprintf(`{"scope":"token","target":%q,"reason":"leaked in a CI log"}`, tok)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/revocations", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/revocations = %d %s, want 201", resp.StatusCode, data)
	}

	// The API stamps the revocation with the wall clock, so the use is an
	// hour after it.
	use := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	line := fmt.Sprintf(`{"ts":%q,"jti":%q,"sub":"alice","ip":"192.0.2.10","ua":"curl/8.5.0"}`+"\n", use, tok)
	logFile := writeFile(t, dir, "gateway.jsonl", line)
	stdout, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap, logFile)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(stdout, "anomalies: 1 found, 1 new") {
		t.Errorf("import output = %q, want one anomaly found", stdout)
	}
	if got := countRule(t, db, "revoked_token_use"); got != 1 {
		t.Errorf("stored revoked_token_use = %d, want 1", got)
	}
}

// A detect run whose --since starts after a revocation made with
// tokentrail revoke still raises on the uses in its range, and a second
// run with --prune finds the same anomaly: no duplicate, nothing pruned.
func TestDetectSinceAfterRevocation(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	const tok = "jti-cli-1"
	first := writeFile(t, dir, "gateway-a.jsonl", gatewayLine(tok, "192.0.2.10", "09:00:00"))
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap, first); err != nil {
		t.Fatalf("import: %v", err)
	}
	if _, _, err := run(t, "", "--db", db, "revoke", "--jti", tok, "--actor", "oncall@example.com", "--reason", "leaked in a CI log",
		"--at", "2026-11-20T09:10:00Z"); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	second := writeFile(t, dir, "gateway-b.jsonl", gatewayLine(tok, "192.0.2.10", "10:00:00")+gatewayLine(tok, "192.0.2.10", "10:30:00"))
	if _, _, err := run(t, "", "--db", db, "import", "--no-detect", "--format", "jsonl", "--map", gatewayMap, second); err != nil {
		t.Fatalf("import --no-detect: %v", err)
	}

	for _, args := range [][]string{
		{"detect", "--since", "2026-11-20T09:30:00Z"},
		{"detect", "--since", "2026-11-20T09:30:00Z", "--prune"},
	} {
		stdout, _, err := run(t, "", append([]string{"--db", db}, args...)...)
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
		if !strings.Contains(stdout, "revoked_token_use") {
			t.Errorf("%s output = %q, want revoked_token_use", strings.Join(args, " "), stdout)
		}
		if strings.Contains(args[len(args)-1], "prune") && !strings.Contains(stdout, "pruned: 0 stored anomalies") {
			t.Errorf("%s output = %q, want nothing pruned", strings.Join(args, " "), stdout)
		}
	}
	if got := countRule(t, db, "revoked_token_use"); got != 1 {
		t.Errorf("stored revoked_token_use = %d, want 1", got)
	}

	// A full detect reads the revocation both as a stored revocation and as
	// an event, and finds the same anomaly.
	stdout, _, err := run(t, "", "--db", db, "detect", "--prune")
	if err != nil {
		t.Fatalf("detect --prune: %v", err)
	}
	if !strings.Contains(stdout, "pruned: 0 stored anomalies") || !strings.Contains(stdout, "revoked_token_use") {
		t.Errorf("detect --prune output = %q, want revoked_token_use and nothing pruned", stdout)
	}
	if got := countRule(t, db, "revoked_token_use"); got != 1 {
		t.Errorf("stored revoked_token_use after a full detect = %d, want 1", got)
	}
}
