package natsjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
)

var _ recorder.Writer = (*Publisher)(nil)

// PublisherOptions configures a Publisher. The zero PublisherOptions is
// valid: NewPublisher replaces each zero field with the default in its
// comment.
type PublisherOptions struct {
	SubjectPrefix string        // prefix of the subject of each kind; default DefaultSubjectPrefix
	MaxInFlight   int           // publishes of one Append waiting for their ack; default 256
	AckTimeout    time.Duration // time JetStream has to acknowledge one publish; default 5s
}

// The defaults that NewPublisher applies to zero fields of
// PublisherOptions.
const (
	DefaultMaxInFlight = 256
	DefaultAckTimeout  = 5 * time.Second
)

// Publisher publishes batches of events to JetStream. It implements
// recorder.Writer, so a recorder.Recorder writes to it as to a store. It is
// safe for concurrent use, and it never closes the connection it was given.
type Publisher struct {
	js          jetstream.JetStream
	prefix      string
	maxInFlight int

	// mu guards acked: the IDs that JetStream acknowledged during the last
	// Append, when that Append failed. A retry of the batch skips them
	// instead of publishing them again, so that they count as published,
	// not as duplicates, and cannot be stored twice when the retry comes
	// after the duplicate window.
	mu    sync.Mutex
	acked map[string]struct{}
}

// NewPublisher returns a Publisher that publishes on nc, with opts
// completed by the defaults documented on PublisherOptions. The subjects
// must belong to a stream (see StreamConfig), or every publish fails.
func NewPublisher(nc *nats.Conn, opts PublisherOptions) (*Publisher, error) {
	if opts.SubjectPrefix == "" {
		opts.SubjectPrefix = DefaultSubjectPrefix
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = DefaultAckTimeout
	}
	// Without a timeout, a publish whose ack never came would stay pending
	// in the JetStream context for the life of the connection.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(opts.AckTimeout))
	if err != nil {
		return nil, fmt.Errorf("natsjs: open JetStream: %w", err)
	}
	return &Publisher{js: js, prefix: opts.SubjectPrefix, maxInFlight: opts.MaxInFlight}, nil
}

// Append publishes each event to the subject of its kind, with its ID as
// the Nats-Msg-Id header, at most MaxInFlight at a time, and waits for
// JetStream's acks. It counts an event that the stream had already
// received within its duplicate window as a duplicate.
//
// Append publishes nothing when an event is invalid (audit.Event.Validate),
// so that no raw token leaves the process, and returns an error wrapping
// audit.ErrInvalidValue. When some events were not acknowledged, it returns
// the counts of those that were and a *PublishError. That error wraps
// store.ErrClosed when the connection is closed, so that the recorder does
// not retry. A retry of the same batch publishes only the events not
// acknowledged before.
func (p *Publisher) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return store.Appended{}, fmt.Errorf("natsjs: event %d of %d (id %q): %w", i, len(events), audit.RedactTokens(events[i].ID), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return store.Appended{}, err
	}

	p.mu.Lock()
	before := p.acked
	p.acked = nil
	p.mu.Unlock()

	b := batch{ctx: ctx, events: events, pending: make([]pending, 0, min(len(events), p.maxInFlight))}
	for i := range events {
		e := &events[i]
		if _, ok := before[e.ID]; ok {
			b.res.Inserted++
			b.acked = append(b.acked, e.ID)
			continue
		}
		if len(b.pending) == p.maxInFlight {
			b.waitOldest()
		}
		// Once ctx has ended or the connection is closed, no later
		// publish can succeed.
		if err := b.stopped(); err != nil {
			b.fail(i, len(events)-i, err)
			break
		}
		if err := p.publish(e, &b, i); err != nil {
			b.fail(i, 1, err)
		}
	}
	for len(b.pending) > 0 {
		b.waitOldest()
	}

	if b.err == nil {
		return b.res, nil
	}
	p.mu.Lock()
	p.acked = make(map[string]struct{}, len(b.acked))
	for _, id := range b.acked {
		p.acked[id] = struct{}{}
	}
	p.mu.Unlock()
	return b.res, &PublishError{Failed: b.failed, Events: len(events), FirstFailedID: events[b.firstFailed].ID, Err: b.err}
}

// publish sends one event without waiting for its ack.
func (p *Publisher) publish(e *audit.Event, b *batch, i int) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	msg := &nats.Msg{
		Subject: Subject(p.prefix, e.Kind),
		Header:  nats.Header{jetstream.MsgIDHeader: []string{e.ID}},
		Data:    data,
	}
	ack, err := p.js.PublishMsgAsync(msg)
	if err != nil {
		return publishError(err)
	}
	b.pending = append(b.pending, pending{index: i, ack: ack})
	return nil
}

// publishError wraps store.ErrClosed into err when the connection is
// closed, since a retry cannot succeed then.
func publishError(err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}

// batch is the state of one Append.
type batch struct {
	ctx     context.Context
	events  []audit.Event
	pending []pending // oldest first
	res     store.Appended
	acked   []string // IDs acknowledged, for a retry

	failed      int
	firstFailed int   // index of the first failed event
	err         error // the first failure
}

// pending is a publish waiting for its ack.
type pending struct {
	index int
	ack   jetstream.PubAckFuture
}

// waitOldest waits for the ack of the oldest pending publish, or for ctx
// to end, and counts the outcome.
func (b *batch) waitOldest() {
	p := b.pending[0]
	b.pending = b.pending[1:]
	select {
	case ack := <-p.ack.Ok():
		if ack.Duplicate {
			b.res.Duplicates++
		} else {
			b.res.Inserted++
		}
		b.acked = append(b.acked, b.events[p.index].ID)
	case err := <-p.ack.Err():
		b.fail(p.index, 1, publishError(err))
	case <-b.ctx.Done():
		b.fail(p.index, 1, b.ctx.Err())
	}
}

// stopped returns the error that ends the batch early: ctx's, or that of
// a closed connection.
func (b *batch) stopped() error {
	if err := b.ctx.Err(); err != nil {
		return err
	}
	if b.err != nil && errors.Is(b.err, store.ErrClosed) {
		return b.err
	}
	return nil
}

// fail counts n events from index i as not acknowledged because of err.
func (b *batch) fail(i, n int, err error) {
	if b.err == nil || i < b.firstFailed {
		b.firstFailed = i
	}
	if b.err == nil {
		b.err = err
	}
	b.failed += n
}

// PublishError reports the events of one Append that JetStream did not
// acknowledge. They may still have reached the stream, so a retry
// publishes them again with the same Nats-Msg-Id.
type PublishError struct {
	Failed        int    // events not acknowledged
	Events        int    // events in the batch
	FirstFailedID string // ID of the first event not acknowledged, to find it in logs
	Err           error  // the first failure
}

// Error returns "natsjs: N of M events not acknowledged (first ID): cause".
func (e *PublishError) Error() string {
	return fmt.Sprintf("natsjs: %d of %d events not acknowledged by JetStream (first %s): %v", e.Failed, e.Events, e.FirstFailedID, e.Err)
}

// Unwrap returns the first failure.
func (e *PublishError) Unwrap() error { return e.Err }
