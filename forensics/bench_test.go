package forensics_test

import (
	"bufio"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/store/sqlite"
	"github.com/tokentrail/tokentrail/store/storetest"
)

// benchEvents returns the store size for BenchmarkInvestigateToken: 20,000
// events by default so that the suite stays fast, or TOKENTRAIL_BENCH_EVENTS
// (docs/benchmarks.md uses 1,000,000).
func benchEvents(b *testing.B) int {
	b.Helper()
	if s := os.Getenv("TOKENTRAIL_BENCH_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 20 {
			b.Fatalf("TOKENTRAIL_BENCH_EVENTS=%q: want a number of events, at least 20", s)
		}
		return n
	}
	return 20_000
}

// benchFixture is a store and the same events as JSON lines, with the token
// ids to look up.
type benchFixture struct {
	db     *sqlite.Store
	jsonl  string
	tokens []string
}

func newBenchFixture(b *testing.B, events int) *benchFixture {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "events.db"))
	if err != nil {
		b.Fatalf("open store: %v", err)
	}
	b.Cleanup(func() { db.Close() })

	jsonlPath := filepath.Join(dir, "events.jsonl")
	file, err := os.Create(jsonlPath)
	if err != nil {
		b.Fatalf("create %s: %v", jsonlPath, err)
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	enc := json.NewEncoder(w)

	const eventsPerToken = 20
	f := &benchFixture{db: db, jsonl: jsonlPath}
	batch := make([]audit.Event, 0, 5000)
	flush := func() {
		if _, err := db.Append(ctx, batch); err != nil {
			b.Fatalf("append: %v", err)
		}
		batch = batch[:0]
	}
	for e := range storetest.GenerateSeq(1, events/eventsPerToken, eventsPerToken) {
		if e.Kind == audit.KindIssued {
			f.tokens = append(f.tokens, e.TokenID)
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

	rand.New(rand.NewPCG(2, 3)).Shuffle(len(f.tokens), func(i, j int) {
		f.tokens[i], f.tokens[j] = f.tokens[j], f.tokens[i]
	})
	return f
}

// BenchmarkInvestigateToken compares a token report from the store with what
// a responder does today over the same events as JSON lines: grep -F for the
// jti, and jq selecting the token's events. It reports the latency
// percentiles of InvestigateToken over different tokens.
func BenchmarkInvestigateToken(b *testing.B) {
	f := newBenchFixture(b, benchEvents(b))
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

	b.Run("tokentrail", func(b *testing.B) {
		b.ReportAllocs()
		durations := make([]time.Duration, 0, b.N)
		i := 0
		for b.Loop() {
			start := time.Now()
			r, err := forensics.InvestigateToken(ctx, f.db, forensics.TokenRef{TokenID: f.tokens[i%len(f.tokens)]}, forensics.Options{Now: now})
			durations = append(durations, time.Since(start))
			if err != nil {
				b.Fatalf("InvestigateToken: %v", err)
			}
			if len(r.Events) == 0 {
				b.Fatal("report has no events")
			}
			i++
		}
		reportPercentiles(b, durations)
	})

	for _, tool := range []struct {
		name string
		args func(jti string) []string
	}{
		{"grep-F", func(jti string) []string { return []string{"grep", "-F", jti, f.jsonl} }},
		{"jq", func(jti string) []string {
			return []string{"jq", "-c", "--arg", "t", jti, "select(.token_id == $t)", f.jsonl}
		}},
	} {
		b.Run(tool.name, func(b *testing.B) {
			if _, err := exec.LookPath(tool.args("x")[0]); err != nil {
				b.Skipf("%s is not installed", tool.args("x")[0])
			}
			durations := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				args := tool.args(f.tokens[i%len(f.tokens)])
				start := time.Now()
				out, err := exec.Command(args[0], args[1:]...).Output()
				durations = append(durations, time.Since(start))
				if err != nil || len(out) == 0 {
					b.Fatalf("%s: %v (output %d bytes)", tool.name, err, len(out))
				}
				i++
			}
			reportPercentiles(b, durations)
		})
	}
}

func reportPercentiles(b *testing.B, durations []time.Duration) {
	b.Helper()
	if len(durations) == 0 {
		return
	}
	slices.Sort(durations)
	at := func(p float64) float64 {
		return float64(durations[min(len(durations)-1, int(p*float64(len(durations))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
