// Package browsertest runs web UI tests in a real headless Chromium, driven
// through the DevTools protocol by chromedp. A test package starts one
// Browser in TestMain and opens a Tab per test.
//
// Without a browser on PATH the tests skip, unless the environment variable
// TOKENTRAIL_CHROMIUM is set (CI sets it), in which case a missing or
// failing browser fails them. TOKENTRAIL_CHROMIUM may also name the
// browser's executable.
package browsertest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// EnvVar is the environment variable that makes a missing browser a
// failure instead of a skip.
const EnvVar = "TOKENTRAIL_CHROMIUM"

// Viewport is the window size of every tab, a common laptop screen.
const (
	ViewportWidth  = 1366
	ViewportHeight = 768
)

// Browser is one headless Chromium process, shared by the tabs of a test
// binary. Its methods are safe for concurrent use.
type Browser struct {
	ctx    context.Context // the browser's chromedp context
	path   string
	err    error // the reason no browser is available, or nil
	cancel func()
}

// Start finds Chromium and starts it. It returns a Browser even when that
// fails, so that NewTab can skip or fail each test with the reason.
func Start() *Browser {
	b := &Browser{cancel: func() {}}
	b.path = os.Getenv(EnvVar)
	if b.path == "" || b.path == "1" || b.path == "true" {
		b.path = ""
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				b.path = p
				break
			}
		}
	}
	if b.path == "" {
		b.err = errors.New("no chromium, chromium-browser or google-chrome on PATH (apt-get install -y chromium)")
		return b
	}

	dir, err := os.MkdirTemp("", "tokentrail-chromium-")
	if err != nil {
		b.err = fmt.Errorf("create the browser's profile folder: %w", err)
		return b
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(b.path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox does not start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	b.ctx = browserCtx
	b.cancel = func() {
		cancelBrowser()
		cancelAlloc()
		_ = os.RemoveAll(dir) // a leftover temporary profile harms no later run
	}
	// The first call starts the browser, which lives as long as the
	// context of that call, so that context has no timeout.
	if err := chromedp.Do(browserCtx); err != nil {
		b.err = fmt.Errorf("start %s: %w", b.path, err)
	}
	return b
}

// Close stops the browser and removes its profile folder.
func (b *Browser) Close() { b.cancel() }

// Tab is one browser tab. It keeps every URL the tab requested and every
// console error, uncaught exception, Content-Security-Policy violation,
// failed load outside /api/ or JavaScript dialog, and the test fails on
// them when it ends.
type Tab struct {
	ctx context.Context

	mu       sync.Mutex
	requests []string
	problems []string
}

// NewTab opens a tab for t, or skips t when no browser is installed and
// TOKENTRAIL_CHROMIUM is unset. When t ends, the tab closes and t fails if
// the page requested a URL outside origin (such as "http://127.0.0.1:1234")
// or reported a problem. Every call on the tab shares a 90-second budget.
func (b *Browser) NewTab(t *testing.T, origin string) *Tab {
	t.Helper()
	if b.err != nil {
		if os.Getenv(EnvVar) == "" && b.path == "" {
			t.Skipf("skipping the browser test: %v; set %s to fail instead", b.err, EnvVar)
		}
		t.Fatalf("%s is set or a browser is installed, but it cannot run: %v", EnvVar, b.err)
	}

	tab := &Tab{}
	tabCtx, cancelTab := chromedp.NewContext(b.ctx, chromedp.WithListener(tab.record))
	// The first call opens the tab, which closes with the context of that
	// call, so the timeout goes on a context derived after it.
	err := chromedp.Do(tabCtx, func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, target, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, target, log.Enable, cdp.Empty{})
		return chromedp.Void{}, err
	}, chromedp.EmulateViewport(ViewportWidth, ViewportHeight))
	ctx, cancel := context.WithTimeout(tabCtx, 90*time.Second)
	tab.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelTab()
		tab.mu.Lock()
		defer tab.mu.Unlock()
		for _, u := range tab.requests {
			if !strings.HasPrefix(u, origin+"/") && !strings.HasPrefix(u, "data:") {
				t.Errorf("the page requested %s, outside its origin %s", u, origin)
			}
		}
		for _, p := range tab.problems {
			t.Errorf("browser reported: %s", p)
		}
	})
	if err != nil {
		t.Fatalf("open a tab in %s: %v", b.path, err)
	}
	return tab
}

// record keeps what the tab reports. It runs in the loop that reads the
// tab's messages, so it only appends.
func (tab *Tab) record(ev any) {
	tab.mu.Lock()
	defer tab.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		tab.requests = append(tab.requests, ev.Request.URL)
	case *runtime.EventExceptionThrown:
		detail := ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			detail += " " + ev.ExceptionDetails.Exception.Description
		}
		tab.problems = append(tab.problems, "uncaught exception: "+detail)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, arg := range ev.Args {
				parts = append(parts, cmp.Or(arg.Description, string(arg.Value)))
			}
			tab.problems = append(tab.problems, "console error: "+strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		// Content-Security-Policy violations and failed loads, such as a
		// missing /favicon.ico, are logged here as console errors. An API
		// response of 401 or 403 that a test requests on purpose is logged
		// as a failed load too, so failed loads under /api/ are left out.
		if ev.Entry.Level == log.EntryLevelError && !(ev.Entry.Source == log.EntrySourceNetwork && isAPI(ev.Entry.URL)) {
			tab.problems = append(tab.problems, fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	case *page.EventJavascriptDialogOpening:
		// The dialog stays open and blocks the page, so the test times out
		// and then reports this.
		tab.problems = append(tab.problems, "a JavaScript dialog opened: "+ev.Message)
	}
}

// isAPI reports whether rawURL names a path under /api/.
func isAPI(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.HasPrefix(u.Path, "/api/")
}

// Context returns the tab's chromedp context, for actions that Do and Eval
// do not cover.
func (tab *Tab) Context() context.Context { return tab.ctx }

// Do runs the actions in order and fails t on the first error, naming the
// step what.
func (tab *Tab) Do(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab.ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Wait polls the JavaScript expression until it is truthy, for at most 20
// seconds, and fails t with the page's text if it never is.
func (tab *Tab) Wait(t *testing.T, what, expression string) {
	t.Helper()
	poll := chromedp.Poll[chromedp.Void](expression, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
	if _, err := chromedp.Run(tab.ctx, poll); err != nil {
		body, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 2000)`)) // for the message only
		t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expression, err, body)
	}
}

// Eval stores the value of the JavaScript expression in result, by way of
// its JSON form.
func (tab *Tab) Eval(t *testing.T, expression string, result any) {
	t.Helper()
	encoded, err := chromedp.Run(tab.ctx, chromedp.Evaluate[string]("JSON.stringify("+expression+")"))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expression, err)
	}
	if err := json.Unmarshal([]byte(encoded), result); err != nil {
		t.Fatalf("decode the value of %s (%s): %v", expression, encoded, err)
	}
}

// CheckNoLeftovers fails t when the page's main element shows what
// JavaScript prints for a missing value, such as a field that the page
// expected and the JSON lacked.
func (tab *Tab) CheckNoLeftovers(t *testing.T) {
	t.Helper()
	var found []string
	tab.Eval(t, `document.querySelector('main').innerText.match(/\b(null|undefined|NaN)\b|\[object Object\]/g) || []`, &found)
	if len(found) > 0 {
		t.Errorf("the page shows %q", found)
	}
}

// SignIn opens the UI served at baseURL on fragment (such as
// "#/token/x"), types key into the key prompt and waits for the page.
func (tab *Tab) SignIn(t *testing.T, baseURL, key, fragment string) {
	t.Helper()
	tab.Do(t, "open the key prompt",
		chromedp.Navigate(baseURL+"/"+fragment),
		chromedp.WaitVisible(chromedp.CSS("#api-key")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), key),
		chromedp.SendKeys(chromedp.CSS("#api-key"), kb.Enter))
	tab.Wait(t, "the navigation after sign-in", `!document.getElementById('nav').hidden`)
}
