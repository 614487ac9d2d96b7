package main

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// importDemoGateway imports the demo's gateway log into a new store, with
// detection unless noDetect, and returns the store's path.
func importDemoGateway(tb testing.TB, noDetect bool) string {
	tb.Helper()
	db := filepath.Join(tb.TempDir(), "events.db")
	args := []string{"--db", db, "import", "--format", "jsonl", "--map-file", "demodata/gateway-map.yaml", "demodata/gateway-access.jsonl"}
	if noDetect {
		args = append(args, "--no-detect")
	}
	if _, _, err := run(tb, "", args...); err != nil {
		tb.Fatalf("import: %v", err)
	}
	return db
}

func TestAnomaliesUnknownRule(t *testing.T) {
	db := importDemoGateway(t, false)
	for _, cmd := range []string{"anomalies", "patterns"} {
		_, _, err := run(t, "", "--db", db, cmd, "--rule", "nosuchrule")
		if err == nil {
			t.Fatalf("%s --rule nosuchrule: no error, want the rule named unknown", cmd)
		}
		for _, want := range []string{`unknown --rule "nosuchrule"`, "rapid_ip_change", "unfamiliar_client", "custom rule with stored anomalies (none is stored)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s --rule nosuchrule: error = %q, want it to contain %q", cmd, err, want)
			}
		}
	}

	// A built-in rule that found nothing is a valid, empty filter.
	stdout, _, err := run(t, "", "--db", db, "anomalies", "--rule", "impossible_travel")
	if err != nil || !strings.Contains(stdout, "no anomaly matches the filters") {
		t.Errorf("anomalies --rule impossible_travel = %q, %v; want an empty list", stdout, err)
	}
}

func TestAnomaliesUnknownRuleListsStoredCustomRules(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	rules := writeFile(t, dir, "rules.yaml", "custom_rules:\n  - name: every_use\n    expression: event.kind == \"used\"\n")
	if _, _, err := run(t, "", "--db", db, "import", "--rules", rules, "--format", "jsonl", "--map-file", "demodata/gateway-map.yaml", "demodata/gateway-access.jsonl"); err != nil {
		t.Fatalf("import: %v", err)
	}

	if _, _, err := run(t, "", "--db", db, "anomalies", "--rule", "every_use"); err != nil {
		t.Errorf("anomalies --rule every_use: %v, want the stored custom rule accepted", err)
	}
	_, _, err := run(t, "", "--db", db, "anomalies", "--rule", "every_use,bogus")
	if err == nil || !strings.Contains(err.Error(), `unknown --rule "bogus"`) || !strings.Contains(err.Error(), "stored anomalies (every_use)") {
		t.Errorf("anomalies --rule every_use,bogus: error = %v, want bogus unknown and every_use listed", err)
	}
}

func TestAnomaliesASNZeroRejected(t *testing.T) {
	db := importDemoGateway(t, false)
	_, _, err := run(t, "", "--db", db, "anomalies", "--asn", "0")
	if err == nil || !strings.Contains(err.Error(), "invalid --asn 0") {
		t.Errorf("anomalies --asn 0: error = %v, want one naming --asn 0", err)
	}
}

func TestAnomaliesEmptyHintAfterNoDetect(t *testing.T) {
	db := importDemoGateway(t, true)
	stdout, _, err := run(t, "", "--db", db, "anomalies")
	if err != nil {
		t.Fatalf("anomalies: %v", err)
	}
	if !strings.Contains(stdout, "run tokentrail detect") {
		t.Errorf("anomalies after import --no-detect = %q, want the hint to run tokentrail detect", stdout)
	}
}

func TestWriteAnomaliesAlignsLongRules(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	list := []audit.Anomaly{
		{Time: at, Severity: audit.SeverityHigh, Rule: "admin_scope_from_new_network_long", TokenID: "t1", Subject: "alice", Summary: "s1"},
		{Time: at, Severity: audit.SeverityCritical, Rule: "rapid_ip_change", TokenID: "t2", Subject: "bob", Summary: "s2"},
	}
	var out bytes.Buffer
	if err := writeAnomalies(&out, list, ""); err != nil {
		t.Fatal(err)
	}
	var columns []int
	for _, line := range strings.Split(out.String(), "\n") {
		if i := strings.Index(line, "token "); i >= 0 && !strings.HasPrefix(line, "    ") {
			columns = append(columns, i)
		}
	}
	if len(columns) != 2 || columns[0] != columns[1] {
		t.Errorf("token column starts at %v, want one column for both lines:\n%s", columns, out.String())
	}
}

func TestWriteAnomaliesNetworkRules(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	list := []audit.Anomaly{
		{Time: at, Severity: audit.SeverityHigh, Rule: "shared_ip_many_subjects", TokenID: "r-20", IP: netip.MustParseAddr("11.22.33.44")},
		{Time: at, Severity: audit.SeverityMedium, Rule: "rejected_burst", TokenID: "x-20"},
		{Time: at, Severity: audit.SeverityMedium, Rule: "rapid_ip_change", TokenID: "t1", Subject: "-"},
	}
	var out bytes.Buffer
	if err := writeAnomalies(&out, list, ""); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"last token r-20, subject (several), from 11.22.33.44",
		"last token x-20, subject (none recorded)",
		"token t1, subject -",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestWriteRuleCountsAlignsLongRules(t *testing.T) {
	var out bytes.Buffer
	writeRuleCounts(&out, []ruleCount{
		{rule: "a_custom_rule_with_a_long_name", found: 1, added: 1},
		{rule: "rapid_ip_change", found: 2, added: 0},
	})
	var columns []int
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "  ") {
			columns = append(columns, strings.Index(line, " found"))
		}
	}
	if len(columns) != 2 || columns[0] != columns[1] {
		t.Errorf("count columns at %v, want aligned:\n%s", columns, out.String())
	}
}
