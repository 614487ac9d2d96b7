package webui_test

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/browsertest"
	"github.com/tokentrail/tokentrail/store"
)

var screenshots = flag.String("screenshots", "", "write PNG screenshots of the main pages to this folder (TestScreenshots)")

// browser is the headless Chromium of every test in this package.
var browser *browsertest.Browser

func TestMain(m *testing.M) {
	flag.Parse()
	browser = browsertest.Start()
	code := m.Run()
	browser.Close()
	os.Exit(code)
}

func TestBrowserSearchToSubjectTokens(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "")

	tb.Do(t, "search for alice",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), aliceSubject),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	tb.Wait(t, "results", `document.querySelectorAll('#results a.result').length > 0`)

	var values []string
	tb.Eval(t, `[...document.querySelectorAll('#results a.result')].map((a) => a.textContent)`, &values)
	if len(values) != 1 || values[0] != aliceSubject {
		t.Fatalf("search results = %q, want only the subject %q", values, aliceSubject)
	}
	var hash string
	tb.Eval(t, `location.hash`, &hash)
	if want := "#/?q=" + url.QueryEscape(aliceSubject); hash != want {
		t.Errorf("location.hash = %q, want %q so that the search is linkable", hash, want)
	}

	tb.Do(t, "open the subject", chromedp.Click(chromedp.CSS("#results a.result")))
	tb.Wait(t, "the subject's tokens", `document.querySelectorAll('main table a').length > 0`)
	var tokens []string
	tb.Eval(t, `[...document.querySelectorAll('main table a')].map((a) => a.textContent)`, &tokens)
	slices.Sort(tokens)
	if want := []string{aliceToken, aliceChild}; !slices.Equal(tokens, want) {
		t.Errorf("subject page tokens = %q, want %q", tokens, want)
	}
	tb.CheckNoLeftovers(t)
}

// TestBrowserRawTokenNeverInAddress pastes a raw token into the search,
// typed and as a link, and checks that the address, the history and the
// page hold its fingerprint and never the token.
func TestBrowserRawTokenNeverInAddress(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "")
	const token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	wantHash := "#/?q=" + audit.Fingerprint(token)

	check := func(t *testing.T) {
		t.Helper()
		tb.Wait(t, "the fingerprint's search", `location.hash === `+strconv.Quote(wantHash)+` && document.querySelector('#results p') !== null && !document.querySelector('#results p').textContent.startsWith('Searching')`)
		var leaked bool
		tb.Eval(t, `location.href.includes('eyJ') || document.body.innerText.includes('eyJ') || document.querySelector('#q').value.includes('eyJ')`, &leaked)
		if leaked {
			t.Errorf("the raw token shows in the address, the page or the search box")
		}
	}

	tb.Do(t, "search for a raw token",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "Bearer "+token),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	check(t)

	tb.Do(t, "open a link that holds a raw token", chromedp.Navigate(h.srv.URL+"/#/?q="+token))
	check(t)
	tb.CheckNoLeftovers(t)
}

func TestBrowserTokenPage(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/token/"+aliceToken)
	tb.Wait(t, "the token status", `document.getElementById('token-status') !== null`)
	tb.Wait(t, "the map outlines", `document.querySelectorAll('svg.map .land path').length > 100`)
	tb.Wait(t, "the related tokens", `document.querySelector('#related table') !== null`)

	var status string
	tb.Eval(t, `document.getElementById('token-status').textContent`, &status)
	if status != "active" {
		t.Errorf("status = %q, want active", status)
	}

	counts := map[string]string{
		"hourly bars":              `svg.chart rect.bar`,
		"hourly bars with anomaly": `svg.chart rect.bar.flagged`,
		"map points":               `svg.map circle.point`,
		"flagged map points":       `svg.map circle.point.flagged`,
		"anomalies":                `ul.anomalies li`,
		"flagged timeline rows":    `table.timeline tr.flagged`,
		"lineage link to child":    `a[href="#/token/` + aliceChild + `"]`,
		"related link to child":    `#related a[href="#/token/` + aliceChild + `"]`,
	}
	for name, selector := range counts {
		var n int
		tb.Eval(t, fmt.Sprintf(`document.querySelectorAll(%q).length`, selector), &n)
		if n == 0 {
			t.Errorf("%s (%s): none on the page", name, selector)
		}
	}
	var points int
	tb.Eval(t, `document.querySelectorAll('svg.map circle.point').length`, &points)
	if points != 2 {
		t.Errorf("map points = %d, want 2 (Paris and Sydney)", points)
	}
	var timelineRows int
	tb.Eval(t, `document.querySelectorAll('table.timeline tbody tr').length`, &timelineRows)
	if timelineRows != 1+40+24 {
		t.Errorf("timeline rows = %d, want %d (the issuance and every use)", timelineRows, 1+40+24)
	}

	var revoke bool
	tb.Eval(t, `document.getElementById('revoke') !== null`, &revoke)
	if revoke {
		t.Error("a read-only key sees the revoke button")
	}
	tb.CheckNoLeftovers(t)
}

func TestBrowserHTMLInDataIsText(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/token/"+xssToken)
	tb.Wait(t, "the token page", `document.querySelectorAll('table.timeline tbody tr').length > 0`)

	var text string
	tb.Eval(t, `document.querySelector('main').textContent`, &text)
	for _, want := range []string{xssSubject, xssAgent, "/api/<b>x</b>"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q as text", want)
		}
	}
	var images, scripts, bold int
	tb.Eval(t, `document.querySelectorAll('main img').length`, &images)
	tb.Eval(t, `document.querySelectorAll('script').length`, &scripts)
	tb.Eval(t, `document.querySelectorAll('main b').length`, &bold)
	if images != 0 || bold != 0 {
		t.Errorf("main holds %d img and %d b elements, want none: data was parsed as HTML", images, bold)
	}
	if scripts != 1 {
		t.Errorf("the document holds %d script elements, want only the app's module", scripts)
	}

	// The same subject on the subject page and in the search results.
	tb.Do(t, "search for the subject", chromedp.Navigate(h.srv.URL+"/#/?q="+url.QueryEscape(xssSubject)))
	tb.Wait(t, "results", `document.querySelectorAll('#results a.result').length > 0`)
	tb.Eval(t, `document.getElementById('results').textContent`, &text)
	if !strings.Contains(text, xssSubject) {
		t.Errorf("search results %q lack the subject as text", text)
	}
	tb.Eval(t, `document.querySelectorAll('main img').length`, &images)
	if images != 0 {
		t.Errorf("search results hold %d img elements, want none", images)
	}
}

func TestBrowserRevokeFlow(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, adminKey, "")

	// search → token page → revoke → status revoked
	tb.Do(t, "search for the token",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), bobToken),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	tb.Wait(t, "the result", `document.querySelector('#results a.result') !== null`)
	tb.Do(t, "open the token page", chromedp.Click(chromedp.CSS(`#results a.result`)))
	tb.Wait(t, "the revoke button", `document.getElementById('revoke') !== null`)

	var status string
	tb.Eval(t, `document.getElementById('token-status').textContent`, &status)
	if status != "active" {
		t.Fatalf("status before revoking = %q, want active", status)
	}

	// Confirming without a reason records nothing.
	tb.Do(t, "open the dialog", chromedp.Click(chromedp.CSS("#revoke")), chromedp.WaitVisible(chromedp.CSS("#revoke-dialog")))
	tb.Do(t, "confirm without a reason", chromedp.Click(chromedp.CSS("#revoke-confirm")))
	var open bool
	tb.Eval(t, `document.getElementById('revoke-dialog').open`, &open)
	if !open || len(h.recorded()) != 0 {
		t.Fatalf("after confirming without a reason: dialog open = %v, revocations = %d, want open and none", open, len(h.recorded()))
	}

	tb.Do(t, "give a reason and confirm",
		chromedp.SendKeys(chromedp.CSS("#revoke-reason"), "laptop stolen"),
		chromedp.Click(chromedp.CSS("#revoke-confirm")))
	tb.Wait(t, "status revoked", `document.getElementById('token-status')?.textContent === 'revoked'`)

	got := h.recorded()
	if len(got) != 1 {
		t.Fatalf("revocations recorded = %d, want 1", len(got))
	}
	if got[0].TokenID != bobToken || got[0].Reason != "laptop stolen" {
		t.Errorf("revocation = token %q, reason %q, want %q, %q", got[0].TokenID, got[0].Reason, bobToken, "laptop stolen")
	}
	var revoke bool
	tb.Eval(t, `document.getElementById('revoke') !== null`, &revoke)
	if revoke {
		t.Error("the revoke button is still shown for a revoked token")
	}
}

func TestBrowserIncidentPage(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/incident")

	at := harnessStart.Add(95 * time.Minute).Format(time.RFC3339)
	tb.Do(t, "fill the incident form",
		chromedp.WaitVisible(chromedp.CSS("#incident-subject")),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), aliceSubject),
		chromedp.SetValue(chromedp.CSS("#incident-at"), at),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), kb.Enter))
	tb.Wait(t, "the remediation plan", `document.querySelectorAll('.plan .step').length > 0`)

	var commands []string
	tb.Eval(t, `[...document.querySelectorAll('.plan .command code')].map((c) => c.textContent)`, &commands)
	if len(commands) == 0 {
		t.Fatal("the plan shows no command to copy")
	}
	if !strings.Contains(strings.Join(commands, "\n"), "198.51.100.0/24") {
		t.Errorf("plan commands %q name no step against the script's network 198.51.100.0/24", commands)
	}
	var flagged, buttons int
	tb.Eval(t, `document.querySelectorAll('table.timeline tr.flagged').length`, &flagged)
	tb.Eval(t, `document.querySelectorAll('.plan button.copy').length`, &buttons)
	if flagged == 0 {
		t.Error("no timeline row is marked as coming from a suspicious network")
	}
	if buttons != len(commands) {
		t.Errorf("copy buttons = %d, want one for each of the %d commands", buttons, len(commands))
	}
	tb.CheckNoLeftovers(t)
}

func TestBrowserLiveAnomalies(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/anomalies")
	tb.Wait(t, "the first anomalies", `document.querySelectorAll('#live-rows tr').length > 0`)

	var before int
	tb.Eval(t, `document.querySelectorAll('#live-rows tr').length`, &before)
	stored, err := h.db.Anomalies(context.Background(), store.AnomalyQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if before != len(stored) {
		t.Errorf("rows on load = %d, want the %d stored anomalies", before, len(stored))
	}

	newer := stored[len(stored)-1]
	newer.ID = "live-test-anomaly"
	newer.Time = newer.Time.Add(time.Minute)
	newer.Summary = "raised while the page was open"
	if _, err := h.db.AppendAnomalies(context.Background(), []audit.Anomaly{newer}); err != nil {
		t.Fatalf("append anomaly: %v", err)
	}
	tb.Wait(t, "the new anomaly", `document.querySelector('#live-rows tr[data-id="live-test-anomaly"]') !== null`)

	var first string
	tb.Eval(t, `document.querySelector('#live-rows tr').dataset.id`, &first)
	if first != newer.ID {
		t.Errorf("first row = %q, want the new anomaly on top", first)
	}

	// Raised over events imported late: older than every anomaly shown.
	late := stored[0]
	late.ID = "late-test-anomaly"
	late.Time = stored[0].Time.Add(-time.Hour)
	late.Summary = "raised late over old events"
	if _, err := h.db.AppendAnomalies(context.Background(), []audit.Anomaly{late}); err != nil {
		t.Fatalf("append anomaly: %v", err)
	}
	tb.Wait(t, "the late anomaly", `document.querySelector('#live-rows tr[data-id="late-test-anomaly"]') !== null`)
	tb.Eval(t, `document.querySelector('#live-rows tr').dataset.id`, &first)
	if first != late.ID {
		t.Errorf("first row = %q, want the late anomaly on top, as the last stored", first)
	}

	var after int
	tb.Eval(t, `document.querySelectorAll('#live-rows tr').length`, &after)
	if after != before+2 {
		t.Errorf("rows after the polls = %d, want %d: each anomaly once", after, before+2)
	}
	tb.CheckNoLeftovers(t)
}

// TestBrowserLiveSeverityFilter opens the live list with a severity filter
// and checks that the page says it is a minimum, as the server applies it.
func TestBrowserLiveSeverityFilter(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/anomalies?severity=medium")
	tb.Wait(t, "the first check", `document.getElementById('live-state')?.textContent.includes('checking every')`)

	var text string
	tb.Eval(t, `document.querySelector('main').innerText`, &text)
	if !strings.Contains(text, "severity medium or higher") {
		t.Errorf("the live page does not say the severity filter is a minimum:\n%s", text)
	}
	var severities []string
	tb.Eval(t, `[...document.querySelectorAll('#live-rows .severity')].map((s) => s.textContent)`, &severities)
	for _, s := range severities {
		if s == "low" {
			t.Errorf("a low anomaly is listed under severity=medium")
		}
	}
}

func TestBrowserRejectedKeyAsksAgain(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.Do(t, "enter a wrong key",
		chromedp.Navigate(h.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#api-key")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), "not-a-key"),
		chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
	tb.Wait(t, "the prompt with an error", `document.querySelector('.key-form .error') !== null`)

	var stored string
	tb.Eval(t, `sessionStorage.getItem('tokentrail.apiKey') || ''`, &stored)
	if stored != "" {
		t.Errorf("sessionStorage keeps the rejected key %q", stored)
	}
}

func TestBrowserPrintLayout(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/token/"+aliceToken)
	tb.Wait(t, "the timeline", `document.querySelectorAll('table.timeline tbody tr').length > 0`)
	if _, err := chromedp.Call(tb.Context(), emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatalf("emulate print media: %v", err)
	}

	checks := []struct {
		name, expression, want string
	}{
		{"header", `getComputedStyle(document.querySelector('header.top')).display`, "none"},
		{"buttons", `getComputedStyle(document.querySelector('#sign-out')).display`, "none"},
		{"timeline box height", `getComputedStyle(document.querySelector('.scroll')).maxHeight`, "none"},
		{"timeline box overflow", `getComputedStyle(document.querySelector('.scroll')).overflowY`, "visible"},
		{"chart", `getComputedStyle(document.querySelector('svg.chart')).display`, "block"},
		{"map", `getComputedStyle(document.querySelector('svg.map')).display`, "block"},
	}
	for _, c := range checks {
		var got string
		tb.Eval(t, c.expression, &got)
		if got != c.want {
			t.Errorf("in print, %s: %s = %q, want %q", c.name, c.expression, got, c.want)
		}
	}
}

// TestScreenshots writes the screenshots of docs/ui.md when -screenshots
// names a folder:
//
//	go test ./webui -run TestScreenshots -screenshots ../docs/images
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("skipping: -screenshots names no folder to write to")
	}
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, adminKey, "")

	at := harnessStart.Add(95 * time.Minute).Format(time.RFC3339)
	pages := []struct {
		file, fragment, ready string
	}{
		{"ui-search.png", "#/?q=" + url.QueryEscape(aliceSubject), `document.querySelectorAll('#results a.result').length > 0`},
		{"ui-token.png", "#/token/" + aliceToken, `document.querySelectorAll('svg.map .land path').length > 100`},
		{"ui-incident.png", "#/incident?subject=" + url.QueryEscape(aliceSubject) + "&at=" + url.QueryEscape(at) + "&window=24h",
			`document.querySelectorAll('.plan .step').length > 0`},
	}
	for _, p := range pages {
		tb.Do(t, "open "+p.fragment, chromedp.Navigate(h.srv.URL+"/"+p.fragment))
		tb.Wait(t, p.file, p.ready)
		png, err := chromedp.Run(tb.Context(), chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", p.file, err)
		}
		path := filepath.Join(*screenshots, p.file)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatalf("write screenshot: %v", err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(png))
	}
}
