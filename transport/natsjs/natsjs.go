// Package natsjs carries token events from many service instances to the
// collectors over NATS JetStream. A Publisher is a recorder.Writer that
// publishes each event as one JSON message, with the event ID as its
// Nats-Msg-Id header, so that the stream drops a copy published again
// within its duplicate window. A Consumer reads the stream through a
// durable pull consumer and acknowledges a batch only once its Appender
// stored it. Delivery is at least once: a collector that stops between
// the two gets the batch again, and the store skips the events whose ID it
// holds.
//
// Messages are the JSON form of audit.Event, the form that POST
// /api/v1/events and tokentrail import take, so that services in any
// language can publish them and the nats CLI shows them as they are. Each
// goes to the subject of its kind under a prefix, such as
// tokentrail.events.used, so that NATS permissions can keep a service from
// publishing revoked events.
package natsjs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/audit"
)

// DefaultSubjectPrefix is the prefix of the subjects events are published
// to when no other is configured: tokentrail.events.used and so on.
const DefaultSubjectPrefix = "tokentrail.events"

// DefaultStream is the stream name that StreamConfig callers and
// tokentrail serve use when none is given.
const DefaultStream = "TOKENTRAIL"

// Subject returns the subject of events of kind k under prefix, such as
// "tokentrail.events.used".
func Subject(prefix string, k audit.Kind) string {
	return prefix + "." + k.String()
}

// StreamConfig returns the configuration of a stream named name that keeps
// the events published under prefix. File storage keeps them across a
// restart of the server. Limits retention keeps them for 7 days, so that a
// collector down for a weekend loses nothing. The 5-minute duplicate
// window covers the recorder's retries of a batch. A collector that stays down
// longer than MaxAge loses the oldest events, so raise MaxAge, or set
// MaxBytes, to suit the outage the collectors must survive. Replicas is 1;
// a clustered deployment sets 3.
func StreamConfig(name, prefix string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: "tokentrail token events, one JSON audit.Event per message",
		Subjects:    []string{prefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  5 * time.Minute,
		Replicas:    1,
	}
}

// EnsureStream creates the stream of cfg unless a stream of that name
// exists, which it leaves as it is, and reports whether it created it.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (created bool, err error) {
	_, err = js.Stream(ctx, cfg.Name)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return false, fmt.Errorf("natsjs: look up stream %s: %w", cfg.Name, err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		return false, fmt.Errorf("natsjs: create stream %s: %w", cfg.Name, err)
	}
	return true, nil
}
