package main

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/forensics"
)

// incidentTemplate is the HTML report. It links nothing outside the file:
// the style is inline, the chart is SVG drawn here, and there is no script.
//
//go:embed incident.html.tmpl
var incidentTemplate string

var incidentPage = template.Must(template.New("incident").Funcs(template.FuncMap{
	"stamp": stamp,
	// stampWords splits a time into its date and its clock, which a table
	// cell may put on two lines but never breaks inside.
	"stampWords": func(t time.Time) []string { return strings.SplitN(stamp(t), " ", 2) },
	"join":       strings.Join,
	"curl":       forensics.CurlCommand,
	// html/template escapes markup but keeps format and control
	// characters, so text shows them as visible escapes, as the text
	// report does.
	"text": printable,
}).Parse(incidentTemplate))

// Bounds of the HTML report.
const (
	htmlTimelineRows = 1000 // rows of the timeline table; the chart draws every event
	maxIDColumnChars = 40   // widest id column the tables request, in characters: a UUID fits, a longer id wraps
	chartLanes       = 14   // networks with a lane of their own; the rest share one
)

// Geometry of the timeline chart, in SVG user units.
const (
	chartWidth  = 960.0
	chartLeft   = 190.0 // room for the lane labels
	chartRight  = 20.0
	chartTop    = 28.0 // room for the time axis
	laneHeight  = 22.0
	chartBottom = 10.0
	minBand     = 8.0 // width of the exposure band when it lasts no time, so that it shows
)

// htmlIncident is the data of the HTML template.
type htmlIncident struct {
	R       *forensics.IncidentReport
	Summary []summaryItem
	Chart   chart
	Rows    []htmlRow
	Cut     int // timeline events not in the table

	// The characters of the longest jti of the timeline and of the
	// anomalies, and of the longest subject of the timeline, at most
	// maxIDColumnChars. The style requests id columns that wide, so that
	// an id stays on one line where the table has room.
	TimelineTokenChars, TimelineSubjectChars, AnomalyTokenChars int
}

// The template reads a summaryItem's fields through these methods,
// because they are unexported.
func (s summaryItem) Label() string    { return s.label }
func (s summaryItem) Values() []string { return s.values }

type htmlRow struct {
	forensics.TimelineEntry
	Address string
	Request string
	Marks   string
}

// chart is the timeline drawn as one lane per network, time running right.
type chart struct {
	Width, Height float64
	Left, Right   float64 // x of the plot area's edges
	Top, Bottom   float64 // y of the plot area's edges
	Lanes         []chartLane
	Ticks         []chartTick
	Dots          []chartDot
	Exposure      *chartSpan // nil when no token was accepted from a suspicious network
	At            float64    // x of the incident's time, or -1 when outside the plot
	Empty         bool
}

type chartLane struct {
	Label      string
	Y          float64 // the lane's center line
	Suspicious bool
	Events     int
}

type chartTick struct {
	X      float64
	Label  string
	Anchor string // the SVG text-anchor that keeps the label inside the chart
}

type chartDot struct {
	X, Y   float64
	Kind   string
	Marked bool // an anomaly's evidence holds the event
	Title  string
}

type chartSpan struct{ X, Width float64 }

// writeIncidentHTML writes an incident report as one self-contained HTML
// page. html/template escapes every value taken from the report.
func writeIncidentHTML(w io.Writer, r *forensics.IncidentReport) error {
	view := htmlIncident{R: r, Summary: incidentSummary(r), Chart: timelineChart(r)}
	for i, e := range r.Timeline {
		if i == htmlTimelineRows {
			view.Cut = len(r.Timeline) - htmlTimelineRows
			break
		}
		view.Rows = append(view.Rows, htmlRow{
			TimelineEntry: e, Address: addrString(e.IP.String(), e.IP.IsValid()),
			Request: entryRequest(e), Marks: entryMarks(e),
		})
		view.TimelineTokenChars = max(view.TimelineTokenChars, idChars(e.TokenID))
		view.TimelineSubjectChars = max(view.TimelineSubjectChars, idChars(e.Subject))
	}
	for _, a := range r.Anomalies {
		view.AnomalyTokenChars = max(view.AnomalyTokenChars, idChars(a.TokenID))
	}
	return incidentPage.Execute(w, view)
}

// idChars returns the characters that id takes as the report prints it,
// at most maxIDColumnChars.
func idChars(id string) int {
	return min(utf8.RuneCountInString(printable(id)), maxIDColumnChars)
}

// timelineChart lays out the timeline: one lane for each suspicious
// network, then one for each other network by first event, up to
// chartLanes, and a last lane shared by the rest.
func timelineChart(r *forensics.IncidentReport) chart {
	c := chart{Width: chartWidth, Left: chartLeft, Right: chartWidth - chartRight, Top: chartTop - 8, At: -1}
	if len(r.Timeline) == 0 {
		c.Empty = true
		c.Height = chartTop + laneHeight + chartBottom
		c.Bottom = c.Height - chartBottom
		return c
	}

	lane := map[string]int{}
	addLane := func(key, label string, suspicious bool) {
		if _, ok := lane[key]; !ok {
			lane[key] = len(c.Lanes)
			c.Lanes = append(c.Lanes, chartLane{Label: label, Suspicious: suspicious})
		}
	}
	for _, n := range r.Suspicious.Networks {
		addLane(n.Network, n.Network, true)
	}
	other := -1
	for _, e := range r.Timeline {
		key := e.Network
		if _, ok := lane[key]; ok {
			continue
		}
		if len(c.Lanes) >= chartLanes-1 {
			other = len(c.Lanes)
			c.Lanes = append(c.Lanes, chartLane{Label: "other networks"})
			break
		}
		addLane(key, orNone(key, "no address recorded"), false)
	}
	for i := range c.Lanes {
		c.Lanes[i].Y = chartTop + laneHeight*(float64(i)+0.5)
	}
	c.Height = chartTop + laneHeight*float64(len(c.Lanes)) + chartBottom
	c.Bottom = c.Height - chartBottom

	start, end := r.Timeline[0].Time, r.Timeline[len(r.Timeline)-1].Time
	if x := r.Impact.Exposure; !x.Start.IsZero() {
		start, end = minTime(start, x.Start), maxTime(end, x.End)
	}
	if span := end.Sub(start); span < time.Minute {
		pad := (time.Minute - span) / 2
		start, end = start.Add(-pad), end.Add(pad)
	}
	pad := end.Sub(start) / 50 // keeps the first and last dots off the edges
	start, end = start.Add(-pad), end.Add(pad)
	xOf := func(t time.Time) float64 {
		return c.Left + (c.Right-c.Left)*float64(t.Sub(start))/float64(end.Sub(start))
	}

	for _, e := range r.Timeline {
		i, ok := lane[e.Network]
		if !ok {
			i = other
		}
		c.Lanes[i].Events++
		title := fmt.Sprintf("%s %s %s", stamp(e.Time), e.Kind, orNone(e.TokenID, e.Fingerprint))
		if addr := addrString(e.IP.String(), e.IP.IsValid()); addr != "" {
			title += " from " + addr
		}
		if req := entryRequest(e); req != "" {
			title += ", " + shorten(req, 80)
		}
		if marks := entryMarks(e); marks != "" {
			title += " [" + marks + "]"
		}
		c.Dots = append(c.Dots, chartDot{
			X: round1(xOf(e.Time)), Y: c.Lanes[i].Y, Kind: e.Kind.String(), Marked: len(e.Anomalies) > 0, Title: title,
		})
	}

	if x := r.Impact.Exposure; !x.Start.IsZero() {
		from, to := xOf(x.Start), xOf(x.End)
		if to-from < minBand {
			// Centered on the span, so that a single use sits in the band.
			mid := (from + to) / 2
			from, to = mid-minBand/2, mid+minBand/2
		}
		c.Exposure = &chartSpan{X: round1(from), Width: round1(to - from)}
	}
	if !r.At.Before(start) && !r.At.After(end) {
		c.At = round1(xOf(r.At))
	}
	c.Ticks = chartTicks(start, end, xOf)
	return c
}

// tickSteps are the spacings the time axis may use, the first that gives
// at most eight ticks winning, or six with labels that carry the date. The
// steps under a minute give a chart of a few seconds, such as one event's,
// more than one tick.
var tickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 48 * time.Hour, 7 * 24 * time.Hour,
}

func chartTicks(start, end time.Time, xOf func(time.Time) float64) []chartTick {
	// A label such as "Feb 18 06:00" takes about 70 of the plot's 750
	// units, so dated labels get fewer ticks to stay apart.
	dated := start.UTC().YearDay() != end.UTC().YearDay() || end.Sub(start) > 24*time.Hour
	maxTicks := time.Duration(8)
	if dated {
		maxTicks = 6
	}
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		// A span of n whole steps has up to n+1 ticks.
		if end.Sub(start)/s < maxTicks {
			step = s
			break
		}
	}
	layout := "15:04"
	switch {
	case step < time.Minute:
		layout = "15:04:05"
	case dated:
		layout = "Jan 2 15:04"
	}
	var ticks []chartTick
	for t := start.UTC().Truncate(step); !t.After(end); t = t.Add(step) {
		if t.Before(start) {
			continue
		}
		x := round1(xOf(t))
		// A centered label at the right edge would be cut off, and one at
		// the left edge would run into the axis's "UTC".
		anchor := "middle"
		switch {
		case x > chartWidth-chartRight-40:
			anchor = "end"
		case x < chartLeft+30:
			anchor = "start"
		}
		ticks = append(ticks, chartTick{X: x, Label: t.Format(layout), Anchor: anchor})
	}
	return ticks
}

func round1(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 1, 64), 64) // the text of a float always parses
	return v
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// chartKinds lists the event kinds in the legend's order.
var chartKinds = []string{"issued", "used", "refreshed", "rejected", "revoked", "session"}

// Kinds returns the event kinds that the chart draws, for its legend.
func (c chart) Kinds() []string {
	var kinds []string
	for _, k := range chartKinds {
		if slices.ContainsFunc(c.Dots, func(d chartDot) bool { return d.Kind == k }) {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// PlotHeight returns the height of the plot area, below the time axis.
func (c chart) PlotHeight() float64 { return c.Bottom - c.Top }
