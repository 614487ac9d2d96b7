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

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
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
	// The heading first, because the search results are a table of links
	// too until the hash change renders the subject page.
	tb.Wait(t, "the subject's tokens", `document.querySelector('main h1')?.textContent.startsWith('Subject') && document.querySelectorAll('main table a').length > 0`)
	var tokens []string
	tb.Eval(t, `[...document.querySelectorAll('main table a')].map((a) => a.textContent)`, &tokens)
	slices.Sort(tokens)
	if want := []string{aliceToken, aliceChild}; !slices.Equal(tokens, want) {
		t.Errorf("subject page tokens = %q, want %q", tokens, want)
	}
	tb.CheckNoLeftovers(t)
}

// searchDone returns a JavaScript expression that is true once the address
// is hash and the search page shows the outcome of the search for q. The
// outcome names q, so the page that was shown before, such as the empty
// search page, never matches.
func searchDone(hash, q string) string {
	return `location.hash === ` + strconv.Quote(hash) +
		` && (document.querySelector('#results p')?.textContent ?? '').includes(` + strconv.Quote("“"+q+"”") + `)`
}

// TestBrowserRawTokenNeverInAddress pastes raw tokens into the search,
// alone and inside the text people copy from headers, JSON and logs, both
// typed and as a link. The address, the history, every request and the page
// must hold the token's fingerprint and never any part of the token.
func TestBrowserRawTokenNeverInAddress(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "")

	const (
		jws = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
		// A JWE with direct encryption, whose encrypted key is empty.
		jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXYtaXYtaXY.Y2lwaGVydGV4dC1jaXBoZXJ0ZXh0.dGFnLXRhZy10YWc"
	)
	// secrets are the parts of the tokens that must never show: every
	// header starts with eyJ, and the last segments are long enough to
	// appear nowhere by chance.
	secrets := []string{"eyJ", "c2lnbmF0dXJl", "Y2lwaGVydGV4dC1", "dGFnLXRhZy10YWc"}
	tests := []struct {
		name, text, token string
	}{
		{"bearer", "Bearer " + jws, jws},
		{"header line", "Authorization: Bearer " + jws, jws},
		{"JSON quotes", `"` + jws + `"`, jws},
		{"trailing comma", jws + ",", jws},
		{"JSON field", `{"access_token": "` + jws + `", "token_type": "Bearer"}`, jws},
		{"query parameter", "access_token=" + jws, jws},
		{"URL-encoded dots", "https://app.example.com/cb?access_token=" + strings.ReplaceAll(jws, ".", "%2E") + "&state=x", jws},
		{"log line", `192.0.2.10 - - "GET /api/orders HTTP/1.1" 200 auth=Bearer ` + jws + ` ua=curl/8.5`, jws},
		{"sentence", "the token " + jws + ". was in the chat", jws},
		{"JWE", jwe, jwe},
		{"JWE in header line", "Authorization: Bearer " + jwe, jwe},
	}

	check := func(t *testing.T, token string) {
		t.Helper()
		fingerprint := audit.Fingerprint(token)
		wantHash := "#/?q=" + fingerprint
		tb.Wait(t, "the fingerprint's search", searchDone(wantHash, fingerprint))

		var href, html, box string
		tb.Eval(t, `location.href`, &href)
		tb.Eval(t, `document.documentElement.outerHTML`, &html)
		tb.Eval(t, `document.querySelector('#q').value`, &box)
		history, err := chromedp.Call(tb.Context(), page.GetNavigationHistory, cdp.Empty{})
		if err != nil {
			t.Fatalf("read the navigation history: %v", err)
		}
		places := map[string]string{"address": href, "page": html, "search box": box}
		for i, entry := range history.Entries {
			places[fmt.Sprintf("history entry %d", i)] = entry.URL
		}
		for i, request := range h.sent() {
			places[fmt.Sprintf("request %d", i)] = request
		}
		for place, text := range places {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("the %s holds %q, part of the raw token: %.300s", place, secret, text)
				}
			}
		}
		if !slices.Contains(h.sent(), "GET /api/v1/search?q="+fingerprint+" ") {
			t.Errorf("no request searched for the fingerprint %s; requests: %q", fingerprint, h.sent())
		}
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb.Do(t, "open an empty search", chromedp.Navigate(h.srv.URL+"/#/"))
			tb.Do(t, "search for the pasted text",
				chromedp.WaitVisible(chromedp.CSS("#q")),
				chromedp.SendKeys(chromedp.CSS("#q"), tt.text),
				chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
			check(t, tt.token)
		})
		t.Run(tt.name+" in a link", func(t *testing.T) {
			tb.Do(t, "open a link that holds the text", chromedp.Navigate(h.srv.URL+"/#/?q="+url.QueryEscape(tt.text)))
			check(t, tt.token)
		})
	}
	tb.CheckNoLeftovers(t)
}

// TestBrowserSearchKeepsPlainText checks that text shaped a little like a
// token, such as a host name that starts with "ey", is searched as typed.
func TestBrowserSearchKeepsPlainText(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "")

	for _, text := range []string{
		aliceSubject,
		"eyewear-online.shop.example.com",
		"eyJhbGciOi.x",         // two segments
		"eyJhbG.eyJzdWIi.c2ln", // a header too short to be one
	} {
		t.Run(text, func(t *testing.T) {
			tb.Do(t, "open an empty search", chromedp.Navigate(h.srv.URL+"/#/"))
			tb.Do(t, "search for the text",
				chromedp.WaitVisible(chromedp.CSS("#q")),
				chromedp.SendKeys(chromedp.CSS("#q"), text),
				chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
			wantHash := "#/?q=" + url.QueryEscape(text)
			tb.Wait(t, "the search", searchDone(wantHash, text))
			if want := "GET /api/v1/search?q=" + url.QueryEscape(text) + " "; !slices.Contains(h.sent(), want) {
				t.Errorf("no request %q; requests: %q", want, h.sent())
			}
		})
	}
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

	// Alice's token was used from 08:01 to 10:37, so three hours.
	var starts []string
	tb.Eval(t, `[...document.querySelectorAll('svg.chart rect.bar')].map((r) => r.dataset.start)`, &starts)
	if want := []string{"2026-11-20 08:00:00Z", "2026-11-20 09:00:00Z", "2026-11-20 10:00:00Z"}; !slices.Equal(starts, want) {
		t.Errorf("hourly bars start at %q, want %q: the hours from the first use to the last", starts, want)
	}
	checkTimeLayout(t, tb, "")

	// An anomaly's button marks the timeline rows of its events.
	var wantIDs, focused []string
	tb.Eval(t, `[...document.querySelectorAll('table.timeline tr.flagged')].map((tr) => tr.dataset.id).filter(Boolean)`, &wantIDs)
	tb.Do(t, "show an anomaly's events", chromedp.Click(chromedp.CSS("ul.anomalies button.show-events")))
	tb.Eval(t, `[...document.querySelectorAll('table.timeline tr.focus')].map((tr) => tr.dataset.id)`, &focused)
	if len(focused) == 0 {
		t.Error("after show events, no timeline row is marked")
	}
	for _, id := range focused {
		if !slices.Contains(wantIDs, id) {
			t.Errorf("show events marked row %s, which no anomaly names", id)
		}
	}

	var revoke bool
	tb.Eval(t, `document.getElementById('revoke') !== null`, &revoke)
	if revoke {
		t.Error("a read-only key sees the revoke button")
	}
	tb.CheckNoLeftovers(t)
}

// checkTimeLayout fails t when the text of main, less the elements that
// exclude matches, holds an RFC 3339 time, or when the page does not state
// the layout of its times exactly once.
func checkTimeLayout(t *testing.T, tb *browsertest.Tab, exclude string) {
	t.Helper()
	var rfc3339 []string
	tb.Eval(t, fmt.Sprintf(`(() => {
		const copy = document.querySelector('main').cloneNode(true);
		if (%q) copy.querySelectorAll(%q).forEach((e) => e.remove());
		return copy.textContent.match(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}[^\s]*/g) || [];
	})()`, exclude, exclude), &rfc3339)
	if len(rfc3339) > 0 {
		t.Errorf("the page shows RFC 3339 times %q besides its own layout 2026-11-20 09:03:31Z", rfc3339)
	}
	var notes []string
	tb.Eval(t, `[...document.querySelectorAll('body *')].filter((e) => e.children.length === 0 && e.offsetParent !== null && e.textContent.includes('written as')).map((e) => e.textContent)`, &notes)
	if want := "All times are in UTC, written as 2026-11-20 09:03:31Z."; len(notes) != 1 || notes[0] != want {
		t.Errorf("visible statements of the time layout = %q, want one: %q", notes, want)
	}
}

// TestBrowserUsesWithinSeconds checks that uses less than a minute apart
// are given with their span, not as a rate a minute.
func TestBrowserUsesWithinSeconds(t *testing.T) {
	h := newHarness(t)
	const quickToken = "tok-quick-1"
	var events []audit.Event
	for i := range 3 {
		events = append(events, audit.Event{
			ID: audit.NewID("webui-test-quick", strconv.Itoa(i)), Time: harnessStart.Add(time.Duration(i) * 100 * time.Millisecond),
			Kind: audit.KindUsed, TokenID: quickToken, Subject: "carol@example.com", Path: "/api/orders", Source: "webui-test-quick",
		})
	}
	if _, err := h.db.Append(context.Background(), events); err != nil {
		t.Fatalf("append the token's events: %v", err)
	}
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/token/"+quickToken)
	tb.Wait(t, "the token's usage", `document.getElementById('token-status') !== null`)

	var uses string
	tb.Eval(t, `[...document.querySelectorAll('dl.facts dt')].find((dt) => dt.textContent === 'Uses')?.nextElementSibling.textContent || ''`, &uses)

	if uses != "3 uses, all within one second" {
		t.Errorf("uses = %q, want %q", uses, "3 uses, all within one second")
	}
}

// TestBrowserHourlyChartSpans checks the chart of a token used in one hour
// only, and of one used over more than two weeks.
func TestBrowserHourlyChartSpans(t *testing.T) {
	h := newHarness(t)
	const longToken = "tok-long-1"
	var events []audit.Event
	start := harnessStart.Add(-20 * 24 * time.Hour)
	for i := range 20 * 4 {
		at := start.Add(time.Duration(i) * 6 * time.Hour)
		events = append(events, audit.Event{
			ID: audit.NewID("webui-test-long", strconv.Itoa(i)), Time: at, Kind: audit.KindUsed, TokenID: longToken,
			Subject: "carol@example.com", ExpiresAt: harnessNow.Add(time.Hour), Path: "/api/orders", Source: "webui-test-long",
		})
	}
	if _, err := h.db.Append(context.Background(), events); err != nil {
		t.Fatalf("append the long-lived token's events: %v", err)
	}
	tb := browser.NewTab(t, h.srv.URL)

	tests := []struct {
		name, token   string
		bars          int
		first, last   string
		captionPhrase string
	}{
		{"one hour", bobToken, 1, "2026-11-20 09:00:00Z", "2026-11-20 09:00:00Z", "in the one hour of use"},
		// The last use is at start + 474 h, and the chart keeps the 336
		// hours up to it. So it leaves out the uses at start + 0 to 138 h.
		{"over two weeks", longToken, 14 * 24, "2026-11-06 03:00:00Z", "2026-11-20 02:00:00Z", "leaves out 24 earlier uses, from 2026-10-31 08:00:00Z on"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if i == 0 {
				tb.SignIn(t, h.srv.URL, readKey, "#/token/"+tt.token)
			} else {
				tb.Do(t, "open the token page", chromedp.Navigate(h.srv.URL+"/#/token/"+tt.token))
			}
			tb.Wait(t, "the chart of "+tt.token, `document.querySelector('h1 .mono')?.textContent === `+strconv.Quote(tt.token)+` && document.querySelector('svg.chart') !== null`)

			var starts []string
			tb.Eval(t, `[...document.querySelectorAll('svg.chart rect.bar')].map((r) => r.dataset.start)`, &starts)
			if len(starts) == 0 {
				t.Fatalf("the chart of %s has no bar, want %d", tt.token, tt.bars)
			}
			if len(starts) != tt.bars || starts[0] != tt.first || starts[len(starts)-1] != tt.last {
				t.Fatalf("bars = %d from %q to %q, want %d from %q to %q", len(starts), starts[0], starts[len(starts)-1], tt.bars, tt.first, tt.last)
			}
			var caption string
			tb.Eval(t, `document.querySelector('.figure figcaption').textContent`, &caption)
			if !strings.Contains(caption, tt.captionPhrase) {
				t.Errorf("caption = %q, want it to say %q", caption, tt.captionPhrase)
			}
			var widest float64
			tb.Eval(t, `Math.max(...[...document.querySelectorAll('svg.chart rect.bar')].map((r) => r.width.baseVal.value))`, &widest)
			if widest > 600.0/12 {
				t.Errorf("widest bar = %.1f of 640 units, want at most a twelfth of the plot", widest)
			}
		})
	}
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
	var reason string
	tb.Eval(t, `document.querySelector('.status-reason').textContent`, &reason)
	if want := "revoked at " + harnessNow.Format(forensics.TimeLayout) + " by webui-test-admin"; reason != want {
		t.Errorf("status reason = %q, want %q", reason, want)
	}
	checkTimeLayout(t, tb, "")

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

// TestBrowserKeyRoles checks the label each key gets in the top bar, that
// keys the server lets revoke (the revoke or admin role) get the button,
// and that a key without the read role is rejected at the prompt.
func TestBrowserKeyRoles(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, key, label string
		button           bool
	}{
		{"read", readKey, "read key", false},
		{"read and revoke", revokeKey, "read + revoke key", true},
		{"admin", adminKey, "admin key", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := browser.NewTab(t, h.srv.URL)
			tb.SignIn(t, h.srv.URL, tt.key, "#/token/"+bobToken)
			tb.Wait(t, "the token status", `document.getElementById('token-status') !== null`)

			var label string
			tb.Eval(t, `document.getElementById('role').textContent`, &label)
			if label != tt.label {
				t.Errorf("role label = %q, want %q", label, tt.label)
			}
			var button bool
			tb.Eval(t, `document.getElementById('revoke') !== null`, &button)
			if button != tt.button {
				t.Errorf("revoke button shown = %v, want %v", button, tt.button)
			}
		})
	}

	t.Run("revoke key revokes", func(t *testing.T) {
		tb := browser.NewTab(t, h.srv.URL)
		tb.SignIn(t, h.srv.URL, revokeKey, "#/token/"+bobToken)
		tb.Do(t, "revoke with a reason",
			chromedp.WaitVisible(chromedp.CSS("#revoke")),
			chromedp.Click(chromedp.CSS("#revoke")),
			chromedp.WaitVisible(chromedp.CSS("#revoke-dialog")),
			chromedp.SendKeys(chromedp.CSS("#revoke-reason"), "seen in a pastebin"),
			chromedp.Click(chromedp.CSS("#revoke-confirm")))
		tb.Wait(t, "status revoked", `document.getElementById('token-status')?.textContent === 'revoked'`)
		if got := h.recorded(); len(got) != 1 || got[0].TokenID != bobToken {
			t.Errorf("revocations recorded = %+v, want one of %s", got, bobToken)
		}
	})

	t.Run("ingest key rejected", func(t *testing.T) {
		tb := browser.NewTab(t, h.srv.URL)
		tb.Do(t, "enter an ingest key",
			chromedp.Navigate(h.srv.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS("#api-key")),
			chromedp.SendKeys(chromedp.CSS("#api-key"), ingestKey),
			chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
		tb.Wait(t, "the prompt with an error", `document.querySelector('.key-form .error') !== null`)

		var message string
		tb.Eval(t, `document.querySelector('.key-form .error').textContent`, &message)
		for _, want := range []string{"the ingest role", "needs the read role"} {
			if !strings.Contains(message, want) {
				t.Errorf("prompt message = %q, want it to contain %q", message, want)
			}
		}
		var stored string
		tb.Eval(t, `sessionStorage.getItem('tokentrail.apiKey') || ''`, &stored)
		if stored != "" {
			t.Errorf("sessionStorage keeps the rejected key %q", stored)
		}
		var navHidden bool
		tb.Eval(t, `document.getElementById('nav').hidden`, &navHidden)
		if !navHidden {
			t.Error("the navigation shows for a key that cannot read")
		}
	})
}

// TestBrowserSearchStartPage checks that the empty search page lists what
// can be searched and links the tokens and subjects of the newest
// anomalies.
func TestBrowserSearchStartPage(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "")
	tb.Wait(t, "the recent tokens", `document.querySelector('#recent h2') !== null`)

	var hint string
	tb.Eval(t, `document.querySelector('ul.hint').textContent`, &hint)
	for _, want := range []string{"token id", "fingerprint", "subject", "address"} {
		if !strings.Contains(hint, want) {
			t.Errorf("hint %q does not name %q", hint, want)
		}
	}

	stored, err := h.db.Anomalies(context.Background(), store.AnomalyQuery{Newest: true, Limit: 50}) // as many as the page reads
	if err != nil {
		t.Fatal(err)
	}
	var wantTokens, wantSubjects []string
	for _, a := range stored {
		if a.TokenID != "" && !slices.Contains(wantTokens, a.TokenID) && len(wantTokens) < 5 {
			wantTokens = append(wantTokens, a.TokenID)
		}
		if a.Subject != "" && !slices.Contains(wantSubjects, a.Subject) && len(wantSubjects) < 5 {
			wantSubjects = append(wantSubjects, a.Subject)
		}
	}
	var tokens, subjects []string
	tb.Eval(t, `[...document.querySelectorAll('#recent a.recent-token')].map((a) => a.textContent)`, &tokens)
	tb.Eval(t, `[...document.querySelectorAll('#recent a.recent-subject')].map((a) => a.textContent)`, &subjects)
	if len(wantTokens) == 0 {
		t.Fatal("the stored anomalies name no token, so the test checks nothing")
	}
	if !slices.Equal(tokens, wantTokens) {
		t.Errorf("recent tokens = %q, want %q", tokens, wantTokens)
	}
	if !slices.Equal(subjects, wantSubjects) {
		t.Errorf("recent subjects = %q, want %q", subjects, wantSubjects)
	}

	tb.Do(t, "open the first token", chromedp.Click(chromedp.CSS("#recent a.recent-token")))
	tb.Wait(t, "the token page", `document.getElementById('token-status') !== null`)
	var hash string
	tb.Eval(t, `location.hash`, &hash)
	if want := "#/token/" + url.PathEscape(wantTokens[0]); hash != want {
		t.Errorf("location.hash = %q, want %q", hash, want)
	}
	tb.CheckNoLeftovers(t)
}

func TestBrowserIncidentPage(t *testing.T) {
	h := newHarness(t)
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/incident")

	tb.Do(t, "give an invalid time",
		chromedp.WaitVisible(chromedp.CSS("#incident-subject")),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), aliceSubject),
		chromedp.SetValue(chromedp.CSS("#incident-at"), "yesterday"),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), kb.Enter))
	tb.Wait(t, "the form's error", `document.getElementById('incident-form-error').textContent.includes('yesterday')`)
	var hash string
	tb.Eval(t, `location.hash`, &hash)
	if hash != "#/incident" {
		t.Errorf("after an invalid time, location.hash = %q, want #/incident", hash)
	}

	// A time as the pages print it, pasted from a timeline.
	at := harnessStart.Add(95 * time.Minute)
	tb.Do(t, "fill the incident form",
		chromedp.SetValue(chromedp.CSS("#incident-at"), at.Format(forensics.TimeLayout)),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), kb.Enter))
	tb.Wait(t, "the remediation plan", `document.querySelectorAll('.plan .step').length > 0`)
	tb.Eval(t, `location.hash`, &hash)
	if want := "at=" + url.QueryEscape(at.Format(time.RFC3339)); !strings.Contains(hash, want) {
		t.Errorf("location.hash = %q, want it to hold %s", hash, want)
	}
	var shown string
	tb.Eval(t, `document.getElementById('incident-at').value`, &shown)
	if want := at.Format(forensics.TimeLayout); shown != want {
		t.Errorf("time field = %q, want %q", shown, want)
	}
	// The plan's commands take RFC 3339, as the revoke flags do.
	checkTimeLayout(t, tb, ".plan .command")

	var marked int
	tb.Do(t, "show an anomaly's events", chromedp.Click(chromedp.CSS("ul.anomalies button.show-events")))
	tb.Eval(t, `document.querySelectorAll('table.timeline tr.focus').length`, &marked)
	if marked == 0 {
		t.Error("after show events on the incident page, no timeline row is marked")
	}

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

// TestBrowserLiveStoreReplaced replaces the store under an open live list
// with one whose last position is below the page's. The page must load the
// new store's anomalies again instead of polling in vain.
func TestBrowserLiveStoreReplaced(t *testing.T) {
	h := newHarness(t)
	stored, err := h.db.Anomalies(context.Background(), store.AnomalyQuery{})
	if err != nil {
		t.Fatal(err)
	}
	// A second anomaly puts the page's position above that of a store of
	// one.
	second := stored[0]
	second.ID = "second-anomaly"
	if _, err := h.db.AppendAnomalies(context.Background(), []audit.Anomaly{second}); err != nil {
		t.Fatalf("append anomaly: %v", err)
	}
	tb := browser.NewTab(t, h.srv.URL)
	tb.SignIn(t, h.srv.URL, readKey, "#/anomalies")
	tb.Wait(t, "the first check", `document.getElementById('live-state')?.textContent.includes('checking every')`)

	replacement := stored[0]
	replacement.ID = "replacement-anomaly"
	replacement.Summary = "stored in the rebuilt store"
	h.replaceAnomalyStore(t, []audit.Anomaly{replacement})
	tb.Wait(t, "the rebuilt store's anomaly", `document.querySelector('#live-rows tr[data-id="replacement-anomaly"]') !== null`)

	var ids []string
	tb.Eval(t, `[...document.querySelectorAll('#live-rows tr')].map((r) => r.dataset.id)`, &ids)
	if len(ids) != 1 {
		t.Errorf("rows after the store was replaced = %v, want only the rebuilt store's anomaly", ids)
	}
	var notice, state string
	tb.Eval(t, `document.getElementById('live-notice')?.textContent || ''`, &notice)
	if !strings.Contains(notice, "rebuilt or replaced") {
		t.Errorf("notice = %q, want it to say the server's store was rebuilt or replaced", notice)
	}
	tb.Eval(t, `document.getElementById('live-state').textContent`, &state)
	if strings.Contains(state, "position_past_end") {
		t.Errorf("live state = %q, want the list loaded again, not the error", state)
	}
	tb.CheckNoLeftovers(t)
}

// TestBrowserLiveSeverityFilter opens the live list with a severity filter
// and checks that the page calls it a minimum, as the server applies it.
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
		{"time layout", `getComputedStyle(document.getElementById('time-note')).display`, "block"},
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
