package main

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

func TestIncidentSummaryBoundsLists(t *testing.T) {
	r := &forensics.IncidentReport{}
	for i := range 25 {
		r.Suspicious.Tokens = append(r.Suspicious.Tokens, forensics.SuspiciousToken{TokenID: fmt.Sprintf("tok-%02d", i), Rules: []string{"concurrent_use"}})
	}

	for _, item := range incidentSummary(r) {
		if item.label != "suspicious tokens" {
			continue
		}
		if len(item.values) != maxSummaryLines {
			t.Fatalf("suspicious tokens has %d lines, want %d", len(item.values), maxSummaryLines)
		}
		if got, want := item.values[maxSummaryLines-1], "and 16 more (the JSON report lists them all)"; got != want {
			t.Errorf("last line = %q, want %q", got, want)
		}
		return
	}
	t.Fatal("the summary has no suspicious tokens")
}

// TestIncidentReportsEscapeFormatCharacters renders a report whose values
// carry a right-to-left override, a zero-width space and an escape
// sequence. No format of it may contain such a character raw, and the
// headings must show the escapes as text.
func TestIncidentReportsEscapeFormatCharacters(t *testing.T) {
	hostile := "alice\u202eevil\u200b\x1b[31m"
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := &forensics.IncidentReport{
		Subject: hostile, At: at, Since: at.Add(-time.Hour), Until: at.Add(time.Hour), GeneratedAt: at,
		Notes: []string{"note of " + hostile},
		Timeline: []forensics.TimelineEntry{{
			Time: at, Kind: audit.KindUsed, TokenID: "J" + hostile, Subject: hostile, Path: "/api/" + hostile,
			IP: netip.MustParseAddr("198.51.100.7"), Network: "198.51.100.0/24",
			Anomalies: []forensics.AnomalyMark{{Rule: "rule" + hostile}},
		}},
		Anomalies: []audit.Anomaly{{Time: at, Rule: "rule" + hostile, TokenID: "J" + hostile, Summary: "summary " + hostile}},
		Patterns:  []forensics.Pattern{{Name: "pattern" + hostile, Description: "description " + hostile}},
		Plan: []forensics.RemediationStep{{
			Rank: 1, Action: forensics.ActionRevokeSubject, Targets: []string{hostile}, Reason: "reason " + hostile,
			API: `POST /api/v1/revocations {"subject":"` + hostile + `"}`, Manual: "manual " + hostile,
		}},
	}
	r.Suspicious.Tokens = []forensics.SuspiciousToken{{TokenID: "J" + hostile, Rules: []string{"rule" + hostile}}}

	writers := []struct {
		name    string
		write   func(io.Writer, *forensics.IncidentReport) error
		heading string
	}{
		{"text", writeIncidentText, `Incident of alice\u202eevil\u200b\x1b[31m at`},
		{"markdown", writeIncidentMarkdown, `# Incident of alice\u202eevil\u200b\x1b\[31m at`},
		{"html", writeIncidentHTML, `<h1>Incident of alice\u202eevil\u200b\x1b[31m at`},
	}
	for _, w := range writers {
		t.Run(w.name, func(t *testing.T) {
			var b strings.Builder
			if err := w.write(&b, r); err != nil {
				t.Fatalf("write: %v", err)
			}
			out := b.String()
			for i, c := range out {
				if c != '\n' && needsEscape(c) {
					t.Errorf("output has raw %U at byte %d: %q", c, i, out[max(0, i-40):min(len(out), i+40)])
					break
				}
			}
			if !strings.Contains(out, w.heading) {
				t.Errorf("output lacks the escaped heading %q:\n%s", w.heading, out)
			}
			if w.name == "html" && !strings.Contains(out, `<title>Incident of alice\u202eevil\u200b\x1b[31m at`) {
				t.Errorf("the HTML title does not show the escaped subject:\n%s", out)
			}
		})
	}
}

func TestEntryRequest(t *testing.T) {
	tests := []struct {
		name  string
		entry forensics.TimelineEntry
		want  string
	}{
		{"request", forensics.TimelineEntry{Kind: audit.KindUsed, Method: "GET", Path: "/api/orders"}, "GET /api/orders"},
		{"rejection", forensics.TimelineEntry{Kind: audit.KindRejected, RejectReason: audit.RejectExpired, Path: "/api/orders"}, "expired: /api/orders"},
		{"revocation", forensics.TimelineEntry{Kind: audit.KindRevoked, Actor: "ann", Reason: "stolen"}, "by ann: stolen"},
		{"failed sign-in", forensics.TimelineEntry{Kind: audit.KindSession, Action: "LOGIN_ERROR", Reason: "invalid_user_credentials"}, "LOGIN_ERROR: invalid_user_credentials"},
		{"sign-in", forensics.TimelineEntry{Kind: audit.KindSession, Action: "LOGIN"}, "LOGIN"},
		{"action beside a request", forensics.TimelineEntry{Kind: audit.KindUsed, Action: "api.call", Method: "GET", Path: "/x"}, "GET /x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entryRequest(tt.entry); got != tt.want {
				t.Errorf("entryRequest() = %q, want %q", got, tt.want)
			}
		})
	}
}
