package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

// gatewayLine returns one record of a gateway access log: a use of the
// token tok by alice from ip at the time of day clock on 2026-11-20.
func gatewayLine(tok, ip, clock string) string {
	return fmt.Sprintf(`{"ts":"2026-11-20T%sZ","jti":%q,"sub":"alice","ip":%q,"ua":"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}`, clock, tok, ip) + "\n"
}

const gatewayMap = "jti=jti,sub=sub,ip=ip,time=ts,ua=ua"

// storedAnomalies returns what tokentrail anomalies --json lists.
func storedAnomalies(tb testing.TB, db string, args ...string) []audit.Anomaly {
	tb.Helper()
	stdout, _, err := run(tb, "", append([]string{"--db", db, "anomalies", "--json"}, args...)...)
	if err != nil {
		tb.Fatalf("anomalies: %v", err)
	}
	var list []audit.Anomaly
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		tb.Fatalf("anomalies --json is not a list: %v\n%s", err, stdout)
	}
	return list
}

// TestDetectFindsWhatImportMissed imports two gateway logs of one token
// whose times interleave by minutes, far more than the reorder window. The
// import checks the second file's use after the first file's later uses,
// so it misses the token's three networks within ten minutes. Detect reads
// the store in time order and finds them.
func TestDetectFindsWhatImportMissed(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	const tok = "5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55"
	first := writeFile(t, dir, "gateway-a.jsonl",
		gatewayLine(tok, "192.0.2.10", "10:00:00")+gatewayLine(tok, "203.0.113.10", "10:05:00")+gatewayLine(tok, "192.0.2.11", "10:30:00"))
	second := writeFile(t, dir, "gateway-b.jsonl", gatewayLine(tok, "198.51.100.10", "10:02:00"))

	stdout, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap, first, second)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.Contains(stdout, "anomalies: 0 found") {
		t.Errorf("import output = %q, want no anomaly: it checks the second file's use out of order", stdout)
	}
	if !strings.Contains(stdout, "detection: 1 event came after later events of their token") || !strings.Contains(stdout, "tokentrail detect") {
		t.Errorf("import output = %q, want the late event counted and tokentrail detect named", stdout)
	}

	stdout, _, err = run(t, "", "--db", db, "detect")
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	for _, want := range []string{
		"scanned 4 events from 2026-11-20 10:00:00Z to 2026-11-20 10:30:00Z",
		"anomalies: 1 found, 1 new",
		"rapid_ip_change          1 found, 1 new",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("detect output lacks %q:\n%s", want, stdout)
		}
	}
	list := storedAnomalies(t, db)
	if len(list) != 1 || list[0].Rule != "rapid_ip_change" || len(list[0].EventIDs) != 3 || list[0].TokenID != tok {
		t.Fatalf("stored anomalies = %+v, want one rapid_ip_change of %s with its three uses", list, tok)
	}
	if a := list[0]; a.IP.String() != "203.0.113.10" || !strings.HasPrefix(a.UserAgent, "Mozilla/5.0") {
		t.Errorf("stored anomaly's client = %v %q, want the third network's use: 203.0.113.10 with its Firefox user agent", a.IP, a.UserAgent)
	}

	stdout, _, err = run(t, "", "--db", db, "detect")
	if err != nil || !strings.Contains(stdout, "anomalies: 1 found, 0 new") {
		t.Errorf("second detect = %q, %v; want the anomaly found again and none new", stdout, err)
	}

	// Three networks are now allowed: the stored anomaly stays until
	// --prune, and a prune over a range that leaves out part of its
	// evidence keeps it.
	rules := writeFile(t, dir, "rules.yaml", "rules:\n  rapid_ip_change:\n    max_networks: 3\n")
	stdout, _, err = run(t, "", "--db", db, "detect", "--rules", rules)
	if err != nil || !strings.Contains(stdout, "anomalies: 0 found, 0 new") || strings.Contains(stdout, "pruned") {
		t.Errorf("detect --rules = %q, %v; want nothing found and nothing pruned", stdout, err)
	}
	if n := len(storedAnomalies(t, db)); n != 1 {
		t.Errorf("after detect with new rules and without --prune, %d anomalies are stored, want 1", n)
	}
	stdout, _, err = run(t, "", "--db", db, "detect", "--rules", rules, "--prune", "--since", "2026-11-20T10:03:00Z")
	if err != nil || !strings.Contains(stdout, "pruned: 0 stored anomalies") {
		t.Errorf("detect --prune --since after part of the evidence = %q, %v; want nothing pruned", stdout, err)
	}
	stdout, _, err = run(t, "", "--db", db, "detect", "--rules", rules, "--prune")
	if err != nil || !strings.Contains(stdout, "pruned: 1 stored anomaly that the rules no longer raise") {
		t.Errorf("detect --rules --prune = %q, %v; want the stale anomaly pruned", stdout, err)
	}
	if list := storedAnomalies(t, db); len(list) != 0 {
		t.Errorf("after detect --prune, anomalies %+v are stored, want none", list)
	}
}

// TestDetectAgreesWithSortedImport checks what docs/detection.md promises:
// events imported from files in any order give, after detect --prune, the
// same anomalies as the same events imported sorted, and importing them
// again adds none.
func TestDetectAgreesWithSortedImport(t *testing.T) {
	dir := t.TempDir()
	tokens := []string{"6a7b8c9d-0000-4000-8000-000000000001", "6a7b8c9d-0000-4000-8000-000000000002"}
	ips := []string{"192.0.2.10", "198.51.100.10", "203.0.113.10", "192.0.2.77"}
	var lines []string
	for minute := range 24 {
		lines = append(lines, gatewayLine(tokens[minute%2], ips[(minute/2)%len(ips)], fmt.Sprintf("10:%02d:00", minute)))
	}
	sorted := writeFile(t, dir, "sorted.jsonl", strings.Join(lines, ""))
	var first, second strings.Builder
	for i, line := range lines {
		if i%3 == 0 {
			second.WriteString(line)
		} else {
			first.WriteString(line)
		}
	}
	firstFile := writeFile(t, dir, "part-1.jsonl", first.String())
	secondFile := writeFile(t, dir, "part-2.jsonl", second.String())

	// The importer derives an event's ID from its record, so both stores
	// hold the same events and the anomalies' IDs can be compared.
	anomalyIDs := func(db string) []string {
		t.Helper()
		var list []string
		for _, a := range storedAnomalies(t, db) {
			list = append(list, a.ID)
		}
		slices.Sort(list)
		return list
	}
	sortedDB := filepath.Join(dir, "sorted.db")
	if _, _, err := run(t, "", "--db", sortedDB, "import", "--format", "jsonl", "--map", gatewayMap, sorted); err != nil {
		t.Fatalf("import sorted: %v", err)
	}
	want := anomalyIDs(sortedDB)
	if len(want) == 0 {
		t.Fatal("the sorted import found no anomaly, so the comparison proves nothing")
	}
	stdout, _, err := run(t, "", "--db", sortedDB, "import", "--format", "jsonl", "--map", gatewayMap, sorted)
	if err != nil || !strings.Contains(stdout, fmt.Sprintf("anomalies: %d found, 0 new", len(want))) {
		t.Errorf("second import of the sorted file = %q, %v; want %d anomalies found and none new", stdout, err, len(want))
	}

	splitDB := filepath.Join(dir, "split.db")
	if _, _, err := run(t, "", "--db", splitDB, "import", "--format", "jsonl", "--map", gatewayMap, firstFile, secondFile); err != nil {
		t.Fatalf("import parts: %v", err)
	}
	if got := anomalyIDs(splitDB); slices.Equal(got, want) {
		t.Fatalf("the import of the parts already found %v, as the sorted file does, so the comparison proves nothing", got)
	}
	if _, _, err := run(t, "", "--db", splitDB, "detect", "--prune"); err != nil {
		t.Fatalf("detect --prune: %v", err)
	}
	if got := anomalyIDs(splitDB); !slices.Equal(got, want) {
		t.Errorf("anomalies after importing the parts and detect --prune = %v, want %v as from the sorted file", got, want)
	}

	// Both tokens reached their third network at 203.0.113.10, which the
	// pattern view shows as one network behind two tokens.
	report := runPatternsJSON(t, splitDB, "--by", "network")
	if got := groupSummary(report.Groups); !slices.Contains(got, "network 203.0.113.0/24 1/2/2") {
		t.Errorf("patterns --by network after detect = %q, want 203.0.113.0/24 with one subject, two tokens and two anomalies", got)
	}
}

func TestDetectFlagErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap,
		writeFile(t, dir, "g.jsonl", gatewayLine("tok-1", "192.0.2.1", "10:00:00"))); err != nil {
		t.Fatalf("import: %v", err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing store", []string{"--db", filepath.Join(dir, "typo.db"), "detect"}, "no store at " + filepath.Join(dir, "typo.db")},
		{"bad since", []string{"--db", db, "detect", "--since", "yesterday"}, `invalid --since "yesterday"`},
		{"until before since", []string{"--db", db, "detect", "--since", "2026-11-20T10:00:00Z", "--until", "2026-11-20T09:00:00Z"}, "invalid --until"},
		{"bad progress", []string{"--db", db, "detect", "--progress", "sometimes"}, `invalid --progress "sometimes"`},
		{"misspelt rule", []string{"--db", db, "detect", "--rules", writeFile(t, dir, "bad.yaml", "rules:\n  rapid_ip_chnage: {}\n")}, "invalid --rules"},
		{"missing rules file", []string{"--db", db, "detect", "--rules", filepath.Join(dir, "none.yaml")}, "read --rules"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestDetectVerbosePrintsEngineCounts(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap,
		writeFile(t, dir, "g.jsonl", gatewayLine("tok-1", "192.0.2.1", "10:00:00")+gatewayLine("tok-1", "192.0.2.1", "10:01:00"))); err != nil {
		t.Fatalf("import: %v", err)
	}

	stdout, _, err := run(t, "", "--db", db, "detect", "-v", "--progress", "always")

	if err != nil {
		t.Fatalf("detect -v: %v", err)
	}
	if !strings.Contains(stdout, "engine: 2 events checked, 0 duplicates dropped, 0 late") {
		t.Errorf("detect -v output = %q, want the engine's counts", stdout)
	}
}

// TestCustomRuleFailuresPrinted checks that a custom rule that compiles but
// fails on every event is reported by import, detect and investigate, not
// taken for a rule that never matched.
func TestCustomRuleFailuresPrinted(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	const tok = "5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55"
	logs := writeFile(t, dir, "gateway.jsonl", gatewayLine(tok, "192.0.2.10", "10:00:00")+gatewayLine(tok, "192.0.2.10", "10:01:00"))
	rules := writeFile(t, dir, "rules.yaml", "custom_rules:\n"+
		"  - name: fourth_scope\n    expression: event.scopes[3] == \"x\"\n"+
		"  - name: divide_by_zero\n    expression: 10 / (token.uses - token.uses) > 1\n")
	wants := []string{
		"custom rule fourth_scope failed on 2 events, which it skipped: first on event ",
		"custom rule divide_by_zero failed on 2 events, which it skipped: first on event ",
		"at 2026-11-20 10:00:00Z: division by zero; fix its expression in " + rules,
	}

	stdout, _, err := run(t, "", "--db", db, "import", "--rules", rules, "--format", "jsonl", "--map", gatewayMap, logs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, want := range wants {
		if !strings.Contains(stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, err = run(t, "", "--db", db, "detect", "--rules", rules)
	if err != nil {
		t.Fatalf("detect: %v", err)
	}
	for _, want := range wants {
		if !strings.Contains(stdout, want) {
			t.Errorf("detect output lacks %q:\n%s", want, stdout)
		}
	}

	stdout, stderr, err := run(t, "", "--db", db, "investigate", "--json", "--rules", rules, tok)
	if err != nil {
		t.Fatalf("investigate: %v", err)
	}
	for _, want := range wants {
		if !strings.Contains(stderr, want) {
			t.Errorf("investigate standard error lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stdout, "custom rule") {
		t.Errorf("investigate --json output = %q, want the failures on standard error only", stdout)
	}

	stdout, _, err = run(t, "", "--db", db, "detect", "--rules", "none")
	if err != nil {
		t.Fatalf("detect --rules none: %v", err)
	}
	if strings.Contains(stdout, "failed on") {
		t.Errorf("detect without custom rules printed a failure:\n%s", stdout)
	}
}

// TestConfigFileErrorsGiveLines checks that a fault in a --rules or
// --enrich file is printed as FILE line N: FIELD: what to write.
func TestConfigFileErrorsGiveLines(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", "--format", "jsonl", "--map", gatewayMap,
		writeFile(t, dir, "gateway.jsonl", gatewayLine("t1", "192.0.2.10", "10:00:00"))); err != nil {
		t.Fatalf("import: %v", err)
	}
	tests := []struct {
		flag, text, want string
	}{
		{"--rules", "clock_skew: 60\n", "invalid --rules: %s line 1: clock_skew: 60 has no unit; write 60s for seconds"},
		{"--rules", "rules:\n  rapid_ip_change:\n    severity: urgent\n", `invalid --rules: %s line 3: rules.rapid_ip_change.severity: "urgent" is not valid; write low, medium, high or critical`},
		{"--rules", "trusted_networks: [81.2.69.10]\n", "invalid --rules: %s line 1: trusted_networks[0]: 81.2.69.10 is one address, not an address range; write 81.2.69.10/32"},
		{"--rules", "\nnetwork_state:\n  ipv4_prefix: 33\n", "invalid --rules: %s line 3: network_state.ipv4_prefix is 33 but must be 0 to 32"},
		{"--enrich", "lists:\n  - name: tor\n    paht: tor.txt\n", "invalid --enrich: %s line 3: lists[0].paht: unknown key (did you mean path?)"},
	}
	for i, tt := range tests {
		path := writeFile(t, dir, fmt.Sprintf("config-%d.yaml", i), tt.text)
		for _, cmd := range []string{"detect", "import"} {
			args := []string{"--db", db, cmd, tt.flag, path}
			if cmd == "import" {
				args = append(args, "--format", "jsonl", "--map", gatewayMap, filepath.Join(dir, "gateway.jsonl"))
			}
			_, _, err := run(t, "", args...)
			if want := fmt.Sprintf(tt.want, path); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s with %q: error = %v, want one containing %q", cmd, tt.flag, tt.text, err, want)
			}
		}
	}
}

// TestIncidentPrintsCustomRuleFailures checks that tokentrail incident
// reports a custom rule that fails at run time, counted over every trail
// the analysis checks, on standard error.
func TestIncidentPrintsCustomRuleFailures(t *testing.T) {
	db := incidentStore(t)
	rules := writeFile(t, t.TempDir(), "rules.yaml", "custom_rules:\n  - name: fourth_scope\n    expression: event.scopes[3] == \"x\"\n")
	stdout, stderr, err := run(t, "", "--db", db, "incident", "--subject", "alice", "--at", incidentAt, "--window", "2h", "--rules", rules)
	if err != nil {
		t.Fatalf("incident: %v", err)
	}
	if !strings.Contains(stderr, "custom rule fourth_scope failed on ") || strings.Contains(stdout, "fourth_scope failed") {
		t.Errorf("incident standard error = %q, want the failing rule there and not in the report", stderr)
	}
}

// TestCustomRuleCostLimit checks that import rejects a rule whose estimated
// cost is over custom_rule_cost_limit, naming the file and the rule, and
// prints a rule stopped by the limit at run time with what to do.
func TestCustomRuleCostLimit(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	const tok = "5f0c3d7e-9a41-4b8e-b2a6-1d0f3e8c7a55"
	logs := writeFile(t, dir, "gateway.jsonl", gatewayLine(tok, "192.0.2.10", "10:00:00"))

	expensive := writeFile(t, dir, "expensive.yaml", "custom_rules:\n"+
		"  - name: scopes_cubed\n    expression: token.scopes.all(a, token.scopes.all(b, token.scopes.all(c, a + b != c)))\n")
	_, _, err := run(t, "", "--db", db, "import", "--rules", expensive, "--format", "jsonl", "--map", gatewayMap, logs)
	if err == nil {
		t.Fatal("import accepted a rule estimated over the cost limit")
	}
	for _, want := range []string{expensive, `custom rule "scopes_cubed"`, "line 3, column 17", "over custom_rule_cost_limit 100000", "raise custom_rule_cost_limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("import error = %q, want it to contain %q", err, want)
		}
	}

	// event.scopes has no bound, so the rule has no estimated worst case
	// and loads. The limit of 10 stops it at run time in the literal list.
	tight := writeFile(t, dir, "tight.yaml", "custom_rule_cost_limit: 10\ncustom_rules:\n"+
		"  - name: many_checks\n    expression: 'event.scopes.all(s, s != \"\") && [1, 2, 3, 4, 5, 6, 7, 8].exists(n, token.uses > n)'\n")
	stdout, _, err := run(t, "", "--db", db, "import", "--rules", tight, "--format", "jsonl", "--map", gatewayMap, logs)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	for _, want := range []string{"custom rule many_checks failed on 1 event", "cost limit exceeded", "fix its expression in " + tight, "raise custom_rule_cost_limit"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, stdout)
		}
	}
}
