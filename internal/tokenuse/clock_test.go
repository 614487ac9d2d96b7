package tokenuse

import (
	"testing"
	"time"
)

func TestSystemClockFollowsWallClock(t *testing.T) {
	c := newSystemClock()

	for range 1000 {
		before := time.Now().UnixNano()
		got := c.Now().UnixNano()
		after := time.Now().UnixNano()

		// The offset was measured with two reads some microseconds
		// apart, so a time may fall that far outside [before, after].
		// The slack also covers a thread suspended between them.
		const slack = int64(100 * time.Millisecond)
		if got < before-slack || got > after+slack {
			t.Fatalf("systemClock.Now() = %d, want within %d ns of [%d, %d]", got, slack, before, after)
		}
	}
}

func TestSystemClockResyncsAfterStep(t *testing.T) {
	c := newSystemClock()
	// A wrong offset stands for a wall clock step after the last resync.
	c.offset.Add(int64(time.Hour))
	c.synced.Add(-int64(2 * resyncEvery))

	got := c.Now()

	if d := time.Since(got); d > time.Minute || d < -time.Minute {
		t.Errorf("systemClock.Now() after a step = %v, %v from time.Now, want the offset measured again", got, d)
	}
	if d := time.Since(c.Now()); d > time.Minute || d < -time.Minute {
		t.Errorf("systemClock.Now() after the resync is %v from time.Now, want the new offset kept", d)
	}
}

// BenchmarkClock compares the Tracker's default clock with time.Now:
//
//	go test -run '^$' -bench BenchmarkClock -count 3 ./internal/tokenuse
func BenchmarkClock(b *testing.B) {
	var sink time.Time
	b.Run("time_now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = time.Now()
		}
	})
	b.Run("system_clock", func(b *testing.B) {
		c := newSystemClock()
		b.ReportAllocs()
		for b.Loop() {
			sink = c.Now()
		}
	})
	_ = sink
}
