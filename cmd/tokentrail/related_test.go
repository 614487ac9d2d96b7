package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/forensics"
)

// relatedJSON runs tokentrail related --json and decodes its list.
func relatedJSON(tb testing.TB, db string, args ...string) []forensics.RelatedToken {
	tb.Helper()
	stdout, _, err := run(tb, "", append([]string{"--db", db, "related", "--json"}, args...)...)
	if err != nil {
		tb.Fatalf("related %s: %v", strings.Join(args, " "), err)
	}
	var list []forensics.RelatedToken
	if err := json.Unmarshal([]byte(stdout), &list); err != nil {
		tb.Fatalf("related --json is not a list: %v\n%s", err, stdout)
	}
	return list
}

func relatedIDs(list []forensics.RelatedToken) []string {
	var ids []string
	for _, r := range list {
		ids = append(ids, r.TokenID)
	}
	return ids
}

func reasonKinds(r forensics.RelatedToken) []string {
	var kinds []string
	for _, reason := range r.Reasons {
		kinds = append(kinds, reason.Kind)
	}
	return kinds
}

func TestRelatedFromToken(t *testing.T) {
	db := incidentStore(t)

	list := relatedJSON(t, db, "--token", aliceToken)
	if got := relatedIDs(list); !slices.Equal(got, []string{aliceLater, bobToken}) {
		t.Fatalf("related tokens = %v, want %s then %s, without the start token", got, aliceLater, bobToken)
	}
	bob := list[1]
	if got := reasonKinds(bob); !slices.Equal(got, []string{forensics.RelationSharedClient, forensics.RelationSharedNet}) {
		t.Errorf("reasons of %s = %v, want shared_client then shared_network", bobToken, got)
	}
	if bob.Score != 65 || bob.Strength != forensics.StrengthMedium {
		t.Errorf("%s scores %d (%s), want 65 (medium)", bobToken, bob.Score, bob.Strength)
	}
	if list[0].Score < list[1].Score {
		t.Errorf("scores %d then %d, want the strongest first", list[0].Score, list[1].Score)
	}
}

func TestRelatedFromSubject(t *testing.T) {
	db := incidentStore(t)

	list := relatedJSON(t, db, "--subject", "alice")
	if got := relatedIDs(list); !slices.Equal(got, []string{aliceToken, aliceLater, bobToken}) {
		t.Errorf("related tokens = %v, want alice's two tokens, then bob's", got)
	}

	stdout, _, err := run(t, "", "--db", db, "related", "--subject", "alice")
	if err != nil {
		t.Fatalf("related: %v", err)
	}
	for _, want := range []string{
		"3 tokens related to subject alice, strongest first",
		"TOKEN        SUBJECT  SCORE  STRENGTH  REASONS",
		"tok-bob-1    bob      65     medium    shared_client (60): used from 198.51.100.0/24 with user agent \"python-requests/2.31.0\"",
		"\n                                       shared_network (30): used from 198.51.100.0/24\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("related text lacks %q:\n%s", want, stdout)
		}
	}
}

func TestRelatedWindow(t *testing.T) {
	db := incidentStore(t)

	list := relatedJSON(t, db, "--subject", "alice", "--since", "2026-11-20 09:00:00Z", "--until", "2026-11-20T10:30:00Z")
	if slices.Contains(relatedIDs(list), aliceLater) {
		t.Errorf("related tokens = %v, want %s left out: its only use is after --until", relatedIDs(list), aliceLater)
	}

	_, _, err := run(t, "", "--db", db, "related", "--token", aliceToken, "--since", "2026-11-20T10:30:00Z")
	if err == nil || !strings.Contains(err.Error(), `no event of token "tok-alice-1"`) || !strings.Contains(err.Error(), "since 2026-11-20T10:30:00Z") {
		t.Errorf("related outside the token's events = %v, want no event of the token since the bound", err)
	}
}

func TestRelatedLineage(t *testing.T) {
	demo := filepath.Join(t.TempDir(), "demo.db")
	if _, _, err := run(t, "", "demo", "--keep", demo); err != nil {
		t.Fatalf("demo: %v", err)
	}

	list := relatedJSON(t, demo, "--token", "807d2f89-3ece-4523-b752-77c66c5421f1")
	if len(list) == 0 {
		t.Fatal("related lists no token")
	}
	top := list[0]
	if top.TokenID != "169a73bf-4c83-4f3b-8c0a-70a7a84567f9" || top.Reasons[0].Kind != forensics.RelationParent || top.Strength != forensics.StrengthStrong {
		t.Errorf("strongest related = %s by %v (%s), want the refresh token it was minted from, strong", top.TokenID, reasonKinds(top), top.Strength)
	}
}

func TestRelatedFlagErrors(t *testing.T) {
	db := incidentStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no start", nil, "missing start"},
		{"two starts", []string{"--subject", "alice", "--token", aliceToken}, "--subject and --token both given"},
		{"raw token", []string{"--token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImp0aSI6IngifQ.c2lnbmF0dXJlc2lnbmF0dXJl"}, "--token looks like a raw JWT"},
		{"bad since", []string{"--subject", "alice", "--since", "monday"}, `invalid --since "monday"`},
		{"empty range", []string{"--subject", "alice", "--since", "2026-11-20T11:00:00Z", "--until", "2026-11-20T10:00:00Z"}, "is not after --since"},
		{"bad limit", []string{"--subject", "alice", "--limit", "-2"}, "invalid --limit -2"},
		{"unknown subject", []string{"--subject", "carol"}, `no event of subject "carol" in ` + db + `: check the subject`},
		{"unknown subject in a range", []string{"--subject", "carol", "--since", "2026-11-20T10:00:00Z"}, "check the subject, or widen --since and --until"},
		{"e-mail as subject", []string{"--subject", "carol@example.com"}, "not the e-mail address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "", append([]string{"--db", db, "related"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("related %v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}

	_, _, err := run(t, "", "--db", db, "related", "--subject", "carol")
	if err != nil && strings.Contains(err.Error(), "widen") {
		t.Errorf("related without --since or --until = %v, want no advice to widen them", err)
	}
}

// A token whose only event on a shared network is a rejected presentation,
// such as a refresh token replayed after its rotation, reads as presented
// and rejected there, not as used, in every format of related.
func TestRelatedWordsRejectedPresentation(t *testing.T) {
	const replayed = "rt-replayed-1"
	rejected := `{"ts":"2026-11-20T10:00:45Z","kind":"rejected","jti":"` + replayed + `","sub":"mallory","ip":"` + attackerIP +
		`","ua":"` + attackerAgent + `","method":"POST","path":"/oauth/token","status":400}` + "\n"
	db := incidentStore(t, rejected)

	list := relatedJSON(t, db, "--token", aliceToken)
	i := slices.IndexFunc(list, func(r forensics.RelatedToken) bool { return r.TokenID == replayed })
	if i < 0 {
		t.Fatalf("related tokens = %v, want %s among them", relatedIDs(list), replayed)
	}
	for _, reason := range list[i].Reasons {
		if strings.Contains(reason.Detail, "used from") {
			t.Errorf("%s reason %s detail = %q, want no use: its only event there was rejected", replayed, reason.Kind, reason.Detail)
		}
		if !strings.HasPrefix(reason.Detail, "presented from 198.51.100.0/24") || !strings.HasSuffix(reason.Detail, "and rejected") {
			t.Errorf("%s reason %s detail = %q, want presented from 198.51.100.0/24 ... and rejected", replayed, reason.Kind, reason.Detail)
		}
	}

	stdout, _, err := run(t, "", "--db", db, "related", "--token", aliceToken)
	if err != nil {
		t.Fatalf("related: %v", err)
	}
	for _, want := range []string{
		`shared_client (60): presented from 198.51.100.0/24 with user agent "python-requests/2.31.0" and rejected`,
		"shared_network (30): presented from 198.51.100.0/24 and rejected",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("related text lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "shared_network (30): used from 198.51.100.0/24") {
		t.Errorf("related text lacks bob's use from the network:\n%s", stdout)
	}
}
