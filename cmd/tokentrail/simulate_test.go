package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/simulate"
)

// TestSimulateWritesImportableFiles writes a small simulation, imports it
// with the files it wrote, and checks that detection during the import
// finds what the in-memory score finds.
func TestSimulateWritesImportableFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim")
	flags := []string{"--subjects", "80", "--days", "3", "--events", "20000", "--attacks", "1"}
	_, stderr, err := run(t, "", append([]string{"simulate", "--out", dir}, flags...)...)
	if err != nil {
		t.Fatalf("simulate --out = %v\n%s", err, stderr)
	}
	for _, name := range []string{simulate.EventsFile, simulate.LabelsFile, simulate.ThreatListFile, simulate.RulesFile, simulate.EnrichFile, simulate.MappingFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("simulate --out wrote no %s: %v", name, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, simulate.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(data, []byte("\n"))
	if !strings.Contains(stderr, fmt.Sprintf("simulated %d events", lines)) {
		t.Errorf("simulate reported %q, want %d events", stderr, lines)
	}
	var labels []simulate.Label
	if raw, err := os.ReadFile(filepath.Join(dir, simulate.LabelsFile)); err != nil || json.Unmarshal(raw, &labels) != nil || len(labels) == 0 {
		t.Fatalf("labels.json: %v, %d labels", err, len(labels))
	}

	db := filepath.Join(t.TempDir(), "events.db")
	stdout, stderr, err := run(t, "", "--db", db, "import", "--format", "jsonl",
		"--map-file", filepath.Join(dir, simulate.MappingFile), "--rules", filepath.Join(dir, simulate.RulesFile),
		"--enrich", filepath.Join(dir, simulate.EnrichFile), filepath.Join(dir, simulate.EventsFile))
	if err != nil {
		t.Fatalf("import = %v\n%s%s", err, stdout, stderr)
	}
	want := fmt.Sprintf("(jsonl): read %d, imported %d, duplicate 0, skipped 0, rejected 0", lines, lines)
	if !strings.Contains(summaryLine(t, stdout, filepath.Join(dir, simulate.EventsFile)), want) {
		t.Errorf("import printed %q, want %q", stdout, want)
	}

	out, _, err := run(t, "", "--db", db, "anomalies", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var stored []audit.Anomaly
	if err := json.Unmarshal([]byte(out), &stored); err != nil {
		t.Fatal(err)
	}
	imported := make(map[string]int)
	for _, a := range stored {
		imported[a.Rule]++
	}

	out, _, err = run(t, "", append([]string{"simulate", "--score", "--json"}, flags...)...)
	if err != nil && !errors.Is(err, errTargetsMissed) {
		t.Fatal(err)
	}
	var sc simulate.Score
	if err := json.Unmarshal([]byte(out), &sc); err != nil {
		t.Fatalf("simulate --score --json printed %q: %v", out, err)
	}
	for _, r := range sc.Rules {
		got := imported[r.Rule]
		if got != r.Anomalies {
			t.Errorf("%s: %d anomalies after import, %d in memory", r.Rule, got, r.Anomalies)
		}
	}
}

func TestSimulateScoreExitStatus(t *testing.T) {
	out, stderr, err := run(t, "", "simulate", "--score", "--json", "--subjects", "200", "--events", "100000", "--attacks", "2")
	if err != nil && !errors.Is(err, errTargetsMissed) {
		t.Fatalf("simulate --score = %v\n%s", err, stderr)
	}
	var sc simulate.Score
	if err := json.Unmarshal([]byte(out), &sc); err != nil {
		t.Fatalf("simulate --score --json printed %q: %v", out, err)
	}
	if len(sc.Rules) < len(simulate.AttackRules()) {
		t.Errorf("score has %d rules, want at least %d", len(sc.Rules), len(simulate.AttackRules()))
	}
	met := sc.FalseAnomalies <= sc.AllowedFalse
	for _, r := range sc.Rules {
		if r.Injected != 2 {
			t.Errorf("%s: injected %d, want 2", r.Rule, r.Injected)
		}
		if r.Found < r.Injected {
			met = false
			if r.Detector {
				t.Errorf("%s found %d of %d attacks", r.Rule, r.Found, r.Injected)
			}
		}
	}
	if missed := errors.Is(err, errTargetsMissed); missed == met {
		t.Errorf("simulate --score returned %v, but the score it printed meets the targets: %v", err, met)
	}
}

func TestSimulatePrintsTable(t *testing.T) {
	out, _, err := run(t, "", "simulate", "--score", "--subjects", "60", "--days", "2", "--events", "5000", "--attacks", "1", "--seed", "5")
	if err != nil && !errors.Is(err, errTargetsMissed) {
		t.Fatal(err)
	}
	for _, want := range []string{
		"tokentrail simulate --seed 5 --subjects 60 --days 2 --events 5000 --attacks 1 --score",
		"| rule | injected | found | recall | anomalies | true | also | false | precision |",
		"| `revoked_token_use` | 1 | 1 | 100.0% |",
		"benign",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("simulate --score printed no %q:\n%s", want, out)
		}
	}
}

func TestSimulateFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"simulate"}, "nothing to do"},
		{[]string{"simulate", "--out", "x", "--json"}, "--json applies to --score only"},
		{[]string{"simulate", "--score", "--subjects", "10"}, "invalid --subjects 10: want 60 to 1000000 subjects"},
		{[]string{"simulate", "--score", "--subjects", "0"}, "invalid --subjects 0: want 60 to 1000000"},
		{[]string{"simulate", "--score", "--days", "1"}, "invalid --days 1: want 2 to 366 days"},
		{[]string{"simulate", "--score", "--days", "100000"}, "invalid --days 100000: want 2 to 366 days"},
		{[]string{"simulate", "--score", "--days", "0"}, "invalid --days 0"},
		{[]string{"simulate", "--score", "--events", "-5"}, "invalid --events -5: want 1000 to 1099511627776 events"},
		{[]string{"simulate", "--score", "--events", "0"}, "invalid --events 0"},
		{[]string{"simulate", "--score", "--attacks", "-1"}, "invalid --attacks -1"},
		{[]string{"simulate", "--score", "--attacks", "1001"}, "invalid --attacks 1001: want 0 to 1000"},
		{[]string{"simulate", "--score", "extra"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestSimulateWithoutAttacks(t *testing.T) {
	dir := t.TempDir()
	_, stderr, err := run(t, "", "simulate", "--out", dir, "--attacks", "0", "--subjects", "60", "--days", "2", "--events", "3000")
	if err != nil {
		t.Fatalf("simulate --attacks 0 = %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "from 0 attacks") {
		t.Errorf("simulate --attacks 0 reported %q, want 0 attacks", stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, simulate.LabelsFile)); err != nil || string(data) != "[]\n" {
		t.Errorf("labels.json = %q, %v; want an empty array", data, err)
	}
}
