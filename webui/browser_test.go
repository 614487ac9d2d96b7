package webui_test

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// The browser tests drive a real headless Chromium. Without one on PATH
// they skip, unless TOKENTRAIL_CHROMIUM is set (CI sets it), in which case
// a missing or failing browser fails them. TOKENTRAIL_CHROMIUM may also
// name the browser's executable.

var screenshots = flag.String("screenshots", "", "write PNG screenshots of the main pages to this folder (TestScreenshots)")

var browser struct {
	ctx  context.Context // the allocator, shared by the tabs of every test
	path string
	err  error // why no browser is available
}

func TestMain(m *testing.M) {
	flag.Parse()
	cancel := startBrowser()
	code := m.Run()
	cancel()
	os.Exit(code)
}

// startBrowser finds Chromium and starts it once for the whole run.
func startBrowser() context.CancelFunc {
	path := os.Getenv("TOKENTRAIL_CHROMIUM")
	if path == "" || path == "1" || path == "true" {
		path = ""
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		browser.err = fmt.Errorf("no chromium, chromium-browser or google-chrome on PATH (apt-get install -y chromium)")
		return func() {}
	}
	browser.path = path

	dir, err := os.MkdirTemp("", "webui-chromium-")
	if err != nil {
		browser.err = fmt.Errorf("create the browser's profile folder: %w", err)
		return func() {}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.WindowSize(1366, 768),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// The first call starts the browser, which lives as long as the
	// context of that call, so that context has no timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		browser.err = fmt.Errorf("start %s: %w", path, err)
	}
	browser.ctx = browserCtx
	return func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(dir) // a leftover temporary profile harms no later run
	}
}

// tab is one browser tab with what it saw: every URL it requested and
// every console error, uncaught exception or dialog.
type tab struct {
	ctx context.Context

	mu       sync.Mutex
	requests []string
	problems []string
}

// newTab opens a tab, or skips the test when no browser is available and
// TOKENTRAIL_CHROMIUM is unset. When the test ends it fails on a request
// to another origin than origin and on any console error.
func newTab(t *testing.T, origin string) *tab {
	t.Helper()
	if browser.err != nil {
		if os.Getenv("TOKENTRAIL_CHROMIUM") == "" && browser.path == "" {
			t.Skipf("skipping the browser test: %v; set TOKENTRAIL_CHROMIUM to fail instead", browser.err)
		}
		t.Fatalf("TOKENTRAIL_CHROMIUM is set or a browser is installed, but it cannot run: %v", browser.err)
	}
	tb := &tab{}
	tabCtx, cancelTab := chromedp.NewContext(browser.ctx, chromedp.WithListener(tb.record))
	// The first call opens the tab, which closes with the context of that
	// call, so the timeout goes on a context derived after it.
	err := chromedp.Do(tabCtx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, log.Enable, cdp.Empty{})
		return chromedp.Void{}, err
	}, chromedp.EmulateViewport(1366, 768))
	ctx, cancel := context.WithTimeout(tabCtx, 90*time.Second)
	tb.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelTab()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, u := range tb.requests {
			if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") {
				t.Errorf("the page requested %s, outside its origin %s", u, origin)
			}
		}
		for _, p := range tb.problems {
			t.Errorf("browser reported: %s", p)
		}
	})
	if err != nil {
		t.Fatalf("open a tab in %s: %v", browser.path, err)
	}
	return tb
}

// record keeps what the tab reports. It runs in the loop that reads the
// tab's messages, so it only appends.
func (tb *tab) record(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.requests = append(tb.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		detail := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			detail += " " + ev.ExceptionDetails.Exception.Description
		}
		tb.problems = append(tb.problems, "uncaught exception: "+detail)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, arg := range ev.Args {
				parts = append(parts, cmp.Or(arg.Description, string(arg.Value)))
			}
			tb.problems = append(tb.problems, "console error: "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// Content-Security-Policy violations are logged here. A 401 that
		// a test asks for on purpose is logged as a failed network
		// request too, so those are left out.
		if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			tb.problems = append(tb.problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *page.EventJavascriptDialogOpening:
		// The dialog stays open and blocks the page, so the test times
		// out and then reports this.
		tb.problems = append(tb.problems, "a JavaScript dialog opened: "+ev.Message)
	}
}

func (tb *tab) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wait polls the JavaScript expression until it is true.
func (tb *tab) wait(t *testing.T, what, expression string) {
	t.Helper()
	poll := chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
	if _, err := chromedp.Run(tb.ctx, poll); err != nil {
		body, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`)) // for the message only
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expression, err, body)
	}
}

// eval stores the value of the JavaScript expression in result, by way of
// its JSON form.
func (tb *tab) eval(t *testing.T, expression string, result any) {
	t.Helper()
	encoded, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string]("JSON.stringify("+expression+")"))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	if err := json.Unmarshal([]byte(encoded), result); err != nil {
		t.Fatalf("decode the value of %s (%s): %v", expression, encoded, err)
	}
}

// checkNoLeftovers fails when the page shows what JavaScript prints for a
// missing value, such as a field the page expected and the JSON lacked.
func (tb *tab) checkNoLeftovers(t *testing.T) {
	t.Helper()
	var found []string
	tb.eval(t, `document.querySelector('main').innerText.match(/\b(null|undefined|NaN)\b|\[object Object\]/g) || []`, &found)
	if len(found) > 0 {
		t.Errorf("the page shows %q", found)
	}
}

// signIn opens the UI at fragment (such as "#/token/x") and enters key.
func (tb *tab) signIn(t *testing.T, h *harness, key, fragment string) {
	t.Helper()
	tb.run(t, "open the key prompt",
		chromedp.Navigate(h.srv.URL+"/"+fragment),
		chromedp.WaitVisible(chromedp.CSS("#api-key")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), key),
		chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
	tb.wait(t, "the navigation after sign-in", `!document.getElementById('nav').hidden`)
}

func TestBrowserSearchFindsToken(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "")

	tb.run(t, "search for alice",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), aliceSubject),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	tb.wait(t, "results", `document.querySelectorAll('#results a.result').length > 0`)

	var values []string
	tb.eval(t, `[...document.querySelectorAll('#results a.result')].map((a) => a.textContent)`, &values)
	for _, want := range []string{aliceToken, aliceChild, aliceSubject} {
		if !slices.Contains(values, want) {
			t.Errorf("search results = %q, want one for %q", values, want)
		}
	}
	var hash string
	tb.eval(t, `location.hash`, &hash)
	if want := "#/?q=" + url.QueryEscape(aliceSubject); hash != want {
		t.Errorf("location.hash = %q, want %q so that the search is linkable", hash, want)
	}
}

func TestBrowserTokenPage(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "#/token/"+aliceToken)
	tb.wait(t, "the token status", `document.getElementById('token-status') !== null`)
	tb.wait(t, "the map outlines", `document.querySelectorAll('svg.map .land path').length > 100`)

	var status string
	tb.eval(t, `document.getElementById('token-status').textContent`, &status)
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
	}
	for name, selector := range counts {
		var n int
		tb.eval(t, fmt.Sprintf(`document.querySelectorAll(%q).length`, selector), &n)
		if n == 0 {
			t.Errorf("%s (%s): none on the page", name, selector)
		}
	}
	var points int
	tb.eval(t, `document.querySelectorAll('svg.map circle.point').length`, &points)
	if points != 2 {
		t.Errorf("map points = %d, want 2 (Paris and Sydney)", points)
	}
	var timelineRows int
	tb.eval(t, `document.querySelectorAll('table.timeline tbody tr').length`, &timelineRows)
	if timelineRows != 1+40+24 {
		t.Errorf("timeline rows = %d, want %d (the issuance and every use)", timelineRows, 1+40+24)
	}

	var revoke bool
	tb.eval(t, `document.getElementById('revoke') !== null`, &revoke)
	if revoke {
		t.Error("a read-only key sees the revoke button")
	}
	tb.checkNoLeftovers(t)
}

func TestBrowserHTMLInDataIsText(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "#/token/"+xssToken)
	tb.wait(t, "the token page", `document.querySelectorAll('table.timeline tbody tr').length > 0`)

	var text string
	tb.eval(t, `document.querySelector('main').textContent`, &text)
	for _, want := range []string{xssSubject, xssAgent, "/api/<b>x</b>"} {
		if !strings.Contains(text, want) {
			t.Errorf("page text lacks %q as text", want)
		}
	}
	var images, scripts, bold int
	tb.eval(t, `document.querySelectorAll('main img').length`, &images)
	tb.eval(t, `document.querySelectorAll('script').length`, &scripts)
	tb.eval(t, `document.querySelectorAll('main b').length`, &bold)
	if images != 0 || bold != 0 {
		t.Errorf("main holds %d img and %d b elements, want none: data was parsed as HTML", images, bold)
	}
	if scripts != 1 {
		t.Errorf("the document holds %d script elements, want only the app's module", scripts)
	}

	// The same subject on the subject page and in the search results.
	tb.run(t, "search for the subject", chromedp.Navigate(h.srv.URL+"/#/?q="+url.QueryEscape(xssSubject)))
	tb.wait(t, "results", `document.querySelectorAll('#results a.result').length > 0`)
	tb.eval(t, `document.getElementById('results').textContent`, &text)
	if !strings.Contains(text, xssSubject) {
		t.Errorf("search results %q lack the subject as text", text)
	}
	tb.eval(t, `document.querySelectorAll('main img').length`, &images)
	if images != 0 {
		t.Errorf("search results hold %d img elements, want none", images)
	}
}

func TestBrowserRevokeFlow(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, adminKey, "")

	// search → token page → revoke → status revoked
	tb.run(t, "search for the token",
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), bobToken),
		chromedp.SendKeys(chromedp.CSS("#q"), kb.Enter))
	tb.wait(t, "the result", `document.querySelector('#results a.result') !== null`)
	tb.run(t, "open the token page", chromedp.Click(chromedp.CSS(`#results a.result`)))
	tb.wait(t, "the revoke button", `document.getElementById('revoke') !== null`)

	var status string
	tb.eval(t, `document.getElementById('token-status').textContent`, &status)
	if status != "active" {
		t.Fatalf("status before revoking = %q, want active", status)
	}

	// Confirming without a reason records nothing.
	tb.run(t, "open the dialog", chromedp.Click(chromedp.CSS("#revoke")), chromedp.WaitVisible(chromedp.CSS("#revoke-dialog")))
	tb.run(t, "confirm without a reason", chromedp.Click(chromedp.CSS("#revoke-confirm")))
	var open bool
	tb.eval(t, `document.getElementById('revoke-dialog').open`, &open)
	if !open || len(h.recorded()) != 0 {
		t.Fatalf("after confirming without a reason: dialog open = %v, revocations = %d, want open and none", open, len(h.recorded()))
	}

	tb.run(t, "give a reason and confirm",
		chromedp.SendKeys(chromedp.CSS("#revoke-reason"), "laptop stolen"),
		chromedp.Click(chromedp.CSS("#revoke-confirm")))
	tb.wait(t, "status revoked", `document.getElementById('token-status')?.textContent === 'revoked'`)

	got := h.recorded()
	if len(got) != 1 {
		t.Fatalf("revocations recorded = %d, want 1", len(got))
	}
	if got[0].TokenID != bobToken || got[0].Reason != "laptop stolen" {
		t.Errorf("revocation = token %q, reason %q, want %q, %q", got[0].TokenID, got[0].Reason, bobToken, "laptop stolen")
	}
	var revoke bool
	tb.eval(t, `document.getElementById('revoke') !== null`, &revoke)
	if revoke {
		t.Error("the revoke button is still shown for a revoked token")
	}
}

func TestBrowserIncidentPage(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "#/incident")

	at := harnessStart.Add(95 * time.Minute).Format(time.RFC3339)
	tb.run(t, "fill the incident form",
		chromedp.WaitVisible(chromedp.CSS("#incident-subject")),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), aliceSubject),
		chromedp.SetValue(chromedp.CSS("#incident-at"), at),
		chromedp.SendKeys(chromedp.CSS("#incident-subject"), kb.Enter))
	tb.wait(t, "the remediation plan", `document.querySelectorAll('.plan .step').length > 0`)

	var commands []string
	tb.eval(t, `[...document.querySelectorAll('.plan .command code')].map((c) => c.textContent)`, &commands)
	if len(commands) == 0 {
		t.Fatal("the plan shows no command to copy")
	}
	if !strings.Contains(strings.Join(commands, "\n"), "198.51.100.0/24") {
		t.Errorf("plan commands %q name no step against the script's network 198.51.100.0/24", commands)
	}
	var flagged, buttons int
	tb.eval(t, `document.querySelectorAll('table.timeline tr.flagged').length`, &flagged)
	tb.eval(t, `document.querySelectorAll('.plan button.copy').length`, &buttons)
	if flagged == 0 {
		t.Error("no timeline row is marked as coming from a suspicious network")
	}
	if buttons != len(commands) {
		t.Errorf("copy buttons = %d, want one for each of the %d commands", buttons, len(commands))
	}
	tb.checkNoLeftovers(t)
}

func TestBrowserLiveAnomalies(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "#/anomalies")
	tb.wait(t, "the first anomalies", `document.querySelectorAll('#live-rows tr').length > 0`)

	var before int
	tb.eval(t, `document.querySelectorAll('#live-rows tr').length`, &before)
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
	tb.wait(t, "the new anomaly", `document.querySelector('#live-rows tr[data-id="live-test-anomaly"]') !== null`)

	var first string
	tb.eval(t, `document.querySelector('#live-rows tr').dataset.id`, &first)
	if first != newer.ID {
		t.Errorf("first row = %q, want the new anomaly on top", first)
	}
	var after int
	tb.eval(t, `document.querySelectorAll('#live-rows tr').length`, &after)
	if after != before+1 {
		t.Errorf("rows after the poll = %d, want %d: each anomaly once", after, before+1)
	}
	tb.checkNoLeftovers(t)
}

func TestBrowserRejectedKeyAsksAgain(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.run(t, "enter a wrong key",
		chromedp.Navigate(h.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#api-key")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), "not-a-key"),
		chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
	tb.wait(t, "the prompt with an error", `document.querySelector('.key-form .error') !== null`)

	var stored string
	tb.eval(t, `sessionStorage.getItem('tokentrail.apiKey') || ''`, &stored)
	if stored != "" {
		t.Errorf("sessionStorage keeps the rejected key %q", stored)
	}
}

func TestBrowserPrintLayout(t *testing.T) {
	h := newHarness(t)
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, readKey, "#/token/"+aliceToken)
	tb.wait(t, "the timeline", `document.querySelectorAll('table.timeline tbody tr').length > 0`)
	if _, err := chromedp.Call(tb.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
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
		tb.eval(t, c.expression, &got)
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
	tb := newTab(t, h.srv.URL)
	tb.signIn(t, h, adminKey, "")

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
		tb.run(t, "open "+p.fragment, chromedp.Navigate(h.srv.URL+"/"+p.fragment))
		tb.wait(t, p.file, p.ready)
		png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
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
