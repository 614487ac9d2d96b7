package forensics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store/sqlite"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// benchIncident is one incident of the benchmark: an anomaly on a use of a
// generated token, from the use's public IPv4 address.
type benchIncident struct {
	subject string
	at      time.Time
	network string // the /24 or /64 of the anomaly's address, for jq
}

// incidentFixture is a store of generated events with one stored anomaly
// for each incident, and the same events as JSON lines.
type incidentFixture struct {
	db        *sqlite.Store
	jsonl     string
	incidents []benchIncident
}

// newIncidentFixture fills a store with the events of storetest.Generate
// (the same as BenchmarkInvestigateToken's) and raises one anomaly on the
// first use of every 50th token from a public IPv4 address outside the
// network it was issued from.
func newIncidentFixture(b testing.TB, events int) *incidentFixture {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() { db.Close() })

	f := &incidentFixture{db: db, jsonl: filepath.Join(dir, "events.jsonl")}
	file, err := os.Create(f.jsonl)
	if err != nil {
		b.Fatalf("create %s: %v", f.jsonl, err)
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	enc := json.NewEncoder(w)

	const eventsPerToken = 20
	tokens := 0
	picked := map[string]string{} // token id to the network it was issued from
	var anomalies []audit.Anomaly
	batch := make([]audit.Event, 0, 5000)
	flush := func() {
		if _, err := db.Append(ctx, batch); err != nil {
			b.Fatalf("append: %v", err)
		}
		batch = batch[:0]
	}
	for e := range storetest.GenerateSeq(1, events/eventsPerToken, eventsPerToken) {
		if e.Kind == audit.KindIssued {
			tokens++
			if tokens%50 == 0 && e.IP.IsValid() {
				picked[e.TokenID] = forensics.Network(e.IP)
			}
		}
		// A use from another network than the issuance, as a replay is,
		// from plain public IPv4, so that jq can match the /24 by a string
		// prefix.
		home, ok := picked[e.TokenID]
		if ok && e.Kind == audit.KindUsed && e.Subject != "" && e.IP.Is4() && !e.IP.IsPrivate() && forensics.Network(e.IP) != home {
			delete(picked, e.TokenID)
			anomalies = append(anomalies, audit.Anomaly{
				ID: audit.NewID("bench", e.ID), Rule: "concurrent_use", Severity: audit.SeverityHigh, Time: e.Time,
				TokenID: e.TokenID, Subject: e.Subject, EventIDs: []string{e.ID}, Summary: "benchmark anomaly", IP: e.IP,
			})
			f.incidents = append(f.incidents, benchIncident{subject: e.Subject, at: e.Time, network: forensics.Network(e.IP)})
		}
		if err := enc.Encode(e); err != nil {
			b.Fatalf("write JSON lines: %v", err)
		}
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	if err := w.Flush(); err != nil {
		b.Fatalf("write JSON lines: %v", err)
	}
	if len(f.incidents) == 0 {
		b.Fatal("the generated events gave no incident")
	}
	if _, err := db.AppendAnomalies(ctx, anomalies); err != nil {
		b.Fatalf("append anomalies: %v", err)
	}
	return f
}

// BenchmarkAnalyzeIncident reports the latency percentiles of
// AnalyzeIncident with the default window of ±24 h over different
// incidents, against what a responder does today over the same events as
// JSON lines: one jq pass that selects the subject's events and those from
// the suspicious /24.
func BenchmarkAnalyzeIncident(b *testing.B) {
	f := newIncidentFixture(b, benchEvents(b))
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

	b.Run("tokentrail", func(b *testing.B) {
		b.ReportAllocs()
		durations := make([]time.Duration, 0, b.N)
		timeline, networks := 0, 0
		i := 0
		for b.Loop() {
			in := f.incidents[i%len(f.incidents)]
			start := time.Now()
			r, err := forensics.AnalyzeIncident(ctx, f.db, forensics.IncidentQuery{Subject: in.subject, At: in.at}, forensics.IncidentOptions{Now: now})
			durations = append(durations, time.Since(start))
			if err != nil {
				b.Fatalf("AnalyzeIncident(%q at %s): %v", in.subject, in.at, err)
			}
			timeline += len(r.Timeline)
			networks += len(r.Suspicious.Networks)
			i++
		}
		reportPercentiles(b, durations)
		b.ReportMetric(float64(len(f.incidents)), "incidents")
		b.ReportMetric(float64(timeline)/float64(i), "events/report")
		b.ReportMetric(float64(networks)/float64(i), "networks/report")
	})

	b.Run("jq", func(b *testing.B) {
		if _, err := exec.LookPath("jq"); err != nil {
			b.Skip("jq is not installed")
		}
		durations := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			in := f.incidents[i%len(f.incidents)]
			prefix := in.network[:len(in.network)-len("0/24")] // "198.18.7." for 198.18.7.0/24
			filter := `select(.time >= $since and .time < $until and (.subject == $s or ((.ip // "") | startswith($p))))`
			args := []string{"-c", "--arg", "s", in.subject, "--arg", "p", prefix,
				"--arg", "since", in.at.Add(-24 * time.Hour).Format(time.RFC3339), "--arg", "until", in.at.Add(24 * time.Hour).Format(time.RFC3339),
				filter, f.jsonl}
			start := time.Now()
			out, err := exec.Command("jq", args...).Output()
			durations = append(durations, time.Since(start))
			if err != nil || len(out) == 0 {
				b.Fatalf("jq: %v (output %d bytes)", err, len(out))
			}
			i++
		}
		reportPercentiles(b, durations)
	})
}

// TestAnalyzeIncidentGenerated runs AnalyzeIncident over every incident of
// a small generated store, as the benchmark does over a large one, so that
// the suite checks the benchmark's path.
func TestAnalyzeIncidentGenerated(t *testing.T) {
	f := newIncidentFixture(t, 4000)
	ctx := context.Background()

	networks := 0
	for _, in := range f.incidents {
		r, err := forensics.AnalyzeIncident(ctx, f.db, forensics.IncidentQuery{Subject: in.subject, At: in.at}, forensics.IncidentOptions{Now: in.at})
		if err != nil {
			t.Fatalf("AnalyzeIncident(%q at %s): %v", in.subject, in.at, err)
		}
		for i := 1; i < len(r.Timeline); i++ {
			if r.Timeline[i].Time.Before(r.Timeline[i-1].Time) {
				t.Fatalf("timeline of %q: event %d at %s comes after one at %s", in.subject, i, r.Timeline[i].Time, r.Timeline[i-1].Time)
			}
		}
		networks += len(r.Suspicious.Networks)
	}
	if networks == 0 {
		t.Errorf("no report of the %d incidents found a suspicious network", len(f.incidents))
	}
}
