package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestStoreKeepsDetectionSettings imports with --rules and expects detect
// and investigate to keep using them, so that a bare `detect --prune` does
// not prune what the rules found. --rules none goes back to the defaults.
func TestStoreKeepsDetectionSettings(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	mapping := "id=id,time=t,jti=jti,sub=sub,ip=ip"

	// The token goes back and forth between two networks within seconds,
	// which the rules ("any change within 5 minutes is high") raise as
	// rapid_ip_change and the defaults do not.
	var log strings.Builder
	for i, ip := range []string{"81.2.69.10", "45.33.32.156", "81.2.69.10", "45.33.32.156", "81.2.69.10"} {
		fmt.Fprintf(&log, `{"id":"%d","t":"2026-11-20T09:00:0%dZ","jti":"tok-1","sub":"alice","ip":"%s"}`+"\n", i, i, ip)
	}
	file := writeFile(t, dir, "gw.jsonl", log.String())
	rules := writeFile(t, dir, "rules.yaml", "rules:\n  rapid_ip_change:\n    max_networks: 1\n    window: 5m\n    severity: high\n")

	stdout, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", mapping, "--rules", rules, file)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(stdout, "anomalies: 1 found, 1 new") {
		t.Fatalf("import output = %q, want the one rapid_ip_change that the rules raise", stdout)
	}

	stdout, stderr, err := run(t, "", "--db", db, "detect", "--prune")
	if err != nil {
		t.Fatalf("detect --prune: %v", err)
	}
	if !strings.Contains(stderr, "--rules "+rules) || !strings.Contains(stderr, "as an earlier run on this store used") {
		t.Errorf("detect stderr = %q, want it to say it uses the kept --rules", stderr)
	}
	if !strings.Contains(stdout, "anomalies: 1 found, 0 new") || strings.Contains(stdout, "pruned: 1") {
		t.Errorf("detect --prune output = %q, want the same anomaly found and nothing pruned", stdout)
	}

	report := investigateJSON(t, db, "tok-1")
	if len(report.Anomalies) != 1 || report.Anomalies[0].Rule != "rapid_ip_change" {
		t.Errorf("investigate anomalies = %+v, want the rapid_ip_change of the kept rules", report.Anomalies)
	}

	stdout, _, err = run(t, "", "--db", db, "detect", "--prune", "--rules", "none")
	if err != nil {
		t.Fatalf("detect --prune --rules none: %v", err)
	}
	if !strings.Contains(stdout, "pruned: 1") {
		t.Errorf("detect --prune --rules none output = %q, want the rapid_ip_change pruned with the default rules", stdout)
	}
	_, stderr, err = run(t, "", "--db", db, "detect")
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	if strings.Contains(stderr, "earlier run") {
		t.Errorf("detect after --rules none: stderr = %q, want no kept rules", stderr)
	}
}
