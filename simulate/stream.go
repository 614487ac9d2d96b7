package simulate

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// stream is the randomness and the event IDs of one actor: a subject, an
// attack, or the schedule of one subject's day. Each actor draws from its
// own generator, seeded by the simulation seed and the actor's name, so
// that one actor's draws never shift another's.
type stream struct {
	rng  *rand.Rand
	name string
	seed string
	seq  uint64
}

func newStream(seed uint64, name string) *stream {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &stream{
		rng:  rand.New(rand.NewPCG(seed, h.Sum64())),
		name: name,
		seed: strconv.FormatUint(seed, 10),
	}
}

// eventID returns the next event ID of the stream.
func (s *stream) eventID() string {
	s.seq++
	return audit.NewID("simulate", s.seed, s.name, strconv.FormatUint(s.seq, 10))
}

// uuid returns a random version 4 UUID, the form most identity providers
// give a jti.
func (s *stream) uuid() string {
	var b [16]byte
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
	for i := range 8 {
		b[i] = byte(hi >> (8 * i))
		b[8+i] = byte(lo >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// hex64 returns 64 random hex digits, the form of a token fingerprint.
func (s *stream) hex64() string {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		v := s.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// chance reports true with probability p.
func (s *stream) chance(p float64) bool { return s.rng.Float64() < p }

// between returns a duration drawn uniformly from [lo, hi).
func (s *stream) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

// intBetween returns an int drawn uniformly from [lo, hi].
func (s *stream) intBetween(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + s.rng.IntN(hi-lo+1)
}

// exp returns a duration drawn from the exponential distribution of the
// given mean, clamped to [lo, hi].
func (s *stream) exp(mean, lo, hi time.Duration) time.Duration {
	d := time.Duration(s.rng.ExpFloat64() * float64(mean))
	return min(max(d, lo), hi)
}

// pick returns a random element of list, which must not be empty.
func pick[T any](s *stream, list []T) T {
	return list[s.rng.IntN(len(list))]
}
