package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
)

// TestTimelineChartBoundsLanes draws 30 networks: the suspicious one and
// 12 others get lanes, and the rest share the last one.
func TestTimelineChartBoundsLanes(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := &forensics.IncidentReport{At: start.Add(15 * time.Minute)}
	r.Suspicious.Networks = []forensics.SuspiciousNetwork{{Network: "198.51.100.0/24"}}
	for i := range 30 {
		ip := netip.AddrFrom4([4]byte{203, 0, byte(i), 1})
		r.Timeline = append(r.Timeline, forensics.TimelineEntry{
			Time: start.Add(time.Duration(i) * time.Minute), Kind: audit.KindUsed, IP: ip, Network: forensics.Network(ip),
		})
	}
	r.Timeline = append(r.Timeline, forensics.TimelineEntry{Time: start.Add(30 * time.Minute), Kind: audit.KindUsed, Network: "198.51.100.0/24"})

	c := timelineChart(r)
	if len(c.Lanes) != chartLanes {
		t.Fatalf("lanes = %d, want %d", len(c.Lanes), chartLanes)
	}
	if !c.Lanes[0].Suspicious || c.Lanes[0].Events != 1 {
		t.Errorf("first lane = %+v, want the suspicious network with its one event", c.Lanes[0])
	}
	last := c.Lanes[len(c.Lanes)-1]
	if last.Label != "other networks" || last.Events != 30-(chartLanes-2) {
		t.Errorf("last lane = %+v, want other networks with %d events", last, 30-(chartLanes-2))
	}
	if len(c.Dots) != len(r.Timeline) {
		t.Errorf("dots = %d, want one per event (%d)", len(c.Dots), len(r.Timeline))
	}
	for _, d := range c.Dots {
		if d.X < c.Left || d.X > c.Right {
			t.Errorf("dot at x %v lies outside the plot, %v to %v", d.X, c.Left, c.Right)
		}
	}
	if c.At < c.Left || c.At > c.Right {
		t.Errorf("the incident's time is at x %v, want it inside the plot", c.At)
	}
	if len(c.Ticks) < 2 || len(c.Ticks) > 9 {
		t.Errorf("ticks = %v, want 2 to 9", c.Ticks)
	}
	if got := c.Ticks[0].Label; got != "10:00" {
		t.Errorf("first tick = %q, want 10:00", got)
	}
}

func TestTimelineChartOneEvent(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := &forensics.IncidentReport{At: at.Add(48 * time.Hour)}
	r.Timeline = []forensics.TimelineEntry{{Time: at, Kind: audit.KindIssued}}

	c := timelineChart(r)
	if len(c.Dots) != 1 || len(c.Lanes) != 1 || c.Lanes[0].Label != "no address recorded" {
		t.Fatalf("chart = %d dots in lanes %+v, want one dot in the lane of events without address", len(c.Dots), c.Lanes)
	}
	if x := c.Dots[0].X; x <= c.Left || x >= c.Right {
		t.Errorf("the only dot is at x %v, want it inside %v to %v", x, c.Left, c.Right)
	}
	if c.At != -1 {
		t.Errorf("the incident's time, two days later, is at x %v, want -1 (not drawn)", c.At)
	}
	if got := c.Kinds(); len(got) != 1 || got[0] != "issued" {
		t.Errorf("legend kinds = %v, want [issued]", got)
	}
}

// TestTimelineChartShortExposure draws an exposure of one use: its band
// must still be wide enough to see and hold the use, and the axis of a
// chart a minute long must have several distinct tick labels.
func TestTimelineChartShortExposure(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 1, 2, 0, time.UTC)
	r := &forensics.IncidentReport{At: at}
	r.Timeline = []forensics.TimelineEntry{{Time: at, Kind: audit.KindUsed, Network: "198.51.100.0/24"}}
	r.Impact.Exposure = forensics.Exposure{Start: at, End: at}

	c := timelineChart(r)
	if c.Exposure == nil {
		t.Fatal("chart has no exposure band, want one for the single use")
	}
	if c.Exposure.Width < minBand {
		t.Errorf("exposure band width = %v, want at least %v", c.Exposure.Width, minBand)
	}
	if x := c.Dots[0].X; x < c.Exposure.X || x > c.Exposure.X+c.Exposure.Width {
		t.Errorf("the use at x %v lies outside the band %v to %v", x, c.Exposure.X, c.Exposure.X+c.Exposure.Width)
	}

	if len(c.Ticks) < 3 {
		t.Fatalf("ticks = %+v, want at least 3", c.Ticks)
	}
	labels := map[string]bool{}
	for _, tick := range c.Ticks {
		if labels[tick.Label] {
			t.Errorf("tick label %q repeats in %+v", tick.Label, c.Ticks)
		}
		labels[tick.Label] = true
	}
}

// TestIncidentHTMLTablesScroll checks that each table sits in a box that
// scrolls sideways, so that a wide table stays inside its card.
func TestIncidentHTMLTablesScroll(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	r := &forensics.IncidentReport{Subject: "alice", At: at,
		Timeline:  []forensics.TimelineEntry{{Time: at, Kind: audit.KindUsed, TokenID: strings.Repeat("t", 200)}},
		Anomalies: []audit.Anomaly{{Time: at, Rule: "concurrent_use", TokenID: "jti-1"}},
	}
	var b strings.Builder
	if err := writeIncidentHTML(&b, r); err != nil {
		t.Fatalf("writeIncidentHTML: %v", err)
	}
	page := b.String()
	if !strings.Contains(page, ".table-scroll { overflow-x: auto;") {
		t.Error("the style has no sideways scroll for tables")
	}
	if got, want := strings.Count(page, `<div class="table-scroll">`+"\n<table"), strings.Count(page, "<table"); got != want || want != 2 {
		t.Errorf("tables in a scroll box = %d of %d, want both", got, want)
	}
}

// TestTimelineChartDatedTicksApart spans three days, so the ticks carry
// the date and must stay far enough apart not to overlap, and the last
// one must stay inside the chart.
func TestTimelineChartDatedTicksApart(t *testing.T) {
	start := time.Date(2025, 2, 17, 22, 0, 0, 0, time.UTC)
	r := &forensics.IncidentReport{At: start.Add(36 * time.Hour)}
	for i := range 60 {
		ip := netip.AddrFrom4([4]byte{203, 0, 113, 1})
		r.Timeline = append(r.Timeline, forensics.TimelineEntry{
			Time: start.Add(time.Duration(i) * 75 * time.Minute), Kind: audit.KindUsed, IP: ip, Network: forensics.Network(ip),
		})
	}

	c := timelineChart(r)

	if len(c.Ticks) < 2 || len(c.Ticks) > 6 {
		t.Fatalf("ticks = %+v, want 2 to 6 for labels with the date", c.Ticks)
	}
	// A label such as "Feb 18 06:00" is about 70 units wide.
	for i := 1; i < len(c.Ticks); i++ {
		if gap := c.Ticks[i].X - c.Ticks[i-1].X; gap < 100 {
			t.Errorf("ticks %q and %q are %v units apart, want at least 100", c.Ticks[i-1].Label, c.Ticks[i].Label, gap)
		}
	}
	for _, tick := range c.Ticks {
		if strings.Contains(tick.Label, "UTC") {
			t.Errorf("tick label %q names the zone, which the axis states once", tick.Label)
		}
		if tick.Anchor == "middle" && tick.X > chartWidth-chartRight-40 {
			t.Errorf("tick %q at x %v is centered, so its end would be cut off", tick.Label, tick.X)
		}
	}
}
