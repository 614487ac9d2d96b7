package detect

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// churnStream makes a stream in which tokens come and go. churnActive tokens
// are in use at a time, and each is used churnUses times and then never
// again. Its slot then goes to a new token of a new subject from a new
// address. Every 50th use is a forged token refused at that address. Events
// are 1 ms apart in event time.
type churnStream struct {
	n int
}

const (
	churnActive = 50_000
	churnUses   = 4
)

func (s *churnStream) next(e *audit.Event) {
	slot := s.n % churnActive
	generation := s.n / (churnActive * churnUses)
	token := generation*churnActive + slot
	kind := audit.KindUsed
	var reason audit.RejectReason
	switch {
	case s.n/churnActive%churnUses == 0:
		kind = audit.KindIssued
	case s.n%50 == 0:
		// A forged token from the same address, which gives the
		// network state of its own.
		kind, reason = audit.KindRejected, audit.RejectBadSignature
	}

	// Each token has its own address, spread over the public IPv4 space,
	// so that network state churns with the tokens.
	h := uint32(token) * 2654435761
	ip := netip.AddrFrom4([4]byte{byte(11 + h>>24%180), byte(h >> 16), byte(h >> 8), byte(h)})

	*e = audit.Event{
		ID:           strconv.Itoa(s.n),
		Time:         t0.Add(time.Duration(s.n) * time.Millisecond),
		Kind:         kind,
		RejectReason: reason,
		TokenID:      "jti-" + strconv.Itoa(token),
		Issuer:       benchIssuer,
		Subject:      "user-" + strconv.Itoa(token/3),
		IP:           ip,
		UserAgent:    "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
		Geo:          audit.Geo{Country: "FR", Latitude: 48.85, Longitude: 2.35, AccuracyKM: 20, ASN: 64496},
	}
	s.n++
}

// TestMemoryFlatWithChurn feeds the engine a long stream of tokens that
// come and go, and checks that the live heap stops growing once the state
// bounds are reached. TOKENTRAIL_CHURN_EVENTS sets the length of the stream
// (default 1,500,000, with state bounds small enough to be reached early).
// With a length of 10,000,000 or more it runs with the default bounds, as
// docs/benchmarks.md records:
//
//	TOKENTRAIL_CHURN_EVENTS=10000000 go test -run TestMemoryFlatWithChurn -v -timeout 30m ./detect
func TestMemoryFlatWithChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: it feeds 1,500,000 events")
	}
	events := 1_500_000
	if v := os.Getenv("TOKENTRAIL_CHURN_EVENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100_000 {
			t.Fatalf("TOKENTRAIL_CHURN_EVENTS=%q: want a whole number of at least 100000", v)
		}
		events = n
	}

	cfg := benchConfig()
	if events < 10_000_000 {
		// Small bounds, so that the short run reaches them within its
		// first fifth.
		cfg.MaxTokens = 60_000
		cfg.TokenTTL = 2 * time.Minute
		cfg.NetworkState.MaxNetworks = 5_000
		cfg.NetworkState.FirstUseSlots = 1 << 14
		cfg.SubjectState.MaxSubjects = 20_000
	}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	// The heap is read after a collection at ten points; the first three
	// are the warm-up, in which the state fills up to its bounds.
	const points = 10
	var heap [points]uint64
	var stream churnStream
	var e audit.Event
	for p := range points {
		for range events / points {
			stream.next(&e)
			eng.Observe(e)
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		heap[p] = m.HeapAlloc
		st := eng.Stats()
		t.Logf("%9d events: heap %6.1f MiB, tokens %d, networks %d, evicted %d by count and %d by age",
			stream.n, float64(m.HeapAlloc)/(1<<20), st.Tokens, st.Networks, st.EvictedByCount, st.EvictedByAge)
	}

	st := eng.Stats()
	if st.EvictedByCount+st.EvictedByAge == 0 {
		t.Fatalf("no token state was evicted over %d events: the stream did not churn", events)
	}
	if st.Anomalies != 0 {
		t.Errorf("benign churn raised %d anomalies", st.Anomalies)
	}

	low, high := heap[3], heap[3]
	for _, h := range heap[3:] {
		low, high = min(low, h), max(high, h)
	}
	// Flat means within a tenth of the lowest reading after the warm-up,
	// plus 4 MiB for the collector's own variation.
	if limit := low + low/10 + 4<<20; high > limit {
		t.Errorf("live heap grew after the state bounds were reached: %s", formatHeap(heap[:]))
	}
}

func formatHeap(heap []uint64) string {
	s := ""
	for i, h := range heap {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.1f MiB", float64(h)/(1<<20))
	}
	return s
}
