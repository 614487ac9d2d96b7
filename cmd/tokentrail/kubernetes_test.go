package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/internal/shareddata"
)

// proxyJTI is the service-account token of the Sekoia sample whose one
// request lists two source addresses.
const proxyJTI = "581d10f3-b521-480f-aa42-bcd6a70df8ea"

// investigateJSON runs investigate --json with extra arguments and decodes
// the report.
func investigateJSON(t *testing.T, db, token string, args ...string) forensics.TokenReport {
	t.Helper()
	stdout, _, err := run(t, "", append(append([]string{"--db", db, "investigate", "--json"}, args...), token)...)
	if err != nil {
		t.Fatalf("investigate %s: %v", token, err)
	}
	var report forensics.TokenReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("investigate --json: %v\n%s", err, stdout)
	}
	return report
}

// TestKubernetesProxyChainIsOneClient checks the answer docs/detection.md
// gives for the Kubernetes sample whose service-account token shows two
// source addresses: they are one request's client and the proxy it came
// through, so no rule fires, even the strictest network rule.
func TestKubernetesProxyChainIsOneClient(t *testing.T) {
	sample := shareddata.File(t, "k8s-audit-sekoia.jsonl")
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")
	if _, _, err := run(t, "", "--db", db, "import", sample); err != nil {
		t.Fatalf("import: %v", err)
	}
	strict := writeFile(t, dir, "strict.yaml", "rules:\n  rapid_ip_change:\n    max_networks: 1\n    window: 5m\n")

	report := investigateJSON(t, db, proxyJTI, "--rules", strict)
	if len(report.Anomalies) != 0 {
		t.Errorf("anomalies = %+v, want none for one request through a proxy", report.Anomalies)
	}
	if len(report.Events) != 1 || report.Events[0].IP != netip.MustParseAddr("1.1.1.1") {
		t.Errorf("events = %+v, want the one request from its client 1.1.1.1", report.Events)
	}
}

// TestKubernetesTokenFromTwoClients is the case the sample does not show:
// the same service-account token in separate requests from two clients.
func TestKubernetesTokenFromTwoClients(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "events.db")

	// A kubectl at 1.1.1.1 uses the token, a script at 2.2.2.2 uses it
	// 20 s later, and the kubectl again 20 s after that.
	requests := []struct{ at, ip, agent string }{
		{"2025-01-23T14:56:02Z", "1.1.1.1", "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"},
		{"2025-01-23T14:56:22Z", "2.2.2.2", "python-requests/2.31.0"},
		{"2025-01-23T14:56:42Z", "1.1.1.1", "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"},
	}
	var log strings.Builder
	for i, r := range requests {
		fmt.Fprintf(&log, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"6f1c0de2-0000-4000-8000-00000000000%d",`+
			`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/support/secrets","verb":"list",`+
			`"user":{"username":"system:serviceaccount:support:deployer","extra":{"authentication.kubernetes.io/credential-id":["JTI=%s"]}},`+
			`"sourceIPs":[%q],"userAgent":%q,"responseStatus":{"code":200},"requestReceivedTimestamp":%q,"stageTimestamp":%q}`+"\n",
			i, proxyJTI, r.ip, r.agent, r.at, r.at)
	}
	file := writeFile(t, dir, "audit.jsonl", log.String())
	if _, _, err := run(t, "", "--db", db, "import", file); err != nil {
		t.Fatalf("import: %v", err)
	}

	rules := func(report forensics.TokenReport) []string {
		var names []string
		for _, a := range report.Anomalies {
			names = append(names, a.Rule+"/"+a.Severity.String())
		}
		return names
	}

	got := rules(investigateJSON(t, db, proxyJTI))
	if !strings.Contains(strings.Join(got, " "), "concurrent_use/high") {
		t.Errorf("default rules: anomalies = %v, want concurrent_use for the token going back and forth", got)
	}

	strict := writeFile(t, dir, "strict.yaml", "rules:\n  rapid_ip_change:\n    max_networks: 1\n    window: 5m\n    severity: high\n")
	got = rules(investigateJSON(t, db, proxyJTI, "--rules", strict))
	if !strings.Contains(strings.Join(got, " "), "rapid_ip_change/high") {
		t.Errorf("any change within 5 minutes: anomalies = %v, want rapid_ip_change/high", got)
	}
}
