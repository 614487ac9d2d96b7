package main

import (
	"net/netip"
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
