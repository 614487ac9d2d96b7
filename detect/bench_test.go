package detect

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/tokentrail/tokentrail/audit"
)

// benchTokens is the number of active tokens the benchmark cycles through.
const benchTokens = 100_000

// benchStream makes events of benchTokens tokens in turn, one event a
// millisecond of event time: the first round issues each token, the later
// rounds use it. Each token has its own subject, session, location and two
// addresses of one /24, and every token has the same user agent, so the
// rules keep state for every token and network but raise nothing.
type benchStream struct {
	tokens   []string
	subjects []string
	ids      []string // reused, so that making an event allocates nothing
	ips      []netip.Addr
	n        int
}

func newBenchStream() *benchStream {
	s := &benchStream{
		tokens:   make([]string, benchTokens),
		subjects: make([]string, benchTokens),
		ids:      make([]string, 2*benchTokens),
		ips:      make([]netip.Addr, benchTokens),
	}
	for i := range benchTokens {
		s.tokens[i] = fmt.Sprintf("jti-%08d", i)
		s.subjects[i] = fmt.Sprintf("user-%06d@example.com", i%20_000)
		s.ips[i] = netip.AddrFrom4([4]byte{byte(11 + i>>16), byte(i >> 8), byte(i), 0})
	}
	for i := range s.ids {
		s.ids[i] = audit.NewID("bench", fmt.Sprint(i))
	}
	return s
}

func (s *benchStream) next(e *audit.Event) {
	i := s.n % benchTokens
	ip := s.ips[i].As4()
	ip[3] = byte(1 + s.n/benchTokens%2)
	kind := audit.KindUsed
	if s.n < benchTokens {
		kind = audit.KindIssued
	}
	*e = audit.Event{
		ID:        s.ids[s.n%len(s.ids)],
		Time:      t0.Add(time.Duration(s.n) * time.Millisecond),
		Kind:      kind,
		TokenID:   s.tokens[i],
		Issuer:    benchIssuer,
		IssuedAt:  t0.Add(time.Duration(i) * time.Millisecond),
		Subject:   s.subjects[i],
		SessionID: s.tokens[i],
		IP:        netip.AddrFrom4(ip),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
		Geo: audit.Geo{
			Country: "FR", City: "Paris", Latitude: 48.85 + float64(i%100)/1000, Longitude: 2.35,
			AccuracyKM: 20, ASN: 64496,
		},
		Method: "GET",
		Path:   "/api/orders",
		Status: 200,
	}
	s.n++
}

// benchIssuer is the issuer of the benchmark's tokens, whose issuances are
// recorded.
const benchIssuer = "https://login.example.com"

// benchUserAgents classifies the benchmark's one user agent by a string
// comparison, so that the benchmark measures the engine, not a parser.
type benchUserAgents struct{}

func (benchUserAgents) UserAgent(ua string) (family, major string) {
	if ua == "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0" {
		return "Firefox", "128"
	}
	return "Other", ""
}

// benchLists holds one documentation range, which no benchmark address is
// in.
type benchLists struct{}

func (benchLists) Lists(ip netip.Addr) []string {
	if benchListed.Contains(ip) {
		return []string{"blocklist"}
	}
	return nil
}

var benchListed = netip.MustParsePrefix("192.0.2.0/24")

// benchConfig turns on every rule: the defaults, with recorded issuances,
// user-agent families and a threat-intel list.
func benchConfig() Config {
	return Config{
		Rules:      Rules{UnknownToken: UnknownToken{Issuers: []string{benchIssuer}}},
		UserAgents: benchUserAgents{},
		IPLists:    benchLists{},
	}
}

// benchCustomRules are two typical custom rules: one on a token's scopes
// and networks, one on the subject's known countries.
var benchCustomRules = []CustomRule{
	{Name: "admin_scope_from_new_network", Expression: `"admin" in event.scopes && token.distinct_networks > 1`, Severity: audit.SeverityHigh},
	{Name: "known_subject_new_country", Expression: `event.kind == "used" && subject.events > 20 && !(event.country in subject.known_countries)`},
}

// BenchmarkObserve measures Observe with every built-in rule on over
// benchTokens active tokens, then with two custom rules as well, and beside
// them slog's JSON handler logging the same event to io.Discard. It also
// reports the heap that the engine holds per active token once every token
// has state, network and subject state and the table of first users
// included, and the part of it that is subject state, per subject.
func BenchmarkObserve(b *testing.B) {
	b.Run("detect", func(b *testing.B) {
		// The state of an engine without subject state, to tell what the
		// subjects take.
		noSubjects := benchConfig()
		noSubjects.Rules.UnfamiliarClient.Disabled = true
		other, err := New(noSubjects)
		if err != nil {
			b.Fatal(err)
		}
		withoutSubjects, _ := stateBytesPerToken(b, other, newBenchStream())
		other = nil

		stream := newBenchStream()
		eng, err := New(benchConfig())
		if err != nil {
			b.Fatal(err)
		}
		perToken, reorderBytes := stateBytesPerToken(b, eng, stream)
		subjects := eng.Stats().Subjects
		perSubject := (perToken - withoutSubjects) * benchTokens / float64(subjects)

		var e audit.Event
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		for b.Loop() {
			stream.next(&e)
			if out := eng.Observe(e); len(out) != 0 {
				b.Fatalf("benign stream raised %+v", out[0])
			}
		}
		cpu.report(b)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(perToken, "B/token")
		b.ReportMetric(perSubject, "B/subject")
		b.ReportMetric(reorderBytes/(1<<20), "reorder-MiB")
	})

	b.Run("detect-custom", func(b *testing.B) {
		stream := newBenchStream()
		cfg := benchConfig()
		cfg.CustomRules = benchCustomRules
		eng, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		perToken, _ := stateBytesPerToken(b, eng, stream)

		var e audit.Event
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		for b.Loop() {
			stream.next(&e)
			if out := eng.Observe(e); len(out) != 0 {
				b.Fatalf("benign stream raised %+v", out[0])
			}
		}
		cpu.report(b)
		if n := eng.Stats().CustomRuleErrors; n != 0 {
			b.Fatalf("custom rules failed %d times", n)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(perToken, "B/token")
	})

	b.Run("slog-json", func(b *testing.B) {
		stream := newBenchStream()
		logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
		ctx := context.Background()

		var e audit.Event
		b.ReportAllocs()
		b.ResetTimer()
		cpu := startCPU()
		for b.Loop() {
			stream.next(&e)
			logger.LogAttrs(ctx, slog.LevelInfo, "token used",
				slog.String("id", e.ID),
				slog.Time("event_time", e.Time),
				slog.String("kind", e.Kind.String()),
				slog.String("token_id", e.TokenID),
				slog.String("subject", e.Subject),
				slog.Any("ip", e.IP),
				slog.String("user_agent", e.UserAgent),
				slog.Float64("lat", e.Geo.Latitude),
				slog.Float64("lon", e.Geo.Longitude),
				slog.Uint64("asn", uint64(e.Geo.ASN)),
			)
		}
		cpu.report(b)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// cpuMeter reports the process's CPU time per iteration of a benchmark
// loop as cpu-ns/op, when the system gives it.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	start, ok := processCPUTime()
	return cpuMeter{start, ok}
}

func (m cpuMeter) report(b *testing.B) {
	end, ok := processCPUTime()
	if m.ok && ok {
		b.ReportMetric(float64(end-m.start)/float64(b.N), "cpu-ns/op")
	}
}

// stateBytesPerToken feeds eng three rounds of events of every token,
// flushes it, and returns the growth of the live heap divided by the number
// of tokens, without the reorder buffer, and the size of that buffer. The
// buffer is per engine: it grows with the event rate times ReorderWindow,
// not with the tokens, and after Flush it is empty but keeps its capacity.
// The stream's own tables exist before the first reading, so they are not
// counted.
func stateBytesPerToken(b *testing.B, eng *Engine, stream *benchStream) (perToken, reorderBytes float64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var e audit.Event
	for range 3 * benchTokens {
		stream.next(&e)
		if out := eng.Observe(e); len(out) != 0 {
			b.Fatalf("benign stream raised %+v", out[0])
		}
	}
	if out := eng.Flush(); len(out) != 0 {
		b.Fatalf("benign stream raised %+v", out[0])
	}

	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := eng.Stats().Tokens; got != benchTokens {
		b.Fatalf("engine keeps %d tokens, want %d", got, benchTokens)
	}
	reorderBytes = float64(cap(eng.mu.pending)) * float64(unsafe.Sizeof(audit.Event{}))
	grown := float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
	// The stream must stay live through the second reading, or its tables
	// would count as freed state when the caller does not use it again.
	runtime.KeepAlive(stream)
	return (grown - reorderBytes) / benchTokens, reorderBytes
}
