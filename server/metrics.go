package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/time/rate"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// metrics are the server's Prometheus metrics, registered on the Config's
// registry, never on the global one.
type metrics struct {
	registry     *prometheus.Registry
	events       *prometheus.CounterVec   // ingested events by result
	dropped      prometheus.Counter       // events that skipped detection because its queue was full
	anomalies    *prometheus.CounterVec   // anomalies raised by rule
	storeSeconds *prometheus.HistogramVec // store calls by operation
	requests     *prometheus.CounterVec   // API requests by route and status
}

func newRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

func newMetrics(r *prometheus.Registry) *metrics {
	m := &metrics{
		registry: r,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_ingest_events_total",
			Help: "Events received by POST /api/v1/events, by result: accepted (newly stored), duplicate (already stored) or rejected (invalid).",
		}, []string{"result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokentrail_detect_dropped_events_total",
			Help: "Stored events that live detection did not check because its queue was full.",
		}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_anomalies_total",
			Help: "Anomalies that live detection raised on ingested events, by rule.",
		}, []string{"rule"}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokentrail_store_duration_seconds",
			Help:    "Duration of the server's store calls, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to about 4 s
		}, []string{"op"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokentrail_http_requests_total",
			Help: "API requests, by route and HTTP status.",
		}, []string{"route", "status"}),
	}
	r.MustRegister(m.events, m.dropped, m.anomalies, m.storeSeconds, m.requests)
	for _, result := range []string{"accepted", "duplicate", "rejected"} {
		m.events.WithLabelValues(result)
	}
	return m
}

// watchQueues registers the gauges of the queues' depths.
func (m *metrics) watchQueues(detection, commits func() float64) {
	m.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokentrail_detect_queue_events",
			Help: "Stored events waiting for live detection.",
		}, detection),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokentrail_ingest_queue_batches",
			Help: "Ingest requests whose events wait for the store's next transaction.",
		}, commits))
}

// timedStore is a Store whose calls the store latency histogram times.
type timedStore struct {
	Store
	seconds *prometheus.HistogramVec
}

func (t timedStore) observe(op string, start time.Time) {
	t.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (t timedStore) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	defer t.observe("append", time.Now())
	return t.Store.Append(ctx, events)
}

// timedBatches is a BatchAppender whose calls the store latency histogram
// times.
type timedBatches struct {
	BatchAppender
	seconds *prometheus.HistogramVec
}

func (t timedBatches) AppendBatches(ctx context.Context, batches [][]audit.Event) ([]store.Appended, error) {
	defer timedStore{seconds: t.seconds}.observe("append_batches", time.Now())
	return t.BatchAppender.AppendBatches(ctx, batches)
}

func (t timedStore) Events(ctx context.Context, q store.Query) ([]audit.Event, error) {
	defer t.observe("events", time.Now())
	return t.Store.Events(ctx, q)
}

func (t timedStore) TokenSummaries(ctx context.Context, q store.Query) ([]store.TokenSummary, error) {
	defer t.observe("token_summaries", time.Now())
	return t.Store.TokenSummaries(ctx, q)
}

func (t timedStore) AppendAnomalies(ctx context.Context, anomalies []audit.Anomaly) (store.Appended, error) {
	defer t.observe("append_anomalies", time.Now())
	return t.Store.AppendAnomalies(ctx, anomalies)
}

func (t timedStore) Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error) {
	defer t.observe("anomalies", time.Now())
	return t.Store.Anomalies(ctx, q)
}

func (t timedStore) Revocations(ctx context.Context, afterSeq int64, limit int) ([]audit.Event, int64, error) {
	defer t.observe("revocations", time.Now())
	return t.Store.Revocations(ctx, afterSeq, limit)
}

func (t timedStore) Count(ctx context.Context) (int64, error) {
	defer t.observe("count", time.Now())
	return t.Store.Count(ctx)
}

// allow takes one request from the rate limit of the key with id. When
// the key has none left it returns false and how long until it has.
func (s *Server) allow(id string) (time.Duration, bool) {
	s.limiters.Lock()
	l, ok := s.limiters.byKey[id]
	if !ok {
		// The map holds one limiter per key that authenticated, and keys
		// are few: an operator creates each.
		l = rate.NewLimiter(s.cfg.RatePerKey, s.cfg.RateBurst)
		s.limiters.byKey[id] = l
	}
	s.limiters.Unlock()

	now := s.cfg.Clock()
	res := l.ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return wait, false
	}
	return 0, true
}
