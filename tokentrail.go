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
	"log/slog"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/postgres"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// Config configures Open. The zero Config works: it keeps the events in
// ./tokentrail.db with the recorder's default queue and batch sizes.
type Config struct {
	// DBPath is the SQLite file, or the postgres:// URL of a PostgreSQL
	// database (see docs/postgres.md); empty means sqlite.DefaultPath.
	DBPath string

	// Recorder tunes the queue, batching and overflow policy; see
	// recorder.Options for the defaults. Its OnWritten, if set, is called
	// after detection has seen each batch.
	Recorder recorder.Options

	// Detect sets the thresholds of the detection rules that check each
	// batch the recorder writes; the zero value means the defaults of
	// docs/detection.md. Anomalies are stored, logged at warning level and
	// listed by Trail.Anomalies. When Detect.UserAgents is nil, the
	// user-agent parser of package enrich fills it, so that
	// user_agent_change and unfamiliar_client see client families.
	Detect detect.Config

	// DisableDetection turns detection of recorded events off.
	DisableDetection bool
}

// Trail is an open trail: a store and the recorder that writes to it. The
// Record methods of the embedded *recorder.Recorder never wait for I/O. Under
// the recorder.Block overflow policy they wait at most BlockTimeout for room
// in the queue. A Trail is safe for concurrent use.
type Trail struct {
	*recorder.Recorder
	db trailStore

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
	db, err := openStore(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("tokentrail: %w", err)
	}
	opts := cfg.Recorder
	if !cfg.DisableDetection {
		dc := cfg.Detect
		if dc.UserAgents == nil {
			// With no files to load and no reloads, the enricher starts
			// no goroutine and holds only the parser's cache.
			parser, err := enrich.New(ctx, enrich.Config{ReloadInterval: -1})
			if err != nil {
				db.Close()
				return nil, fmt.Errorf("tokentrail: %w", err)
			}
			dc.UserAgents = parser
		}
		// Revocations stored before this process started, or by another
		// process such as tokentrail revoke, must count for
		// revoked_token_use too.
		engine, read, err := detect.NewWithStoredRevocations(ctx, dc, db)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("tokentrail: %w", err)
		}
		logger := opts.Logger
		if logger == nil {
			logger = slog.Default()
		}
		opts.OnWritten = detectWritten(engine, db, read, logger, opts.OnWritten)
	}
	return &Trail{Recorder: recorder.New(db, opts), db: db}, nil
}

// trailStore is the store of a Trail: the recorder's Writer, the reads of
// detection and the reports, and Close.
type trailStore interface {
	store.Store
	recorder.Writer
	detectStore
}

// openStore opens the SQLite file at path, or the PostgreSQL database that
// path names as a postgres:// or postgresql:// URL.
func openStore(ctx context.Context, path string) (trailStore, error) {
	switch {
	case postgres.IsURL(path):
		return postgres.Open(ctx, postgres.NormalURL(path))
	case postgres.LooksLikeSettings(path):
		// Taken for a file, it would create one named after the settings,
		// password and all.
		return nil, errors.New("Config.DBPath looks like PostgreSQL settings: give a postgres://USER@HOST:PORT/DATABASE URL, or the path of a SQLite file")
	}
	return sqlite.Open(ctx, path)
}

// detectStore is the part of the store that detection reads and writes.
type detectStore interface {
	store.AnomalyStore
	detect.RevocationReader
}

// detectWritten returns the recorder's OnWritten: it loads the revocations
// stored after position read, then runs each stored batch through engine
// and stores and logs what it finds. The engine's reorder
// window is flushed after every batch, so an anomaly is raised within one
// flush interval of the use that proves it. An event that arrives after a
// later event of its token was checked reaches only the rules on the
// token's lifetime (see package detect).
func detectWritten(engine *detect.Engine, db detectStore, read int64, logger *slog.Logger, next func([]audit.Event)) func([]audit.Event) {
	failing := false // the last read of revocations failed, and was logged
	return func(events []audit.Event) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		read, err = engine.LoadStoredRevocations(ctx, db, read)
		cancel()
		switch {
		case err != nil && !failing:
			logger.Error("tokentrail could not read revocations; uses of tokens revoked since may raise no revoked_token_use until a read succeeds", slog.Any("error", err))
			failing = true
		case err == nil && failing:
			logger.Info("tokentrail reads revocations again")
			failing = false
		}

		var found []audit.Anomaly
		for _, e := range events {
			found = append(found, engine.Observe(e)...)
		}
		found = append(found, engine.Flush()...)
		if len(found) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, err := db.AppendAnomalies(ctx, found); err != nil {
				logger.Error("tokentrail could not store anomalies", slog.Int("anomalies", len(found)), slog.Any("error", err))
			}
			cancel()
			for _, a := range found {
				logger.Warn("token anomaly", slog.String("rule", a.Rule), slog.String("severity", a.Severity.String()),
					slog.String("token_id", a.TokenID), slog.String("subject", a.Subject), slog.String("summary", a.Summary))
			}
		}
		if next != nil {
			next(events)
		}
	}
}

// Anomalies returns the anomalies that detection stored, from recorded
// events or from imports, matching q.
func (t *Trail) Anomalies(ctx context.Context, q store.AnomalyQuery) ([]audit.Anomaly, error) {
	return t.db.Anomalies(ctx, q)
}

// InvestigateToken returns the report of one token from what is stored.
// Events still queued in the recorder are not in it yet; call Flush first
// to include them. Its anomalies are those of the built-in detection rules at
// their defaults, unless opts.Detect is set. They see every stored
// revocation, so a use after a revocation of the token's subject, session
// or refresh family raises revoked_token_use.
func (t *Trail) InvestigateToken(ctx context.Context, ref forensics.TokenRef, opts forensics.Options) (*forensics.TokenReport, error) {
	if opts.Detect == nil {
		opts.Detect = func(events []audit.Event) ([]audit.Anomaly, error) {
			engine, _, err := detect.NewWithStoredRevocations(ctx, detect.Config{}, t.db)
			if err != nil {
				return nil, err
			}
			return engine.Run(events), nil
		}
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
