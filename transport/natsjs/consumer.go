package natsjs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Appender stores a batch of events; store.Store and *server.Server
// implement it. An event whose ID is stored already must count as a
// duplicate, not fail the call, because JetStream may deliver a message
// again.
type Appender interface {
	Append(ctx context.Context, events []audit.Event) (store.Appended, error)
}

// ConsumerOptions configures a Consumer. Stream is required; every other
// zero field gets the default in its comment.
type ConsumerOptions struct {
	Stream        string        // the stream to read
	Durable       string        // name of the durable consumer, shared by every collector of one store; default "tokentrail"
	FilterSubject string        // subjects read; default DefaultSubjectPrefix + ".>"
	BatchSize     int           // maximum messages in one fetch and one Append; default 256
	MaxWait       time.Duration // maximum wait of a fetch for a full batch; default 2s
	AckWait       time.Duration // time a batch may take before JetStream delivers it again; default 30s
	RetryBackoff  time.Duration // delay before a batch whose Append failed is delivered again; default 1s

	// Logger receives terminated messages and failed Appends; default
	// slog.Default().
	Logger *slog.Logger
}

// The defaults of ConsumerOptions.
const (
	DefaultDurable      = "tokentrail"
	DefaultBatchSize    = 256
	DefaultMaxWait      = 2 * time.Second
	DefaultAckWait      = 30 * time.Second
	DefaultRetryBackoff = time.Second
)

// Consumer reads events from a stream through a durable pull consumer and
// appends them, one Append per fetched batch, acknowledging the messages
// only after the Append succeeded. Create it with StartConsumer and stop it
// with Close. It is safe for concurrent use.
type Consumer struct {
	cons  jetstream.Consumer
	dst   Appender
	opts  ConsumerOptions
	log   *slog.Logger
	stats consumerCounters
	stop  context.CancelFunc // ends the fetch loop
	abort context.CancelFunc // ends the Append in progress
	done  chan struct{}      // closed when the goroutine returns

	// Failures in a row, owned by the goroutine. During an outage the
	// failures 1, 10, 100 and so on are logged, and the recovery once.
	fetchFailures, appendFailures int
}

type consumerCounters struct {
	stored, duplicates, terminated, failedBatches atomic.Uint64
}

// ConsumerStats counts what a Consumer did.
type ConsumerStats struct {
	Stored        uint64 // events newly stored
	Duplicates    uint64 // events whose ID was stored already
	Terminated    uint64 // messages that are no valid event, terminated so that JetStream does not deliver them again
	FailedBatches uint64 // Appends that failed, whose messages JetStream delivers again
}

// StartConsumer creates or updates the durable consumer of opts on the
// stream, and starts the goroutine that reads it into dst until ctx ends or
// Close is called. The caller must call Close, which waits for the
// goroutine. It returns an error when opts.Stream is empty or the consumer
// cannot be created, for instance because the stream does not exist.
func StartConsumer(ctx context.Context, nc *nats.Conn, dst Appender, opts ConsumerOptions) (*Consumer, error) {
	if opts.Stream == "" {
		return nil, errors.New("natsjs: ConsumerOptions.Stream is empty: name the stream to read")
	}
	if opts.Durable == "" {
		opts.Durable = DefaultDurable
	}
	if opts.FilterSubject == "" {
		opts.FilterSubject = DefaultSubjectPrefix + ".>"
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	if opts.AckWait <= 0 {
		opts.AckWait = DefaultAckWait
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}

	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsjs: open JetStream: %w", err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, opts.Stream, jetstream.ConsumerConfig{
		Durable:       opts.Durable,
		Description:   "tokentrail collectors",
		FilterSubject: opts.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       opts.AckWait,
		// Unlimited deliveries: a store that is down for a while must
		// not cost events. Invalid messages are terminated instead.
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 2*opts.BatchSize),
	})
	if err != nil {
		return nil, fmt.Errorf("natsjs: create consumer %s on stream %s: %w", opts.Durable, opts.Stream, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	writeCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	c := &Consumer{
		cons: cons, dst: dst, opts: opts, stop: stop, abort: abort, done: make(chan struct{}),
		log: opts.Logger.With(slog.String(keyComponent, "natsjs"), slog.String(keyStream, opts.Stream), slog.String(keyConsumer, opts.Durable)),
	}
	go c.run(runCtx, writeCtx)
	return c, nil
}

// Stats returns the counts so far.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{
		Stored: c.stats.stored.Load(), Duplicates: c.stats.duplicates.Load(),
		Terminated: c.stats.terminated.Load(), FailedBatches: c.stats.failedBatches.Load(),
	}
}

// Close stops fetching and waits for the batch in progress to be appended
// and acknowledged. When ctx ends first, it cancels that Append, whose
// messages JetStream then delivers again, waits for the goroutine and
// returns ctx.Err(). It may be called more than once.
func (c *Consumer) Close(ctx context.Context) error {
	c.stop()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
	}
	c.abort()
	// NOTE: this wait ends only when the Appender's Append returns; one
	// that ignores the cancellation of its ctx delays Close until it does.
	<-c.done
	return ctx.Err()
}

// run fetches batches until runCtx ends.
func (c *Consumer) run(runCtx, writeCtx context.Context) {
	defer close(c.done)
	defer c.abort()
	c.log.Info("natsjs consumer started", slog.String(keySubject, c.opts.FilterSubject))

	for runCtx.Err() == nil {
		msgs, err := c.fetch(runCtx)
		if err != nil {
			if runCtx.Err() != nil {
				break
			}
			c.fetchFailures++
			if isPowerOf10(c.fetchFailures) {
				c.log.Warn("natsjs fetch failed, retrying", slog.Int(keyFailures, c.fetchFailures),
					slog.Duration(keyBackoff, c.opts.RetryBackoff), slog.Any(keyError, err))
			}
			sleep(runCtx, c.opts.RetryBackoff)
			continue
		}
		if c.fetchFailures > 0 {
			c.log.Info("natsjs fetch succeeded again", slog.Int(keyFailures, c.fetchFailures))
			c.fetchFailures = 0
		}
		if len(msgs) > 0 && !c.handle(writeCtx, msgs) {
			sleep(runCtx, c.opts.RetryBackoff)
		}
	}

	s := c.Stats()
	c.log.Info("natsjs consumer stopped", slog.Uint64(keyStored, s.Stored), slog.Uint64(keyDuplicate, s.Duplicates),
		slog.Uint64(keyTerminated, s.Terminated))
}

// fetch returns the next batch: up to BatchSize messages, fewer when
// MaxWait passes first. A canceled ctx ends the fetch.
func (c *Consumer) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.MaxWait)
	defer cancel()
	batch, err := c.cons.Fetch(c.opts.BatchSize, jetstream.FetchContext(ctx))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range batch.Messages() {
		msgs = append(msgs, m)
	}
	err = batch.Error()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		err = nil // MaxWait passed before the batch filled
	}
	if len(msgs) > 0 {
		// The messages fetched are handled even when the fetch ended early:
		// JetStream counts them as delivered.
		return msgs, nil
	}
	return nil, err
}

// handle decodes msgs, terminates the invalid ones, appends the events of
// the others in one call and acknowledges them. When the Append fails, it
// naks them with a delay of RetryBackoff, so that JetStream delivers them
// again, and returns false.
func (c *Consumer) handle(ctx context.Context, msgs []jetstream.Msg) bool {
	events := make([]audit.Event, 0, len(msgs))
	valid := msgs[:0:0]
	for _, m := range msgs {
		e, err := decodeEvent(m.Data())
		if err != nil {
			c.terminate(ctx, m, err)
			continue
		}
		events = append(events, e)
		valid = append(valid, m)
	}
	if len(events) == 0 {
		return true
	}

	res, err := c.dst.Append(ctx, events)
	if errors.Is(err, audit.ErrInvalidValue) && len(events) > 1 {
		// The store refuses an event that decoded and prepared, and with
		// it the batch: redelivering the batch would fail the same way,
		// so each message is appended alone.
		return c.handleApart(ctx, events, valid)
	}
	if errors.Is(err, audit.ErrInvalidValue) {
		c.terminate(ctx, valid[0], err)
		return true
	}
	if err != nil {
		c.stats.failedBatches.Add(1)
		c.appendFailures++
		if isPowerOf10(c.appendFailures) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "natsjs append failed, JetStream will deliver the batch again",
				slog.Int(keyEvents, len(events)), slog.String(keyEventID, events[0].ID), slog.Int(keyFailures, c.appendFailures),
				slog.Duration(keyBackoff, c.opts.RetryBackoff), slog.Any(keyError, err))
		}
		for _, m := range valid {
			_ = m.NakWithDelay(c.opts.RetryBackoff) // a lost nak only delays redelivery until AckWait
		}
		return false
	}
	if c.appendFailures > 0 {
		c.log.Info("natsjs append succeeded again", slog.Int(keyFailures, c.appendFailures))
		c.appendFailures = 0
	}
	c.stats.stored.Add(uint64(res.Inserted))
	c.stats.duplicates.Add(uint64(res.Duplicates))

	var ackErr error
	for _, m := range valid {
		if err := m.Ack(); err != nil && ackErr == nil {
			ackErr = err
		}
	}
	if ackErr != nil {
		// The events are stored, so the redelivery that follows adds
		// duplicates only.
		c.log.Warn("natsjs ack failed, JetStream will deliver stored events again",
			slog.Int(keyEvents, len(events)), slog.String(keyEventID, events[0].ID), slog.Any(keyError, ackErr))
	}
	return true
}

// handleApart appends each event of a batch that the store refused as
// invalid alone, terminates the messages of those it refuses again, and
// acknowledges the others. It returns false when an Append failed for
// another reason, after naking the messages not yet stored.
func (c *Consumer) handleApart(ctx context.Context, events []audit.Event, msgs []jetstream.Msg) bool {
	for i, e := range events {
		res, err := c.dst.Append(ctx, []audit.Event{e})
		switch {
		case errors.Is(err, audit.ErrInvalidValue):
			c.terminate(ctx, msgs[i], err)
			continue
		case err != nil:
			c.stats.failedBatches.Add(1)
			for _, m := range msgs[i:] {
				_ = m.NakWithDelay(c.opts.RetryBackoff)
			}
			return false
		}
		c.stats.stored.Add(uint64(res.Inserted))
		c.stats.duplicates.Add(uint64(res.Duplicates))
		_ = msgs[i].Ack() // a lost ack brings a redelivery, which the store counts as a duplicate
	}
	return true
}

// terminate terminates m, so that JetStream never delivers it again, and
// logs why.
func (c *Consumer) terminate(ctx context.Context, m jetstream.Msg, reason error) {
	c.stats.terminated.Add(1)
	attrs := []slog.Attr{
		slog.String(keySubject, m.Subject()),
		slog.String(keyEventID, audit.RedactTokens(m.Headers().Get(jetstream.MsgIDHeader))),
		slog.String(keyReason, audit.RedactTokens(reason.Error())),
	}
	if meta, err := m.Metadata(); err == nil {
		attrs = append(attrs, slog.Uint64(keySequence, meta.Sequence.Stream))
	}
	// NOTE: Term, not TermWithReason. The nats.go documentation says
	// that servers before 2.10.4 ignore a reason and then do not terminate
	// the message, so the reason is in this log line only.
	if err := m.Term(); err != nil {
		attrs = append(attrs, slog.Any(keyError, err))
	}
	c.log.LogAttrs(ctx, slog.LevelWarn, "natsjs terminated an invalid message", attrs...)
}

// decodeEvent decodes one message into a prepared event. Prepare
// (sanitize, then validate) rather than Validate alone, because publishers
// in other languages may send a raw token in a text field, which HTTP
// ingest would redact too.
func decodeEvent(data []byte) (audit.Event, error) {
	var e audit.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return audit.Event{}, fmt.Errorf("decode JSON of an audit.Event: %w", err)
	}
	if err := e.Prepare(); err != nil {
		return audit.Event{}, err
	}
	return e, nil
}

// isPowerOf10 reports whether n is 1, 10, 100 and so on.
func isPowerOf10(n int) bool {
	for n >= 10 && n%10 == 0 {
		n /= 10
	}
	return n == 1
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
