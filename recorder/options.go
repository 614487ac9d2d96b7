package recorder

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Options configures a Recorder. The zero Options is valid: New replaces
// each zero field with the default named in its comment. New allocates the
// queue at once: QueueSize events plus two batches, about 5 MiB with the
// defaults.
type Options struct {
	QueueSize     int           // events the queue holds before Overflow applies; default 8192
	BatchSize     int           // maximum events in one Writer.Append; default 512
	FlushInterval time.Duration // time after which a partial batch is written anyway; default 1s

	Overflow     Overflow      // policy of Record when the queue is full; default DropNewest
	BlockTimeout time.Duration // maximum wait for room in the queue under Block; default 100ms

	WriteTimeout time.Duration // deadline of each Writer.Append call; default 5s
	Retries      int           // extra Append attempts after a failure; default 3, negative for none
	// A batch that Append refuses as invalid (an error wrapping
	// audit.ErrInvalidValue) is not retried but split in halves, down to
	// single events and at most 128 Append calls, so that an event the
	// Writer cannot hold is lost alone.
	RetryBackoff time.Duration // wait before the first retry, doubled for each later one up to 30s; default 100ms

	// Logger receives drops, invalid events, retries and lost batches;
	// default slog.Default(), so that a lost event is never silent. Raw
	// tokens never reach it: only jti and fingerprint.
	Logger *slog.Logger

	// Clock stamps events whose Time is zero; default time.Now. The result is
	// converted to UTC.
	Clock func() time.Time

	// OnError, when set, is called from the flusher goroutine with a
	// *LostError each time a batch is given up. It must not block for long,
	// because the queue is not drained while it runs, and it must not call
	// Flush or Close, which wait for that goroutine.
	OnError func(error)

	// OnWritten, when set, is called from the flusher goroutine with the
	// events of each batch once the Writer stored them, in the order they
	// were recorded: a detection engine observes the service this way. The
	// slice is reused after the call returns. The same rules as for
	// OnError apply: it must not block for long, nor call Flush or Close.
	OnWritten func(events []audit.Event)
}

// The defaults that New applies to zero fields of Options.
const (
	DefaultQueueSize     = 8192
	DefaultBatchSize     = 512
	DefaultFlushInterval = time.Second
	DefaultBlockTimeout  = 100 * time.Millisecond
	DefaultWriteTimeout  = 5 * time.Second
	DefaultRetries       = 3
	DefaultRetryBackoff  = 100 * time.Millisecond

	// maxRetryBackoff caps the doubling of RetryBackoff, so that a long
	// outage does not leave the flusher asleep for minutes after the Writer
	// has recovered.
	maxRetryBackoff = 30 * time.Second
)

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.BlockTimeout <= 0 {
		o.BlockTimeout = DefaultBlockTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return o
}

// Overflow is the policy Record follows when the queue is full. The zero
// Overflow is DropNewest.
type Overflow uint8

// The overflow policies.
const (
	// DropNewest rejects the event being recorded and counts it in
	// Stats.Dropped. The caller does not wait for room.
	DropNewest Overflow = iota

	// Block waits up to Options.BlockTimeout for room in the queue, then
	// drops the event like DropNewest. It slows callers down to the speed
	// of the Writer instead of losing events during short bursts.
	Block
)

var overflowNames = [...]string{
	DropNewest: "drop_newest",
	Block:      "block",
}

// String returns "drop_newest" or "block", or "overflow(N)" for an invalid
// value.
func (o Overflow) String() string {
	if int(o) < len(overflowNames) {
		return overflowNames[o]
	}
	return fmt.Sprintf("overflow(%d)", uint8(o))
}

// MarshalText encodes o as its name.
func (o Overflow) MarshalText() ([]byte, error) {
	if int(o) >= len(overflowNames) {
		return nil, fmt.Errorf("recorder: invalid overflow policy %d", uint8(o))
	}
	return []byte(overflowNames[o]), nil
}

// UnmarshalText decodes "drop_newest" or "block", as a configuration file
// spells the policy.
func (o *Overflow) UnmarshalText(text []byte) error {
	for v, name := range overflowNames {
		if name == string(text) {
			*o = Overflow(v)
			return nil
		}
	}
	return fmt.Errorf("%w: overflow policy %q (want drop_newest or block)", ErrInvalidOption, text)
}
