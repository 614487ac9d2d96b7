package enrich

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
)

// pipelineTokens is the number of active tokens the pipeline benchmark
// cycles through, one event each in turn.
const pipelineTokens = 100_000

// BenchmarkPipeline measures what detection costs a stream of events whose
// logs carry no location. Each event goes through Enrich with the city and
// ASN databases and the user-agent parser, then Observe with every default
// rule plus threat_intel_ip and unknown_token, over 100,000 active tokens.
// Beside it, slog's JSON handler logs the same fields of each event to
// io.Discard.
func BenchmarkPipeline(b *testing.B) {
	city, asn, addrs := writeBenchDatabases(b)
	lists := filepath.Join(b.TempDir(), "blocklist.txt")
	writeFileAtomic(b, lists, []byte("192.0.2.0/24\n"))

	// Each token has its own address and subject, and a browser user
	// agent, so that the rules keep state for every token but raise
	// nothing.
	tokens := make([]string, pipelineTokens)
	subjects := make([]string, pipelineTokens)
	ids := make([]string, 4*pipelineTokens)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("jti-%08d", i)
		subjects[i] = fmt.Sprintf("user-%06d@example.com", i%20_000)
	}
	for i := range ids {
		ids[i] = audit.NewID("pipeline", fmt.Sprint(i))
	}
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	networks := len(addrs)
	next := func(e *audit.Event, n int) {
		i := n % pipelineTokens
		kind := audit.KindUsed
		if n < pipelineTokens {
			kind = audit.KindIssued
		}
		*e = audit.Event{
			ID:        ids[n%len(ids)],
			Time:      start.Add(time.Duration(n) * time.Millisecond),
			Kind:      kind,
			TokenID:   tokens[i],
			Issuer:    "https://login.example.com",
			IssuedAt:  start.Add(time.Duration(i) * time.Millisecond),
			Subject:   subjects[i],
			IP:        addrs[i%networks],
			UserAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
			Method:    "GET",
			Path:      "/api/orders",
			Status:    200,
		}
	}

	// The tokens' addresses are spread over all 50,000 networks of the
	// databases, more than the cache holds, or over 5,000 of them, as when
	// many users share offices and carriers.
	for _, variant := range []struct {
		name      string
		networks  int
		cacheSize int
	}{
		{"enrich+detect/50000-networks", 50_000, 0},
		{"enrich+detect/50000-networks/no-geo-cache", 50_000, -1},
		{"enrich+detect/5000-networks", 5_000, 0},
		{"enrich+detect/5000-networks/no-geo-cache", 5_000, -1},
	} {
		b.Run(variant.name, func(b *testing.B) {
			networks = variant.networks
			benchPipeline(b, Config{CityDB: city, ASNDB: asn, GeoCacheSize: variant.cacheSize, Lists: []ListConfig{{Name: "blocklist", Path: lists}}}, next)
		})
	}
	b.Run("slog-json", func(b *testing.B) {
		logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
		ctx := context.Background()

		var e audit.Event
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			next(&e, n)
			logger.LogAttrs(ctx, slog.LevelInfo, "token used",
				slog.String("id", e.ID),
				slog.Time("event_time", e.Time),
				slog.String("kind", e.Kind.String()),
				slog.String("token_id", e.TokenID),
				slog.String("subject", e.Subject),
				slog.Any("ip", e.IP),
				slog.String("user_agent", e.UserAgent),
				slog.String("method", e.Method),
				slog.String("path", e.Path),
				slog.Int("status", e.Status),
			)
			n++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// benchPipeline runs the timed loop of BenchmarkPipeline with an Enricher
// of cfg.
func benchPipeline(b *testing.B, cfg Config, next func(*audit.Event, int)) {
	en, _ := newEnricher(b, cfg)
	eng, err := detect.New(detect.Config{
		Rules:      detect.Rules{UnknownToken: detect.UnknownToken{Issuers: []string{"https://login.example.com"}}},
		UserAgents: en,
		IPLists:    en,
	})
	if err != nil {
		b.Fatal(err)
	}

	// Three rounds first, so that every token has its state before
	// the timer starts.
	var e audit.Event
	n := 0
	for ; n < 3*pipelineTokens; n++ {
		next(&e, n)
		en.Enrich(&e)
		if out := eng.Observe(e); len(out) != 0 {
			b.Fatalf("benign stream raised %+v", out[0])
		}
	}

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		next(&e, n)
		en.Enrich(&e)
		if out := eng.Observe(e); len(out) != 0 {
			b.Fatalf("benign stream raised %+v", out[0])
		}
		n++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
