package natsjs_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
	"github.com/tokentrail/tokentrail/transport/natsjs"
)

// connect returns a connection to the server of TOKENTRAIL_NATS_URL, and
// skips the test when the variable is unset.
func connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	url := os.Getenv("TOKENTRAIL_NATS_URL")
	if url == "" {
		tb.Skip("TOKENTRAIL_NATS_URL is unset: run a NATS server with JetStream (nats-server -js) and set TOKENTRAIL_NATS_URL=nats://127.0.0.1:4222 to run this test")
	}
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		tb.Fatalf("connect to TOKENTRAIL_NATS_URL %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// testStream is a stream of its own for one test, with subjects no other
// test uses, deleted when the test ends.
type testStream struct {
	name   string
	prefix string
	js     jetstream.JetStream
}

func newStream(tb testing.TB, nc *nats.Conn, edit func(*jetstream.StreamConfig)) testStream {
	tb.Helper()
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	s := testStream{name: "TT_TEST_" + hex.EncodeToString(suffix[:]), prefix: "tt_test_" + hex.EncodeToString(suffix[:]) + ".events"}
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	s.js = js
	cfg := natsjs.StreamConfig(s.name, s.prefix)
	if edit != nil {
		edit(&cfg)
	}
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		tb.Fatalf("create stream %s: %v", s.name, err)
	}
	tb.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), s.name); err != nil {
			tb.Errorf("delete stream %s: %v", s.name, err)
		}
	})
	return s
}

func (s testStream) consumerOptions() natsjs.ConsumerOptions {
	return natsjs.ConsumerOptions{
		Stream: s.name, FilterSubject: s.prefix + ".>", BatchSize: 50,
		MaxWait: 200 * time.Millisecond, RetryBackoff: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// messages returns the data of every message stored in the stream.
func (s testStream) messages(tb testing.TB) [][]byte {
	tb.Helper()
	ctx := context.Background()
	stream, err := s.js.Stream(ctx, s.name)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	var data [][]byte
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			tb.Fatalf("get message %d of stream %s: %v", seq, s.name, err)
		}
		data = append(data, m.Data)
	}
	return data
}

// publishRaw publishes data without Nats-Msg-Id and waits for the ack.
func (s testStream) publishRaw(tb testing.TB, subject string, data []byte) {
	tb.Helper()
	if _, err := s.js.Publish(context.Background(), subject, data); err != nil {
		tb.Fatalf("publish to %s: %v", subject, err)
	}
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func openStore(tb testing.TB) *sqlite.Store {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("sqlite.Open() = %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	return st
}

func startConsumer(tb testing.TB, nc *nats.Conn, dst natsjs.Appender, opts natsjs.ConsumerOptions) *natsjs.Consumer {
	tb.Helper()
	c, err := natsjs.StartConsumer(context.Background(), nc, dst, opts)
	if err != nil {
		tb.Fatalf("StartConsumer() = %v", err)
	}
	tb.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// waitFor polls cond until it holds, and fails the test when it does not
// within 30 seconds, which no passing run comes near.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for range 1500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("gave up waiting for %s", what)
}

// testEvents returns n valid events of one token with fixed IDs, so that
// recording them twice gives the same IDs.
func testEvents(n int) []audit.Event {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	events := make([]audit.Event, n)
	for i := range events {
		kind := audit.KindUsed
		if i == 0 {
			kind = audit.KindIssued
		}
		events[i] = audit.Event{
			ID: audit.NewID("natsjs-test", fmt.Sprint(i)), Time: start.Add(time.Duration(i) * time.Second), Kind: kind,
			TokenID: "jti-natsjs-1", Subject: "user-7", IP: netip.MustParseAddr("198.51.100.20"),
			Method: "GET", Path: fmt.Sprintf("/orders/%d", i), Status: 200,
		}
	}
	return events
}

// storedIDs returns how often each event ID is stored.
func storedIDs(tb testing.TB, st *sqlite.Store) map[string]int {
	tb.Helper()
	ids := map[string]int{}
	for e, err := range st.Scan(context.Background(), store.TimeRange{}) {
		if err != nil {
			tb.Fatal(err)
		}
		ids[e.ID]++
	}
	return ids
}

func checkEachOnce(tb testing.TB, st *sqlite.Store, events []audit.Event) {
	tb.Helper()
	ids := storedIDs(tb, st)
	if len(ids) != len(events) {
		tb.Errorf("store holds %d distinct events, want %d", len(ids), len(events))
	}
	for _, e := range events {
		if n := ids[e.ID]; n != 1 {
			tb.Errorf("event %s stored %d times, want 1", e.ID, n)
		}
	}
}

func record(tb testing.TB, p *natsjs.Publisher, events []audit.Event) recorder.Stats {
	tb.Helper()
	r := recorder.New(p, recorder.Options{BatchSize: 40, Logger: slog.New(slog.DiscardHandler)})
	for _, e := range events {
		r.Record(e)
	}
	if err := r.Close(context.Background()); err != nil {
		tb.Fatalf("recorder Close() = %v", err)
	}
	return r.Stats()
}

func TestRecorderToSQLiteEachEventOnce(t *testing.T) {
	nc := connect(t)
	s := newStream(t, nc, nil)
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: s.prefix, MaxInFlight: 16})
	if err != nil {
		t.Fatal(err)
	}
	events := testEvents(300)

	first := record(t, p, events)
	if first.Written != 300 || first.Lost != 0 {
		t.Errorf("first recording: Written = %d, Lost = %d, want 300, 0", first.Written, first.Lost)
	}
	// The same events again, within the duplicate window: JetStream drops
	// them by Nats-Msg-Id.
	second := record(t, p, events)
	if second.Duplicates != 300 || second.Written != 0 {
		t.Errorf("second recording: Duplicates = %d, Written = %d, want 300, 0", second.Duplicates, second.Written)
	}
	// Copies without Nats-Msg-Id pass the stream's check, so the store
	// must skip them by event ID.
	for _, e := range events[:10] {
		s.publishRaw(t, natsjs.Subject(s.prefix, e.Kind), mustJSON(t, e))
	}
	if n := len(s.messages(t)); n != 310 {
		t.Fatalf("stream holds %d messages, want 310", n)
	}

	st := openStore(t)
	c := startConsumer(t, nc, st, s.consumerOptions())
	waitFor(t, "310 messages consumed", func() bool { st := c.Stats(); return st.Stored+st.Duplicates == 310 })
	if err := c.Close(context.Background()); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if got := c.Stats(); got.Stored != 300 || got.Duplicates != 10 || got.Terminated != 0 {
		t.Errorf("Stats() = %+v, want 300 stored, 10 duplicates, 0 terminated", got)
	}
	checkEachOnce(t, st, events)
}

// crashingAppender stores the first batch, then blocks until released,
// like a collector that dies after the store committed and before it
// acknowledged.
type crashingAppender struct {
	st      *sqlite.Store
	stored  chan struct{} // closed once the first batch is stored
	release chan struct{}
}

func (a *crashingAppender) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	res, err := a.st.Append(ctx, events)
	if err != nil {
		return res, err
	}
	close(a.stored)
	<-a.release
	return res, errors.New("the collector died")
}

func TestConsumerRestartRedeliversUnacked(t *testing.T) {
	nc := connect(t)
	s := newStream(t, nc, nil)
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: s.prefix})
	if err != nil {
		t.Fatal(err)
	}
	events := testEvents(200)
	if _, err := p.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	opts := s.consumerOptions()
	opts.AckWait = time.Second // the crashed collector's batch comes back after this

	// The first collector has a connection of its own, which closes with
	// the batch unacknowledged and no way to ask for redelivery.
	crashed := connect(t)
	crash := &crashingAppender{st: st, stored: make(chan struct{}), release: make(chan struct{})}
	first := startConsumer(t, crashed, crash, opts)
	<-crash.stored
	crashed.Close()
	close(crash.release)
	if err := first.Close(context.Background()); err != nil {
		t.Errorf("Close() of the crashed consumer = %v", err)
	}
	stored := storedIDs(t, st)
	if len(stored) == 0 || len(stored) == len(events) {
		t.Fatalf("the crashed collector stored %d events, want some of %d", len(stored), len(events))
	}

	second := startConsumer(t, nc, st, opts)
	waitFor(t, "every event consumed after the restart", func() bool {
		s := second.Stats()
		return s.Stored+s.Duplicates >= uint64(len(events))
	})
	if got := second.Stats(); got.Duplicates < uint64(len(stored)) || got.Stored != uint64(len(events)-len(stored)) {
		t.Errorf("after the restart Stats() = %+v, want %d stored and at least %d duplicates", got, len(events)-len(stored), len(stored))
	}
	checkEachOnce(t, st, events)
}

func TestConsumerTerminatesInvalidMessages(t *testing.T) {
	nc := connect(t)
	s := newStream(t, nc, nil)
	valid := testEvents(2)
	noID := valid[1]
	noID.ID = ""
	s.publishRaw(t, s.prefix+".used", []byte("not JSON"))
	s.publishRaw(t, s.prefix+".used", mustJSON(t, noID))
	s.publishRaw(t, s.prefix+".used", []byte(`{"id":"x","time":"2026-03-01T09:00:00Z","kind":"stolen","token_id":"jti-1"}`))
	for _, e := range valid {
		s.publishRaw(t, natsjs.Subject(s.prefix, e.Kind), mustJSON(t, e))
	}

	st := openStore(t)
	var logged strings.Builder
	opts := s.consumerOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: &logged}, nil))
	c := startConsumer(t, nc, st, opts)
	waitFor(t, "5 messages handled", func() bool { s := c.Stats(); return s.Stored+s.Terminated == 5 })
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	if got := c.Stats(); got.Terminated != 3 || got.Stored != 2 {
		t.Errorf("Stats() = %+v, want 3 terminated, 2 stored", got)
	}
	checkEachOnce(t, st, valid)
	info, err := s.js.Consumer(context.Background(), s.name, natsjs.DefaultDurable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := info.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumAckPending != 0 || ci.NumPending != 0 || ci.NumRedelivered != 0 {
		t.Errorf("consumer info: %d pending acks, %d pending, %d redelivered, want 0 of each", ci.NumAckPending, ci.NumPending, ci.NumRedelivered)
	}
	for _, want := range []string{"decode JSON", "field ID is missing", "stolen"} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("log does not give the reason %q:\n%s", want, logged.String())
		}
	}
}

// rejectingAppender stores events in st, but refuses as invalid any batch
// that holds the event refused, as a store does with a value it cannot
// hold.
type rejectingAppender struct {
	st      *sqlite.Store
	refused string
}

func (a *rejectingAppender) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	for _, e := range events {
		if e.ID == a.refused {
			return store.Appended{}, fmt.Errorf("event %s: %w", e.ID, audit.ErrInvalidValue)
		}
	}
	return a.st.Append(ctx, events)
}

// TestConsumerRefusedEventCostsOnlyItself checks that an event the store
// refuses is terminated alone, and the others of its batch are stored,
// rather than the batch being delivered again and again.
func TestConsumerRefusedEventCostsOnlyItself(t *testing.T) {
	nc := connect(t)
	s := newStream(t, nc, nil)
	events := testEvents(10)
	for _, e := range events {
		s.publishRaw(t, natsjs.Subject(s.prefix, e.Kind), mustJSON(t, e))
	}
	st := openStore(t)
	c := startConsumer(t, nc, &rejectingAppender{st: st, refused: events[4].ID}, s.consumerOptions())
	waitFor(t, "10 messages handled", func() bool { s := c.Stats(); return s.Stored+s.Terminated == 10 })
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	if got := c.Stats(); got.Terminated != 1 || got.Stored != 9 {
		t.Errorf("Stats() = %+v, want 1 terminated, 9 stored", got)
	}
	checkEachOnce(t, st, append(slices.Clone(events[:4]), events[5:]...))
}

// syncWriter serializes writes to w, which the consumer's goroutine and
// the test share.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// testToken is a compact JWT made up for the tests (alg none), which no
// message may carry.
const testToken = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ1c2VyLTciLCJqdGkiOiJqdGktbmF0cyJ9.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu"

func TestPublishedMessagesCarryNoRawToken(t *testing.T) {
	nc := connect(t)
	s := newStream(t, nc, nil)
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: s.prefix})
	if err != nil {
		t.Fatal(err)
	}
	if !audit.ContainsToken(testToken) {
		t.Fatal("audit.ContainsToken does not find the test token, so this test cannot fail")
	}

	// Straight to the Publisher, an unsanitized event is refused whole.
	raw := testEvents(3)
	raw[1].UserAgent = "curl/8.0 " + testToken
	if _, err := p.Append(context.Background(), raw); !errors.Is(err, audit.ErrInvalidValue) {
		t.Errorf("Append() of an event with a raw token = %v, want an error wrapping audit.ErrInvalidValue", err)
	}
	if n := len(s.messages(t)); n != 0 {
		t.Fatalf("stream holds %d messages after the refused batch, want 0", n)
	}

	// Through the recorder, the token is redacted to its fingerprint.
	raw[2].Path = "/callback?access_token=" + testToken
	stats := record(t, p, raw)
	if stats.Written != 3 {
		t.Errorf("recorder Written = %d, want 3", stats.Written)
	}
	messages := s.messages(t)
	if len(messages) != 3 {
		t.Fatalf("stream holds %d messages, want 3", len(messages))
	}
	for i, data := range messages {
		if strings.Contains(string(data), testToken) || audit.ContainsToken(string(data)) {
			t.Errorf("message %d carries a raw token: %s", i+1, data)
		}
	}
}

func TestPublisherPartialFailureRetry(t *testing.T) {
	nc := connect(t)
	// The stream refuses messages past the fifth.
	s := newStream(t, nc, func(cfg *jetstream.StreamConfig) {
		cfg.MaxMsgs = 5
		cfg.Discard = jetstream.DiscardNew
	})
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: s.prefix, MaxInFlight: 3})
	if err != nil {
		t.Fatal(err)
	}
	events := testEvents(8)

	res, err := p.Append(context.Background(), events)
	var pubErr *natsjs.PublishError
	if !errors.As(err, &pubErr) {
		t.Fatalf("Append() into a full stream = %v, want a *PublishError", err)
	}
	if pubErr.Failed != 3 || pubErr.Events != 8 || pubErr.FirstFailedID != events[5].ID {
		t.Errorf("PublishError = %+v, want 3 of 8 failed, the first %s", pubErr, events[5].ID)
	}
	if res.Inserted != 5 {
		t.Errorf("Append() into a full stream inserted %d, want 5", res.Inserted)
	}

	ctx := context.Background()
	stream, err := s.js.Stream(ctx, s.name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stream.CachedInfo().Config
	cfg.MaxMsgs = -1
	if _, err := s.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// The retry publishes the three that failed, and counts the five
	// acknowledged before as published.
	res, err = p.Append(ctx, events)
	if err != nil {
		t.Fatalf("Append() retry = %v", err)
	}
	if res.Inserted != 8 || res.Duplicates != 0 {
		t.Errorf("Append() retry = %+v, want 8 inserted, 0 duplicates", res)
	}
	if n := len(s.messages(t)); n != 8 {
		t.Errorf("stream holds %d messages, want 8", n)
	}
}

func TestPublisherWithoutStream(t *testing.T) {
	nc := connect(t)
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: "tt_test_nostream_" + fmt.Sprint(time.Now().UnixNano()), AckTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Append(context.Background(), testEvents(4))
	var pubErr *natsjs.PublishError
	if !errors.As(err, &pubErr) || pubErr.Failed != 4 {
		t.Errorf("Append() with no stream on the subjects = %v, want a *PublishError with 4 failed", err)
	}
}
