package forensics_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

func TestLineageRoot(t *testing.T) {
	issued := func(jti, parent string) audit.Event {
		return audit.Event{ID: "issued-" + jti, Time: t0, Kind: audit.KindIssued, TokenID: jti, ParentTokenID: parent, Subject: "alice"}
	}
	events := []audit.Event{
		issued("root", ""), issued("mid", "root"), issued("leaf", "mid"),
		// A parent whose issuance is not stored roots the lineage.
		issued("orphan-child", "never-issued"),
		issued("loop-a", "loop-b"), issued("loop-b", "loop-a"),
	}
	// A chain longer than the walk goes: long-0 <- long-1 <- ... <- long-80.
	events = append(events, issued("long-0", ""))
	for i := 1; i <= 80; i++ {
		events = append(events, issued(fmt.Sprintf("long-%d", i), fmt.Sprintf("long-%d", i-1)))
	}
	db := openStore(t, events)

	tests := []struct {
		jti, wantRoot string
		wantComplete  bool
	}{
		{"root", "root", true},
		{"mid", "root", true},
		{"leaf", "root", true},
		{"unknown", "unknown", true},
		{"orphan-child", "never-issued", true},
		{"loop-a", "loop-b", false},
		{"long-80", "long-16", false},
		{"long-64", "long-0", true},
	}
	for _, tt := range tests {
		root, complete, err := forensics.LineageRoot(context.Background(), db, tt.jti)
		if err != nil {
			t.Fatalf("LineageRoot(%s): %v", tt.jti, err)
		}
		if root != tt.wantRoot || complete != tt.wantComplete {
			t.Errorf("LineageRoot(%s) = %s, %v, want %s, %v", tt.jti, root, complete, tt.wantRoot, tt.wantComplete)
		}
	}
}
