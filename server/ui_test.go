package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/browsertest"
	"github.com/tokentrail/tokentrail/webui"
)

// TestUIRevokeFlow drives the web UI in headless Chromium against the
// real server: search → token page → revoke → status revoked. It skips
// without Chromium unless TOKENTRAIL_CHROMIUM is set.
func TestUIRevokeFlow(t *testing.T) {
	browser := browsertest.Start()
	defer browser.Close()
	ts := newTestServer(t, func(c *Config) { c.UI = webui.Handler() })
	resp, data := ts.do(t, http.MethodPost, "/api/v1/events", ts.keys.ingest, mustJSON(t, []audit.Event{
		usedEvent("tok-ui-1", "alice", 0), usedEvent("tok-ui-1", "alice", 1), usedEvent("tok-ui-2", "alice", 2),
	}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest = %d %s", resp.StatusCode, data)
	}

	tab := browser.NewTab(t, ts.URL)
	tab.SignIn(t, ts.URL, ts.keys.admin, "")
	tab.Do(t, "search for the token",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "tok-ui-1"),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	tab.Wait(t, "the search result", `document.querySelector('#results a.result') !== null`)
	var results []string
	tab.Eval(t, `[...document.querySelectorAll('#results a.result')].map((a) => a.textContent)`, &results)
	if len(results) != 1 || results[0] != "tok-ui-1" {
		t.Fatalf("search results = %q, want only tok-ui-1", results)
	}

	tab.Do(t, "open the token page", chromedp.Click(chromedp.CSS("#results a.result")))
	tab.Wait(t, "the revoke button", `document.getElementById('revoke') !== null`)
	var status string
	tab.Eval(t, `document.getElementById('token-status').textContent`, &status)
	if status != "active" {
		t.Fatalf("status before revoking = %q, want active", status)
	}

	tab.Do(t, "revoke with a reason",
		chromedp.Click(chromedp.CSS("#revoke")),
		chromedp.WaitVisible(chromedp.CSS("#revoke-dialog")),
		chromedp.SendKeys(chromedp.CSS("#revoke-reason"), "seen in a pastebin"),
		chromedp.Click(chromedp.CSS("#revoke-confirm")))
	tab.Wait(t, "status revoked", `document.getElementById('token-status')?.textContent === 'revoked'`)

	var reason string
	tab.Eval(t, `document.querySelector('.status-reason').textContent`, &reason)
	if !strings.Contains(reason, "by oncall") {
		t.Errorf("status reason = %q, want the admin key's name, oncall, as the actor", reason)
	}
	revoked, _, err := ts.db.Revocations(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 {
		t.Fatalf("revocations stored = %d, want 1", len(revoked))
	}
	if got := revoked[0]; got.TokenID != "tok-ui-1" || got.Reason != "seen in a pastebin" || got.Actor != "oncall" {
		t.Errorf("revocation = token %q, reason %q, actor %q, want tok-ui-1, %q, oncall (the admin key's name)",
			got.TokenID, got.Reason, got.Actor, "seen in a pastebin")
	}
	tab.CheckNoLeftovers(t)
}

// TestUILiveAnomaliesAfter opens the web UI's live list against the real
// server, stores an anomaly older than every one shown, as detection over
// events imported late does, and waits for the list to show it.
func TestUILiveAnomaliesAfter(t *testing.T) {
	browser := browsertest.Start()
	defer browser.Close()
	ts := newTestServer(t, func(c *Config) { c.UI = webui.Handler() })
	anomaly := func(id string, age time.Duration) audit.Anomaly {
		return audit.Anomaly{ID: id, Rule: "rapid_ip_change", Severity: audit.SeverityHigh, Time: now.Add(-age),
			TokenID: "tok-ui-1", Subject: "alice", EventIDs: []string{"e1"}, Summary: "the token moved between networks"}
	}
	if _, err := ts.db.AppendAnomalies(t.Context(), []audit.Anomaly{anomaly("shown-1", time.Minute), anomaly("shown-2", 2*time.Minute)}); err != nil {
		t.Fatal(err)
	}

	tab := browser.NewTab(t, ts.URL)
	tab.SignIn(t, ts.URL, ts.keys.read, "#/anomalies")
	tab.Wait(t, "the first anomalies", `document.querySelectorAll('#live-rows tr').length === 2`)

	if _, err := ts.db.AppendAnomalies(t.Context(), []audit.Anomaly{anomaly("stored-late", 3*time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tab.Wait(t, "the anomaly stored late", `document.querySelector('#live-rows tr')?.dataset.id === 'stored-late'`)
	var rows int
	tab.Eval(t, `document.querySelectorAll('#live-rows tr').length`, &rows)
	if rows != 3 {
		t.Errorf("rows = %d, want 3: each anomaly once", rows)
	}
	tab.CheckNoLeftovers(t)
}

// TestUIRejectsKeysThatCannotRead checks, against the real server's GET
// /api/v1/key, that the key prompt rejects a key without the read role
// and names the roles it has.
func TestUIRejectsKeysThatCannotRead(t *testing.T) {
	browser := browsertest.Start()
	defer browser.Close()
	ts := newTestServer(t, func(c *Config) { c.UI = webui.Handler() })

	tests := []struct {
		name, key, roles string
	}{
		{"ingest", ts.keys.ingest, "the ingest role,"},
		{"ingest and revoke", ts.keys.tokenService, "the ingest and revoke roles,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := browser.NewTab(t, ts.URL)
			tab.Do(t, "enter the key",
				chromedp.Navigate(ts.URL+"/"),
				chromedp.WaitVisible(chromedp.CSS("#api-key")),
				chromedp.SendKeys(chromedp.CSS("#api-key"), tt.key),
				chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
			tab.Wait(t, "the prompt with an error", `document.querySelector('.key-form .error') !== null`)

			var message string
			tab.Eval(t, `document.querySelector('.key-form .error').textContent`, &message)
			for _, want := range []string{tt.roles, "needs the read role"} {
				if !strings.Contains(message, want) {
					t.Errorf("prompt message = %q, want it to contain %q", message, want)
				}
			}
			var stored string
			tab.Eval(t, `sessionStorage.getItem('tokentrail.apiKey') || ''`, &stored)
			if stored != "" {
				t.Error("sessionStorage keeps the rejected key")
			}
		})
	}
}
