package server

import (
	"context"
	"fmt"
	"slices"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Append stores events that reached the server by another way than HTTP,
// such as a NATS JetStream consumer (package transport/natsjs), on the
// path of POST /api/v1/events. It sanitizes and validates a copy of each
// event and writes them with the ingest requests' group commit. Then it
// counts them in tokentrail_ingest_events_total, hands them to live
// detection, and wakes the revocation feed when one is revoked. An event
// whose ID is stored already counts as a duplicate.
//
// Unlike the HTTP route, it takes revoked events from any caller: the
// caller is trusted, like a NATS account that may publish to the revoked
// subject. An invalid event fails the whole call with an error wrapping
// audit.ErrInvalidValue, and a server that is closing fails it too.
func (s *Server) Append(ctx context.Context, events []audit.Event) (store.Appended, error) {
	events = slices.Clone(events) // the group commit and detection keep them
	revoked := false
	for i := range events {
		if err := events[i].Prepare(); err != nil {
			return store.Appended{}, fmt.Errorf("event %d of %d (id %q): %w", i, len(events), audit.RedactTokens(events[i].ID), err)
		}
		revoked = revoked || events[i].Kind == audit.KindRevoked
	}
	if len(events) == 0 {
		return store.Appended{}, nil
	}

	res, err := s.appender.Append(ctx, events)
	if err != nil {
		return res, fmt.Errorf("append %d events: %w", len(events), err)
	}
	s.metrics.events.WithLabelValues("accepted").Add(float64(res.Inserted))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))

	// NOTE: as with HTTP ingest, detection receives the duplicates too,
	// because the store does not report which events it skipped.
	if s.detection != nil {
		s.detection.add(ctx, events)
	}
	if revoked {
		s.feed.notify()
	}
	return res, nil
}
