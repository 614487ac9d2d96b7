package storetest

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
)

func TestGenerateCountsAndValidity(t *testing.T) {
	tests := []struct {
		name           string
		tokens, events int
	}{
		{"one token", 1, 20},
		{"chain remainder", 7, 20},
		{"single event tokens", 12, 1},
		{"two events a token", 12, 2},
		{"larger", 600, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := Generate(1, tt.tokens, tt.events)

			if len(events) != tt.tokens*tt.events {
				t.Fatalf("Generate(1, %d, %d) returned %d events, want %d", tt.tokens, tt.events, len(events), tt.tokens*tt.events)
			}
			perToken := map[string]int{}
			ids := map[string]bool{}
			for i := range events {
				e := &events[i]
				if err := e.Validate(); err != nil {
					t.Fatalf("event %d (ID %s) Validate() = %v", i, e.ID, err)
				}
				if ids[e.ID] {
					t.Fatalf("event %d repeats ID %s", i, e.ID)
				}
				ids[e.ID] = true
				perToken[e.TokenID]++
			}
			if len(perToken) != tt.tokens {
				t.Errorf("distinct TokenIDs = %d, want %d", len(perToken), tt.tokens)
			}
			for token, n := range perToken {
				if n != tt.events {
					t.Errorf("token %s has %d events, want %d", token, n, tt.events)
				}
			}
		})
	}
}

func TestGenerateEmpty(t *testing.T) {
	for _, args := range [][2]int{{0, 20}, {-1, 20}, {5, 0}, {5, -3}} {
		if got := Generate(1, args[0], args[1]); len(got) != 0 {
			t.Errorf("Generate(1, %d, %d) returned %d events, want 0", args[0], args[1], len(got))
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := Generate(42, 50, 10)
	b := Generate(42, 50, 10)
	c := Generate(43, 50, 10)

	if !reflect.DeepEqual(a, b) {
		t.Errorf("Generate(42, 50, 10) differs between two calls")
	}
	if reflect.DeepEqual(a, c) {
		t.Errorf("Generate(42, ...) = Generate(43, ...), want different events for another seed")
	}
}

func TestGenerateSeqMatchesGenerate(t *testing.T) {
	want := Generate(9, 30, 10)
	var got []audit.Event
	for e := range GenerateSeq(9, 30, 10) {
		got = append(got, e)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GenerateSeq(9, 30, 10) differs from Generate(9, 30, 10)")
	}

	n := 0
	for range GenerateSeq(9, 30, 10) {
		n++
		if n == 5 {
			break
		}
	}
	if n != 5 {
		t.Errorf("GenerateSeq stopped after %d events, want 5 when the loop breaks", n)
	}
}

func TestGenerateTimeOrder(t *testing.T) {
	events := Generate(3, 300, 20)
	sorted := slices.IsSortedFunc(events, func(a, b audit.Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if !sorted {
		for i := 1; i < len(events); i++ {
			if events[i].Time.Before(events[i-1].Time) {
				t.Fatalf("event %d at %v comes after event %d at %v", i, events[i].Time, i-1, events[i-1].Time)
			}
		}
		t.Fatalf("events at the same time are not in ID order")
	}
}

// TestGenerateShape checks the properties that benchmarks rely on: the
// numbers of subjects and addresses, every kind present, refresh chains and
// the mix of address families.
func TestGenerateShape(t *testing.T) {
	const tokens = 1600
	events := Generate(5, tokens, 20)

	subjects := map[string]bool{}
	addresses := map[string]bool{}
	kinds := map[audit.Kind]int{}
	parents := map[string]bool{}
	tokenIDs := map[string]bool{}
	var v4, v6, mapped, withGeo int
	for _, e := range events {
		subjects[e.Subject] = true
		kinds[e.Kind]++
		tokenIDs[e.TokenID] = true
		if e.ParentTokenID != "" {
			parents[e.ParentTokenID] = true
		}
		if e.IP.IsValid() {
			addresses[e.IP.String()] = true
			switch {
			case e.IP.Is4():
				v4++
			case e.IP.Is4In6():
				mapped++
			default:
				v6++
			}
		}
		if !e.Geo.IsZero() {
			withGeo++
		}
	}

	if n := len(subjects); n < tokens/16/2 || n > tokens/16 {
		t.Errorf("distinct subjects = %d, want between %d and %d", n, tokens/16/2, tokens/16)
	}
	if n := len(addresses); n < tokens/12/2 || n > tokens/12 {
		t.Errorf("distinct addresses = %d, want between %d and %d", n, tokens/12/2, tokens/12)
	}
	for _, k := range audit.Kinds {
		// The generator writes token events only: sign-in session events
		// come from identity provider logs.
		if kinds[k] == 0 && k != audit.KindSession {
			t.Errorf("no event of kind %v", k)
		}
	}
	if kinds[audit.KindUsed] < len(events)/2 {
		t.Errorf("used events = %d of %d, want most", kinds[audit.KindUsed], len(events))
	}
	for parent := range parents {
		if !tokenIDs[parent] {
			t.Errorf("ParentTokenID %s names no generated token", parent)
		}
	}
	if want := tokens - tokens/chainLength; len(parents) != want {
		t.Errorf("tokens that are parents = %d, want %d (all but the last of each chain of %d)", len(parents), want, chainLength)
	}
	if v4 == 0 || v6 == 0 || mapped == 0 {
		t.Errorf("address families: IPv4 %d, IPv6 %d, IPv4-mapped %d, want each present", v4, v6, mapped)
	}
	if withGeo == 0 || withGeo == len(events) {
		t.Errorf("events with Geo = %d of %d, want some but not all (private addresses have none)", withGeo, len(events))
	}
}

func BenchmarkGenerateSeq(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		for range GenerateSeq(1, 500, 20) {
		}
	}
	b.ReportMetric(float64(b.N*500*20)/b.Elapsed().Seconds(), "events/s")
}
