// Package tokentrail is what a Go service imports to keep the trail of the
// tokens it issues and accepts: Open wires a store and a non-blocking
// recorder, the Record methods capture each lifecycle fact, and
// InvestigateToken reports on one token.
//
//	trail, err := tokentrail.Open(ctx, tokentrail.Config{})
//	...
//	defer trail.Close(ctx)
//	trail.RecordUsed(audit.Event{TokenID: jti, Subject: sub, IP: ip, Path: r.URL.Path})
package tokentrail

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// Config configures Open. The zero Config works: it keeps the events in
// ./tokentrail.db with the recorder's default queue and batch sizes.
type Config struct {
	// DBPath is the SQLite file; empty means sqlite.DefaultPath.
	DBPath string

	// Recorder tunes the queue, batching and overflow policy; see
	// recorder.Options for the defaults.
	Recorder recorder.Options
}

// Trail is an open trail: a store and the recorder that writes to it. The
// Record methods of the embedded *recorder.Recorder never wait for I/O. Under
// the recorder.Block overflow policy they wait at most BlockTimeout for room
// in the queue. A Trail is safe for concurrent use.
type Trail struct {
	*recorder.Recorder
	db *sqlite.Store

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the store and starts the recorder. The caller must
// call Close.
func Open(ctx context.Context, cfg Config) (*Trail, error) {
	path := cfg.DBPath
	if path == "" {
		path = sqlite.DefaultPath
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("tokentrail: %w", err)
	}
	return &Trail{Recorder: recorder.New(db, cfg.Recorder), db: db}, nil
}

// InvestigateToken returns the report of one token from what is stored.
// Events still queued in the recorder are not in it yet; call Flush first
// to include them. Its anomalies are those of the built-in detection rules at
// their defaults, unless opts.Detect is set.
func (t *Trail) InvestigateToken(ctx context.Context, ref forensics.TokenRef, opts forensics.Options) (*forensics.TokenReport, error) {
	if opts.Detect == nil {
		opts.Detect = func(events []audit.Event) ([]audit.Anomaly, error) { return detect.Run(detect.Config{}, events) }
	}
	return forensics.InvestigateToken(ctx, t.db, ref, opts)
}

// Close writes what the recorder still holds, stops it and closes the
// store. When ctx ends before the queue is written, the rest is counted as
// lost in Stats and Close returns the context's error together with any
// error of closing the store. Later calls return the first call's result.
func (t *Trail) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		recErr := t.Recorder.Close(ctx)
		dbErr := t.db.Close()
		t.closeErr = errors.Join(recErr, dbErr)
	})
	return t.closeErr
}
