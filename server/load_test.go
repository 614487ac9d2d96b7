package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// The load test's defaults: a short run for go test ./...; set
// TOKENTRAIL_LOAD_EVENTS for the measured one (docs/benchmarks.md).
const (
	defaultLoadEvents = 20_000
	loadBatch         = 1_000
	loadClients       = 8
)

// loadBodies returns the NDJSON bodies of n events in batches of
// loadBatch: uses of 1,000 tokens by 200 subjects from 500 addresses, one
// second of event time apart per token.
func loadBodies(tb testing.TB, n int) [][]byte {
	tb.Helper()
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var bodies [][]byte
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range n {
		token := i % 1000
		e := audit.Event{
			ID:        "load-" + strconv.Itoa(i),
			Time:      start.Add(time.Duration(i) * time.Millisecond),
			Kind:      audit.KindUsed,
			TokenID:   fmt.Sprintf("tok-%04d", token),
			Subject:   fmt.Sprintf("user-%03d", token%200),
			Issuer:    "https://idp.example.com/realms/prod",
			IP:        netip.AddrFrom4([4]byte{198, 51, byte(100 + token%4), byte(token % 125)}),
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			Method:    "GET",
			Path:      "/api/orders",
			Status:    200,
			ExpiresAt: start.Add(24 * time.Hour),
			Source:    "orders-api/instance-1",
		}
		if err := enc.Encode(e); err != nil {
			tb.Fatal(err)
		}
		if (i+1)%loadBatch == 0 || i == n-1 {
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			buf.Reset()
		}
	}
	return bodies
}

// TestIngestLoad sends batches of NDJSON from several clients and checks
// that every event accepted is stored, with live detection and without.
// It logs the rate and the request latency; it asserts no time, which
// depends on the machine.
func TestIngestLoad(t *testing.T) {
	n := defaultLoadEvents
	if v := os.Getenv("TOKENTRAIL_LOAD_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("TOKENTRAIL_LOAD_EVENTS = %q, want a positive whole number", v)
		}
	}
	bodies := loadBodies(t, n)
	t.Run("detection", func(t *testing.T) { runLoad(t, bodies, n, true) })
	t.Run("no detection", func(t *testing.T) { runLoad(t, bodies, n, false) })
}

func runLoad(t *testing.T, bodies [][]byte, n int, detection bool) {
	engine, err := detect.New(detect.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *Config) {
		if detection {
			c.Detector = engine
		}
		c.RatePerKey, c.RateBurst = 1e9, 1e9
	})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: loadClients}}
	work := make(chan []byte)
	type outcome struct {
		accepted int
		latency  time.Duration
		err      error
	}
	results := make(chan outcome, len(bodies))
	var wg sync.WaitGroup
	for range loadClients {
		wg.Go(func() {
			for body := range work {
				req, err := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/events", bytes.NewReader(body))
				if err != nil {
					results <- outcome{err: err}
					continue
				}
				req.Header.Set("Authorization", "Bearer "+ts.keys.ingest)
				req.Header.Set("Content-Type", "application/x-ndjson")
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					results <- outcome{err: err}
					continue
				}
				var res ingestResult
				err = json.NewDecoder(resp.Body).Decode(&res)
				resp.Body.Close()
				if err == nil && (resp.StatusCode != http.StatusOK || len(res.Rejected) > 0) {
					err = fmt.Errorf("status %d, %d rejected", resp.StatusCode, len(res.Rejected))
				}
				results <- outcome{accepted: res.Accepted, latency: time.Since(sent), err: err}
			}
		})
	}

	start := time.Now()
	for _, b := range bodies {
		work <- b
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	close(results)

	accepted := 0
	var latencies []time.Duration
	for r := range results {
		if r.err != nil {
			t.Fatalf("ingest request: %v", r.err)
		}
		accepted += r.accepted
		latencies = append(latencies, r.latency)
	}
	stored, err := ts.db.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if accepted != n || stored != int64(n) {
		t.Errorf("accepted %d and stored %d events, want %d each", accepted, stored, n)
	}
	if err := ts.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dropped := metricValue(t, ts, "tokentrail_detect_dropped_events_total")
	writing, err := strconv.ParseFloat(metricValue(t, ts, `tokentrail_store_duration_seconds_sum{op="append_batches"}`), 64)
	if err != nil {
		t.Fatal(err)
	}
	transactions := metricValue(t, ts, `tokentrail_store_duration_seconds_count{op="append_batches"}`)

	slices.Sort(latencies)
	p := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("%d events in %d requests of %d from %d clients: %.0f events/s; request latency p50 %s, p99 %s; "+
		"store writing %.0f%% of the time in %s transactions; detection dropped %s events",
		n, len(bodies), loadBatch, loadClients, float64(n)/elapsed.Seconds(), p(0.50).Round(time.Millisecond), p(0.99).Round(time.Millisecond),
		100*writing/elapsed.Seconds(), transactions, dropped)
}

// metricValue returns the value of an unlabelled metric as /metrics
// prints it.
func metricValue(tb testing.TB, ts *testServer, name string) string {
	tb.Helper()
	_, data := ts.do(tb, http.MethodGet, "/metrics", "", nil)
	for _, line := range bytes.Split(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(name+" ")); ok {
			return string(v)
		}
	}
	tb.Fatalf("/metrics lacks %s", name)
	return ""
}
