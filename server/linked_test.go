package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// storeLinkedToken stores a used event that names token jti with
// fingerprint fp, which links the two ids.
func storeLinkedToken(tb testing.TB, ts *testServer, jti, fp string) {
	tb.Helper()
	e := usedEvent(jti, "alice", 0)
	e.Fingerprint = fp
	if _, err := ts.db.Append(context.Background(), []audit.Event{e}); err != nil {
		tb.Fatal(err)
	}
}

func TestRevokeLinkedIDsAlreadyRevoked(t *testing.T) {
	ts := newTestServer(t, nil)
	fp1 := strings.Repeat("ab", 32)
	fp2 := strings.Repeat("cd", 32)
	storeLinkedToken(t, ts, "tok-jti-first", fp1)
	storeLinkedToken(t, ts, "tok-fp-first", fp2)

	tests := []struct {
		name          string
		first, second string
	}{
		{"jti then fingerprint", "tok-jti-first", strings.ToUpper(fp1)},
		{"fingerprint then jti", fp2, "tok-fp-first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := func(target string) []byte {
				return mustJSON(t, map[string]string{"scope": "token", "target": target, "reason": "leaked"})
			}
			resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, body(tt.first))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("first revocation of %s = %d %s, want 201", tt.first, resp.StatusCode, data)
			}
			var first revokeResponse
			if err := json.Unmarshal(data, &first); err != nil {
				t.Fatal(err)
			}

			resp, data = ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, body(tt.second))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revocation of %s after %s = %d %s, want 200", tt.second, tt.first, resp.StatusCode, data)
			}
			var second revokeResponse
			if err := json.Unmarshal(data, &second); err != nil {
				t.Fatal(err)
			}
			if !second.AlreadyRevoked {
				t.Errorf("revocation of %s after %s: already_revoked = false, want true", tt.second, tt.first)
			}
			if second.Revocation.ID != first.Revocation.ID {
				t.Errorf("revocation of %s after %s names event %s, want the first one %s", tt.second, tt.first, second.Revocation.ID, first.Revocation.ID)
			}
		})
	}
}

func TestAccessLogMatchesLinkedIDs(t *testing.T) {
	ts := newTestServer(t, nil)
	fp := strings.Repeat("ef", 32)
	storeLinkedToken(t, ts, "tok-linked", fp)

	if resp, data := ts.do(t, http.MethodGet, "/api/v1/tokens/"+strings.ToUpper(fp), ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("token report by uppercase fingerprint = %d %s, want 200", resp.StatusCode, data)
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/search?q="+strings.ToUpper(fp), ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("search by uppercase fingerprint = %d %s, want 200", resp.StatusCode, data)
	}
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/tokens/tok-linked", ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("token report by jti = %d %s, want 200", resp.StatusCode, data)
	}

	tests := []struct {
		name    string
		target  string
		targets map[string]int // the targets of the entries and how many of each
	}{
		{"lowercase fingerprint", fp, map[string]int{fp: 2, "tok-linked": 1}},
		{"uppercase fingerprint", strings.ToUpper(fp), map[string]int{fp: 2, "tok-linked": 1}},
		{"jti", "tok-linked", map[string]int{fp: 2, "tok-linked": 1}},
		{"unlinked jti", "tok-other", map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodGet, "/api/v1/access-log?target="+url.QueryEscape(tt.target), ts.keys.admin, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("access log of %s = %d %s", tt.target, resp.StatusCode, data)
			}
			var body struct{ Accesses []accessEntry }
			if err := json.Unmarshal(data, &body); err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, a := range body.Accesses {
				got[a.Target]++
			}
			if len(got) != len(tt.targets) {
				t.Errorf("access log of %s targets = %v, want %v", tt.target, got, tt.targets)
			}
			for target, n := range tt.targets {
				if got[target] != n {
					t.Errorf("access log of %s: entries of %s = %d, want %d", tt.target, target, got[target], n)
				}
			}
			for i := 1; i < len(body.Accesses); i++ {
				if body.Accesses[i].Time.After(body.Accesses[i-1].Time) {
					t.Errorf("access log of %s is not newest first at entry %d", tt.target, i)
				}
			}
		})
	}

	resp, data := ts.do(t, http.MethodGet, "/api/v1/access-log?limit=1&target=tok-linked", ts.keys.admin, nil)
	var body struct{ Accesses []accessEntry }
	if err := json.Unmarshal(data, &body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("access log with limit 1 = %d %s", resp.StatusCode, data)
	}
	if len(body.Accesses) != 1 {
		t.Errorf("access log with limit 1 has %d entries, want 1", len(body.Accesses))
	}
}

func TestAnomaliesRejectUnknownRule(t *testing.T) {
	engine, err := detect.New(detect.Config{CustomRules: []detect.CustomRule{{Name: "every_use", Expression: `event.kind == "used"`}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) { c.Detector = engine })

	tests := []struct {
		name   string
		query  string
		status int
	}{
		{"built-in rule", "rule=rapid_ip_change", http.StatusOK},
		{"custom rule", "rule=every_use", http.StatusOK},
		{"two rules", "rule=rapid_ip_change,every_use", http.StatusOK},
		{"unknown rule", "rule=nosuch", http.StatusBadRequest},
		{"one unknown of two", "rule=rapid_ip_change&rule=nosuch", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies?"+tt.query, ts.keys.read, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET anomalies?%s = %d %s, want %d", tt.query, resp.StatusCode, data, tt.status)
			}
			if tt.status != http.StatusBadRequest {
				return
			}
			for _, want := range []string{`unknown rule \"nosuch\"`, "rapid_ip_change", "impossible_travel", "every_use"} {
				if !strings.Contains(string(data), want) {
					t.Errorf("GET anomalies?%s = %s, want it to contain %s", tt.query, data, want)
				}
			}
		})
	}
}

// TestAccessLogTargetRawToken looks up the reads of a pasted raw JWT: search
// logged them under its fingerprint, so the access log must find them there.
func TestAccessLogTargetRawToken(t *testing.T) {
	ts := newTestServer(t, nil)
	const raw = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ" // claims {"sub":"alice"}, no jti
	if resp, data := ts.do(t, http.MethodGet, "/api/v1/search?q="+url.QueryEscape(raw), ts.keys.read, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("search by raw token = %d %s, want 200", resp.StatusCode, data)
	}

	resp, data := ts.do(t, http.MethodGet, "/api/v1/access-log?target="+url.QueryEscape(raw), ts.keys.admin, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("access log of a raw token = %d %s", resp.StatusCode, data)
	}
	if strings.Contains(string(data), "eyJ") {
		t.Errorf("access log response quotes the raw token: %s", data)
	}
	var body struct{ Accesses []accessEntry }
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatal(err)
	}
	if want := audit.Fingerprint(raw); len(body.Accesses) != 1 || body.Accesses[0].Target != want {
		t.Errorf("access log of a raw token = %+v, want the one search, under fingerprint %s", body.Accesses, want)
	}
}
