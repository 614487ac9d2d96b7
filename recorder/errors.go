package recorder

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by Flush once Close has been called.
var ErrClosed = errors.New("recorder: closed")

// ErrInvalidOption is wrapped by the error of Overflow.UnmarshalText when the
// text names no policy.
var ErrInvalidOption = errors.New("recorder: invalid option")

// LostError reports a batch that the Writer did not store after every
// attempt. The events are counted in Stats.Lost. Options.OnError receives
// it, and the errors of Flush and Close wrap it when a batch of theirs was
// lost.
type LostError struct {
	Events       int    // events in the lost batch
	Attempts     int    // Append calls made, 1 plus the retries
	FirstEventID string // ID of the first event of the batch, to find it in logs
	Err          error  // the last Append error
}

// Error returns "recorder: N events lost after M attempts: cause".
func (e *LostError) Error() string {
	return fmt.Sprintf("recorder: %s lost after %s: %v", count(e.Events, "event"), count(e.Attempts, "attempt"), e.Err)
}

// Unwrap returns the last Append error.
func (e *LostError) Unwrap() error { return e.Err }

// count returns n and noun, with an "s" unless n is 1.
func count[N int | uint64](n N, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
