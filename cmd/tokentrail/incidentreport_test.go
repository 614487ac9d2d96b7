package main

import (
	"fmt"
	"testing"

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
