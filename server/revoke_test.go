package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// TestRevokeWarnsUnknownTarget checks that a revocation whose target no
// stored event names is recorded with a warning, as tokentrail revoke
// prints one, and a known target gets none.
func TestRevokeWarnsUnknownTarget(t *testing.T) {
	ts := newTestServer(t, nil)
	session := usedEvent("tok-1", "alice", 0)
	session.SessionID = "sid-1"
	root := audit.Event{ID: "i-root", Time: now.Add(-2 * time.Hour), Kind: audit.KindIssued, TokenID: "rt-1", Subject: "alice"}
	if resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{session, root})); resp.StatusCode != http.StatusOK {
		t.Fatalf("POST events = %d %s", resp.StatusCode, data)
	}

	tests := []struct {
		name    string
		body    string
		code    string
		message string
	}{
		{"unknown token", `{"scope":"token","target":"tok-typo","reason":"r"}`, warnUnknownTarget, `no event of token "tok-typo" is stored`},
		{"unknown family", `{"scope":"family","target":"rt-typo","reason":"r"}`, warnUnknownTarget, `no event of token "rt-typo" is stored, so no refresh family is known to start at it`},
		{"unknown session", `{"scope":"session","target":"sid-typo","reason":"r"}`, warnUnknownTarget, `no event of session "sid-typo" is stored`},
		{"unknown subject", `{"scope":"subject","target":"alice-typo","reason":"r"}`, warnUnknownTarget, `no event of subject "alice-typo" is stored`},
		{"known token", `{"scope":"token","target":"tok-1","reason":"r"}`, "", ""},
		{"known family", `{"scope":"family","target":"rt-1","reason":"r"}`, "", ""},
		{"known session", `{"scope":"session","target":"sid-1","reason":"r"}`, "", ""},
		{"known subject", `{"scope":"subject","target":"alice","reason":"r"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(tt.body))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("revoke %s = %d %s, want 201", tt.body, resp.StatusCode, data)
			}
			var res revokeResponse
			if err := json.Unmarshal(data, &res); err != nil {
				t.Fatal(err)
			}
			if res.Warnings == nil {
				t.Fatalf("revoke %s = %s, want a warnings array", tt.body, data)
			}
			if tt.code == "" {
				if len(res.Warnings) != 0 {
					t.Errorf("revoke %s warnings = %+v, want none", tt.body, res.Warnings)
				}
				return
			}
			if len(res.Warnings) != 1 || res.Warnings[0].Code != tt.code || !strings.Contains(res.Warnings[0].Message, tt.message) {
				t.Errorf("revoke %s warnings = %+v, want one %s containing %q", tt.body, res.Warnings, tt.code, tt.message)
			}
		})
	}
}

// TestRevokeForcedFamilyWarns checks that a family revocation forced past
// the root check warns that it covers the named token only.
func TestRevokeForcedFamilyWarns(t *testing.T) {
	ts := newTestServer(t, nil)
	root := audit.Event{ID: "i-root", Time: now.Add(-2 * time.Hour), Kind: audit.KindIssued, TokenID: "rt-1", Subject: "alice"}
	child := audit.Event{ID: "i-child", Time: now.Add(-time.Hour), Kind: audit.KindIssued, TokenID: "rt-2", ParentTokenID: "rt-1", Subject: "alice"}
	ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{root, child}))

	resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(`{"scope":"family","target":"rt-2","reason":"reuse","force":true}`))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("revoke family rt-2 with force = %d %s, want 201", resp.StatusCode, data)
	}
	var res revokeResponse
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Code != warnNotFamilyRoot || !strings.Contains(res.Warnings[0].Message, `which starts at "rt-1"`) {
		t.Errorf("warnings = %+v, want one %s naming the root rt-1", res.Warnings, warnNotFamilyRoot)
	}
}

// TestRevokeBodyErrors checks that each malformed revocation body gets an
// error that names what to send.
func TestRevokeBodyErrors(t *testing.T) {
	ts := newTestServer(t, nil)
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty", "", "empty body: send a JSON object such as"},
		{"array", `[{"scope":"token"}]`, "the body is a JSON array, but it must be a JSON object"},
		{"unknown field", `{"scope":"token","target":"x","reason":"r","jti":"x"}`, `unknown field \"jti\": a revocation has the fields scope, target, reason`},
		{"time format", `{"scope":"subject","target":"alice","reason":"r","issued_before":"yesterday"}`, `field \"issued_before\" is not an RFC 3339 time`},
		{"force type", `{"scope":"family","target":"rt-1","reason":"r","force":"yes"}`, `field \"force\" is not true or false: got \"yes\"`},
		{"cut", `{"scope":"token","target":"x"`, "the body ends inside its JSON value, as if it was cut short"},
		{"space around target", `{"scope":"token","target":" tok-1","reason":"r"}`, `invalid target \" tok-1\": it has space at its start or end`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(tt.body))
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), tt.want) {
				t.Errorf("revoke %q = %d %s, want 400 containing %q", tt.body, resp.StatusCode, data, tt.want)
			}
		})
	}
}

// TestRevokeForcedTargetWithSpace checks that force records a target with
// space around it as given, as tokentrail revoke --force does.
func TestRevokeForcedTargetWithSpace(t *testing.T) {
	ts := newTestServer(t, nil)

	resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin,
		[]byte(`{"scope":"token","target":" tok-1","reason":"r","force":true}`))

	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(data), `"token_id":" tok-1"`) {
		t.Errorf("forced revoke = %d %s, want 201 with the target as given", resp.StatusCode, data)
	}
}

// TestRevokeInvalidNamesRequestField checks that a revocation that fails
// validation names the request's key, not the event's Go field.
func TestRevokeInvalidNamesRequestField(t *testing.T) {
	ts := newTestServer(t, nil)
	body := `{"scope":"subject","target":"` + strings.Repeat("a", 9000) + `","reason":"r"}`
	resp, data := ts.do(t, http.MethodPost, "/api/v1/revocations", ts.keys.admin, []byte(body))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), `field \"target\" is longer than 8 KiB`) {
		t.Errorf("revoke with a 9,000-byte target = %d %s, want 400 naming field target", resp.StatusCode, data)
	}
	if strings.Contains(string(data), "Subject") || len(data) > 1000 {
		t.Errorf("revoke with a 9,000-byte target = %s, want no Go field name and the value cut", data)
	}
}
