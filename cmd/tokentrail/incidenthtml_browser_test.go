package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/tokentrail/tokentrail/internal/browsertest"
)

// idLines is the JavaScript that returns, for each jti cell of the HTML
// incident report, the number of lines its text takes.
const idLines = `[...document.querySelectorAll('td.mono.id')].map((td) => {
	const range = document.createRange();
	range.selectNodeContents(td);
	return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
})`

// tablesOverflow is the JavaScript that reports whether a table is wider
// than its box.
const tablesOverflow = `[...document.querySelectorAll('.table-scroll')].some((box) => box.scrollWidth > box.clientWidth)`

// TestIncidentHTMLKeepsIDsOnOneLine opens the HTML incident report in
// headless Chromium. A 26-character jti stays on one line on a 1366-pixel
// screen and on an A4 page, and wraps without widening its table on a
// narrower window. It skips without Chromium unless TOKENTRAIL_CHROMIUM is
// set.
func TestIncidentHTMLKeepsIDsOnOneLine(t *testing.T) {
	const (
		subject = "b61e6ba5-3682-4dd6-b804-69b84b2d451c"
		jti     = "VT7BLJJQSCQWKCPY4KQFEAGQZO"
	)
	var log strings.Builder
	for i := range 6 {
		log.WriteString(incidentLine(jti, subject, "203.0.113.10", officeAgent, fmt.Sprintf("10:00:%02d", i*10), "/api/orders?page=1&filter=open&sort=created_at"))
		log.WriteString(incidentLine(jti, subject, attackerIP, attackerAgent, fmt.Sprintf("10:00:%02d", i*10+5), "/api/export?page=1"))
	}
	db := importLog(t, t.TempDir(), log.String())
	stdout, _, err := run(t, "", "--db", db, "incident", "--subject", subject, "--at", "2026-11-20T10:01:00Z", "--format", "html")
	if err != nil {
		t.Fatalf("incident --format html: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, stdout) // a failed write shows as a missing page below
	}))
	defer srv.Close()

	browser := browsertest.Start()
	defer browser.Close()
	tab := browser.NewTab(t, srv.URL)
	tab.Do(t, "open the report", chromedp.Navigate(srv.URL+"/"))

	lines := func(layout string) []int {
		t.Helper()
		var got []int
		tab.Eval(t, idLines, &got)
		if len(got) < 13 {
			t.Fatalf("%s: jti cells = %d, want the 12 timeline rows' and at least one anomaly's", layout, len(got))
		}
		return got
	}
	overflows := func() bool {
		t.Helper()
		var got bool
		tab.Eval(t, tablesOverflow, &got)
		return got
	}

	for i, n := range lines("1366-pixel screen") {
		if n != 1 {
			t.Errorf("on a 1366-pixel screen, jti cell %d takes %d lines, want 1", i, n)
		}
	}

	// An A4 page less the report's 14 mm margins is 182 mm, 688 CSS pixels.
	if _, err := chromedp.Call(tab.Context(), emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatalf("emulate print media: %v", err)
	}
	tab.Do(t, "narrow the window to an A4 page", chromedp.EmulateViewport(688, 1000))
	for i, n := range lines("A4 page") {
		if n != 1 {
			t.Errorf("on an A4 page, jti cell %d takes %d lines, want 1", i, n)
		}
	}
	if overflows() {
		t.Error("on an A4 page, a table is wider than the page")
	}

	if _, err := chromedp.Call(tab.Context(), emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "screen"}); err != nil {
		t.Fatalf("emulate screen media: %v", err)
	}
	tab.Do(t, "narrow the window", chromedp.EmulateViewport(820, 900))
	wrapped := false
	for _, n := range lines("820-pixel window") {
		wrapped = wrapped || n > 1
	}
	if !wrapped {
		t.Error("in an 820-pixel window, every jti stays on one line, want the timeline's to wrap for lack of room")
	}
	if overflows() {
		t.Error("in an 820-pixel window, a table is wider than its box, want its ids to wrap instead")
	}
}
