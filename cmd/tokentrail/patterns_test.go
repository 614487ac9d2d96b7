package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// patternFixture stores anomalies of a campaign in a new SQLite file and
// returns its path. One hosting network (203.0.113.0/24, AS64500) has
// tokens of four subjects, one of them seen through its IPv4-mapped
// address. An IPv6 /64 of the same ASN has two tokens of one subject, and a
// home network one token. One anomaly names no client.
func patternFixture(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "events.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()

	at := func(minutes int) time.Time { return time.Date(2026, 11, 20, 9, minutes, 0, 0, time.UTC) }
	const (
		script  = "python-requests/2.31.0"
		curl    = "curl/8.5.0"
		firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	)
	n := 0
	anomaly := func(rule string, severity audit.Severity, minutes int, token, subject, ip string, asn uint32, org, ua string) audit.Anomaly {
		n++
		a := audit.Anomaly{ID: fmt.Sprintf("a%02d", n), Rule: rule, Severity: severity, Time: at(minutes), TokenID: token, Subject: subject,
			EventIDs: []string{fmt.Sprintf("e%02d", n)}, Summary: "summary", ASN: asn, Org: org, UserAgent: ua}
		if ip != "" {
			a.IP = netip.MustParseAddr(ip)
		}
		return a
	}
	list := []audit.Anomaly{
		anomaly("rapid_ip_change", audit.SeverityMedium, 1, "t1", "alice", "203.0.113.5", 64500, "Example Hosting", script),
		anomaly("rapid_ip_change", audit.SeverityMedium, 2, "t2", "bob", "203.0.113.6", 64500, "Example Hosting", script),
		anomaly("concurrent_use", audit.SeverityHigh, 3, "t3", "carol", "203.0.113.7", 64500, "Example Hosting", script),
		anomaly("shared_ip_many_subjects", audit.SeverityHigh, 4, "t4", "carol", "203.0.113.7", 64500, "Example Hosting", script),
		anomaly("concurrent_use", audit.SeverityHigh, 5, "t8", "dave", "::ffff:203.0.113.99", 64500, "Example Hosting", script),
		anomaly("user_agent_change", audit.SeverityMedium, 6, "t6", "erin", "2001:db8:1:2::5", 64500, "Example Hosting", curl),
		anomaly("user_agent_change", audit.SeverityMedium, 7, "t7", "erin", "2001:db8:1:2::6%eth0", 64500, "Example Hosting", curl),
		anomaly("rapid_ip_change", audit.SeverityMedium, 8, "t5", "frank", "198.51.100.20", 64501, "Home ISP", firefox),
		anomaly("high_frequency", audit.SeverityMedium, 9, "t5", "frank", "198.51.100.21", 64501, "Home ISP", firefox),
		anomaly("expired_token_use", audit.SeverityMedium, 10, "t9", "grace", "", 0, "", ""),
	}
	if _, err := db.AppendAnomalies(context.Background(), list); err != nil {
		tb.Fatal(err)
	}
	return path
}

func runPatternsJSON(tb testing.TB, db string, args ...string) patternReport {
	tb.Helper()
	stdout, _, err := run(tb, "", append([]string{"--db", db, "patterns", "--json"}, args...)...)
	if err != nil {
		tb.Fatalf("patterns --json %v: %v", args, err)
	}
	var report patternReport
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		tb.Fatalf("patterns --json output is not a report: %v\n%s", err, stdout)
	}
	return report
}

// groupSummary returns "by key subjects/tokens/anomalies" for each group.
func groupSummary(groups []patternGroup) []string {
	var list []string
	for _, g := range groups {
		list = append(list, fmt.Sprintf("%s %s %d/%d/%d", g.By, g.Key, g.Subjects, g.Tokens, g.Anomalies))
	}
	return list
}

func TestPatternsGroupAcrossTokens(t *testing.T) {
	db := patternFixture(t)

	report := runPatternsJSON(t, db)

	want := []string{
		"network 203.0.113.0/24 4/5/5",
		"network 2001:db8:1:2::/64 1/2/2",
		"asn AS64500 5/7/7",
		"user_agent python-requests 4/5/5",
		"user_agent curl 1/2/2",
	}
	if got := groupSummary(report.Groups); !slices.Equal(got, want) {
		t.Errorf("groups = %q, want %q", got, want)
	}
	if report.Anomalies != 10 || report.MinTokens != 2 || report.Hidden != 3 {
		t.Errorf("report = %d anomalies, min_tokens %d, %d hidden; want 10, 2, 3 (the home network, its ASN and Firefox)",
			report.Anomalies, report.MinTokens, report.Hidden)
	}

	hosting := report.Groups[0]
	wantRules := []ruleTally{{"concurrent_use", 2}, {"rapid_ip_change", 2}, {"shared_ip_many_subjects", 1}}
	if !slices.Equal(hosting.Rules, wantRules) {
		t.Errorf("rules of 203.0.113.0/24 = %v, want %v", hosting.Rules, wantRules)
	}
	if hosting.ASN != 64500 || hosting.Org != "Example Hosting" || hosting.MaxSeverity != audit.SeverityHigh {
		t.Errorf("203.0.113.0/24 = AS%d %q, highest %s; want AS64500 \"Example Hosting\", high", hosting.ASN, hosting.Org, hosting.MaxSeverity)
	}
	if first, last := hosting.First.Format(time.RFC3339), hosting.Last.Format(time.RFC3339); first != "2026-11-20T09:01:00Z" || last != "2026-11-20T09:05:00Z" {
		t.Errorf("203.0.113.0/24 spans %s to %s, want 09:01 to 09:05", first, last)
	}
	if g := report.Groups[4]; g.ASN != 0 || g.Org != "" {
		t.Errorf("user-agent group %s names AS%d %q, want no network", g.Key, g.ASN, g.Org)
	}
}

func TestPatternsFilters(t *testing.T) {
	db := patternFixture(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"by network", []string{"--by", "network"}, []string{"network 203.0.113.0/24 4/5/5", "network 2001:db8:1:2::/64 1/2/2"}},
		{"by asn, one token shown", []string{"--by", "asn", "--min-tokens", "1"}, []string{"asn AS64500 5/7/7", "asn AS64501 1/1/2"}},
		{"severity", []string{"--by", "network", "--severity", "high"}, []string{"network 203.0.113.0/24 2/3/3"}},
		{"rule", []string{"--by", "user_agent", "--rule", "user_agent_change"}, []string{"user_agent curl 1/2/2"}},
		{"since", []string{"--by", "asn", "--since", "2026-11-20T09:03:00Z"}, []string{"asn AS64500 3/5/5"}},
		{"since as reports print it", []string{"--by", "asn", "--since", "2026-11-20 09:03:00Z"}, []string{"asn AS64500 3/5/5"}},
		{"until", []string{"--by", "network", "--until", "2026-11-20T09:03:00Z"}, []string{"network 203.0.113.0/24 2/2/2"}},
		{"many tokens", []string{"--min-tokens", "6"}, []string{"asn AS64500 5/7/7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := runPatternsJSON(t, db, tt.args...)
			if got := groupSummary(report.Groups); !slices.Equal(got, tt.want) {
				t.Errorf("patterns %v = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// TestPatternsText reads the text output as a responder would, and runs
// the command it prints for a group.
func TestPatternsText(t *testing.T) {
	db := patternFixture(t)

	stdout, _, err := run(t, "", "--db", db, "patterns", "--severity", "medium")

	if err != nil {
		t.Fatalf("patterns: %v", err)
	}
	for _, want := range []string{
		"10 anomalies: 5 groups of 2 or more tokens, 3 groups of fewer hidden (--min-tokens 1 shows them)",
		"By network (IPv4 /24, IPv6 /64)",
		"  203.0.113.0/24  AS64500 Example Hosting",
		"      4 subjects, 5 tokens, 5 anomalies (highest severity high), 2026-11-20 09:01:00Z to 2026-11-20 09:05:00Z",
		"      rules: concurrent_use 2, rapid_ip_change 2, shared_ip_many_subjects 1",
		"      list: tokentrail anomalies --network 203.0.113.0/24 --severity medium",
		"By autonomous system",
		"  AS64500  Example Hosting",
		"      list: tokentrail anomalies --asn 64500 --severity medium",
		"By user-agent family",
		"  python-requests",
	} {
		if !strings.Contains(stdout, want+"\n") {
			t.Errorf("patterns output lacks the line %q:\n%s", want, stdout)
		}
	}

	list := storedAnomalies(t, db, "--network", "203.0.113.0/24", "--severity", "medium")
	var tokens []string
	for _, a := range list {
		tokens = append(tokens, a.TokenID)
	}
	if want := []string{"t1", "t2", "t3", "t4", "t8"}; !slices.Equal(tokens, want) {
		t.Errorf("anomalies --network 203.0.113.0/24 lists tokens %v, want %v", tokens, want)
	}
	if list := storedAnomalies(t, db, "--asn", "64501"); len(list) != 2 {
		t.Errorf("anomalies --asn 64501 lists %d anomalies, want 2", len(list))
	}
}

func TestPatternsEmptyAndErrors(t *testing.T) {
	db := patternFixture(t)

	stdout, _, err := run(t, "", "--db", db, "patterns", "--rule", "refresh_token_reuse")
	if err != nil || !strings.Contains(stdout, "0 anomalies: 0 groups") || !strings.Contains(stdout, "widen the filters") {
		t.Errorf("patterns with no anomaly = %q, %v; want a line that says so", stdout, err)
	}
	report := runPatternsJSON(t, db, "--rule", "refresh_token_reuse")
	if report.Groups == nil {
		t.Error("patterns --json with no group has groups null, want an empty list")
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--by", "country"}, `invalid --by "country"`},
		{[]string{"--min-tokens", "-1"}, "invalid --min-tokens -1"},
		{[]string{"--severity", "urgent"}, `invalid --severity "urgent"`},
		{[]string{"--since", "2026-11-20"}, `invalid --since "2026-11-20"`},
	}
	for _, tt := range tests {
		_, _, err := run(t, "", append([]string{"--db", db, "patterns"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("patterns %v: error = %v, want it to contain %q", tt.args, err, tt.want)
		}
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	if _, _, err := run(t, "", "--db", missing, "patterns"); err == nil || !strings.Contains(err.Error(), "no store at") {
		t.Errorf("patterns on a missing store: error = %v, want no store at %s", err, missing)
	}
	if _, _, err := run(t, "", "--db", db, "anomalies", "--network", "203.0.113"); err == nil || !strings.Contains(err.Error(), `invalid --network "203.0.113"`) {
		t.Errorf("anomalies --network 203.0.113: error = %v, want one naming the flag", err)
	}
}
