package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tokentrail/tokentrail/internal/browsertest"
)

// TestServeDemoMapShowsPlaces opens the demo token's page in headless
// Chromium against serve's first start. The world map must place the
// office's uses and the replay, and draw the replay in red because the
// anomalies name its events. It skips without Chromium unless
// TOKENTRAIL_CHROMIUM is set.
func TestServeDemoMapShowsPlaces(t *testing.T) {
	browser := browsertest.Start()
	defer browser.Close()
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	f.demo = true
	url, stderr, stop := startServe(t, f, true)
	defer stop()
	secret := adminSecret.FindStringSubmatch(stderr.String())[1]
	story, err := loadDemoStory()
	if err != nil {
		t.Fatal(err)
	}

	tab := browser.NewTab(t, url)
	tab.SignIn(t, url, secret, "#/token/"+story.Token)
	tab.Wait(t, "the map's points", `document.querySelectorAll('svg.map circle.point').length > 0`)
	var points []struct {
		Title   string `json:"title"`
		Flagged bool   `json:"flagged"`
	}
	tab.Eval(t, `[...document.querySelectorAll('svg.map circle.point')].map((c) => ({title: c.querySelector('title').textContent, flagged: c.classList.contains('flagged')}))`, &points)

	var flagged, plain []string
	for _, p := range points {
		if p.Flagged {
			flagged = append(flagged, p.Title)
		} else {
			plain = append(plain, p.Title)
		}
	}
	if len(points) != 2 {
		t.Fatalf("map points = %q, want one for the office and one for the attacker", append(plain, flagged...))
	}
	if !slices.ContainsFunc(flagged, func(title string) bool { return strings.Contains(title, story.AttackerIP) }) {
		t.Errorf("red map points = %q, want the attacker's address %s among them", flagged, story.AttackerIP)
	}
	for _, title := range append(plain, flagged...) {
		if !strings.Contains(title, ", NL:") && !strings.Contains(title, ", SG:") {
			t.Errorf("map point %q names no place in the demo's countries NL or SG", title)
		}
	}
	tab.CheckNoLeftovers(t)
}
