// Package server is tokentrail's HTTP API: services send events to it,
// responders read token reports, incidents and anomalies from it, admins
// revoke through it, and middleware in other processes follow its
// revocation feed. Every route under /api/v1 needs an API key (package
// apikey) with the route's role. Every read of a token, subject or
// incident is recorded in the access log. docs/openapi.yaml describes the
// routes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/internal/clientip"
	"github.com/tokentrail/tokentrail/store"
)

// Store is the storage that the server reads and writes; *sqlite.Store
// implements it.
type Store interface {
	store.Store
	store.AnomalyStore
	store.AnomalyFeed
	store.RevocationStore
	store.TokenSummaryStore
}

// Authenticator checks the secret of an API key; apikey.Manager
// implements it. Authenticate returns an error wrapping
// apikey.ErrUnknownKey or apikey.ErrRevokedKey for a secret that grants
// nothing, and any other error when it could not check.
type Authenticator interface {
	Authenticate(ctx context.Context, secret string) (apikey.Key, error)
}

// Config configures a Server. Store, Keys and AccessLog are required; every
// other zero field gets the default in its comment.
type Config struct {
	Store     Store
	Keys      Authenticator
	AccessLog store.AccessStore

	// Logger receives request failures and detection drops; default
	// slog.Default().
	Logger *slog.Logger

	// Registry receives the server's metrics, which /metrics serves;
	// default a new registry with the Go and process collectors.
	Registry *prometheus.Registry

	// Detector checks ingested events, after Enrich when set. The server
	// loads into it every revocation the Store holds, at start and then
	// as they are stored, and checks the events it holds for reordering
	// once no ingest came for its reorder window. Nil turns live
	// detection off: events are stored and nothing else.
	Detector *detect.Engine
	Enrich   func(e *audit.Event)

	// TokenDetector, when set, returns the detection that token and
	// incident reports run over a token's or subject's events
	// (forensics.Options.Detect) for one request. The trail lacks the
	// revocations of its subject, session or refresh family, so the
	// detection should start from the Store's revocations, as
	// detect.NewWithStoredRevocations does. Nil reports only what the
	// store holds.
	TokenDetector func(ctx context.Context) func([]audit.Event) ([]audit.Anomaly, error)

	MaxBodyBytes   int64         // largest request body; default 8 MiB
	MaxRecords     int           // events in one ingest request; default 10,000
	DetectQueue    int           // ingest batches waiting for detection; default 256
	RatePerKey     rate.Limit    // requests per second for one API key; default 100
	RateBurst      int           // requests one key may send at once; default 200
	MaxWait        time.Duration // maximum wait of a revocation long-poll; default 60s
	RequestTimeout time.Duration // time a request other than a long-poll may take; default 30s

	// AuthFailuresPerAddr and AuthFailureBurst limit the failed
	// authentications (missing, unknown or revoked keys) of one client
	// address: past the burst, its requests get 429 until the limit
	// refills. Defaults 1 per second and 20.
	AuthFailuresPerAddr rate.Limit
	AuthFailureBurst    int

	// TrustedProxies are the reverse proxies whose forwarding header is
	// believed. The client address is the peer address unless the peer is
	// trusted. Then it is the first address of ProxyHeader, read from the
	// right, that is not a trusted proxy. The limit on failed
	// authentications, the log lines of those failures and the access log
	// use the client address. Default: none, so forwarding headers are
	// ignored. Behind a proxy that is not listed, every request counts
	// against the proxy's address, and one client that keeps failing
	// locks out all the others.
	TrustedProxies []netip.Prefix

	// ProxyHeader is the header that the trusted proxies write; default
	// XForwardedFor. Only one is read, because a client can send the
	// other one and a proxy that does not write it passes it on.
	ProxyHeader ProxyHeader

	// RepeatLogInterval is the minimum time between two log lines of a
	// failure that clients can repeat, such as a rejected API key or a
	// failed TLS handshake. The next line counts those skipped. Default
	// 10s, and a negative value writes every line.
	RepeatLogInterval time.Duration

	// UI serves the web UI at / and /assets/; nil serves no UI.
	UI http.Handler

	// Clock returns the current time, for report times and the access
	// log; default time.Now.
	Clock func() time.Time
}

// ProxyHeader is the forwarding header that trusted proxies write.
type ProxyHeader = clientip.Header

// The forwarding headers.
const (
	XForwardedFor = clientip.XForwardedFor // "X-Forwarded-For: client, proxy1", the default
	Forwarded     = clientip.Forwarded     // RFC 7239 "Forwarded: for=client, for=proxy1"
)

// The defaults of Config.
const (
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMaxRecords     = 10_000
	DefaultDetectQueue    = 256
	DefaultRatePerKey     = 100
	DefaultRateBurst      = 200
	DefaultMaxWait        = 60 * time.Second
	DefaultRequestTimeout = 30 * time.Second

	DefaultAuthFailuresPerAddr = 1
	DefaultAuthFailureBurst    = 20
	DefaultRepeatLogInterval   = 10 * time.Second
)

// Server serves the API. Create it with New and stop it with Close. It is
// safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	store   Store // cfg.Store behind the store latency histogram
	handler http.Handler
	feed    *feed

	limiters struct {
		sync.Mutex
		byKey map[string]*rate.Limiter
	}
	authFailures *authFailures
	repeats      *repeatLog         // rejected keys and ErrorLog lines
	proxies      *clientip.Resolver // finds the client address behind Config.TrustedProxies

	// appender stores ingested events: a groupCommit when the Store is a
	// BatchAppender, else the Store.
	appender interface {
		Append(ctx context.Context, events []audit.Event) (store.Appended, error)
	}
	commits *groupCommit // nil when the Store is no BatchAppender

	// revocationEnd finds feed positions past the end of the store; nil
	// when the Store is no store.RevocationEnd.
	revocationEnd store.RevocationEnd

	// watcher wakes the held revocation long-polls when another process
	// writes a revocation to the store. It is nil when the Store is no
	// store.RevocationEnd, so each held long-poll reads the store every
	// feedRecheck.
	watcher *feedWatcher

	// detection owns the goroutine that runs ingested events through
	// Detector; nil when Detector is nil.
	detection *detection
}

// New returns a Server for cfg and starts its detection goroutine, which
// Close stops. It returns an error when a required field is missing, or
// when TrustedProxies has an invalid prefix or ProxyHeader is unknown.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keys == nil || cfg.AccessLog == nil {
		return nil, errors.New("server: Config needs a Store, Keys and an AccessLog")
	}
	proxies, err := clientip.NewResolver(cfg.TrustedProxies, cfg.ProxyHeader)
	if err != nil {
		return nil, fmt.Errorf("server: Config.TrustedProxies: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	if cfg.DetectQueue <= 0 {
		cfg.DetectQueue = DefaultDetectQueue
	}
	if cfg.RatePerKey <= 0 {
		cfg.RatePerKey = DefaultRatePerKey
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = DefaultRateBurst
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.AuthFailuresPerAddr <= 0 {
		cfg.AuthFailuresPerAddr = DefaultAuthFailuresPerAddr
	}
	if cfg.AuthFailureBurst <= 0 {
		cfg.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if cfg.RepeatLogInterval == 0 {
		cfg.RepeatLogInterval = DefaultRepeatLogInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = newRegistry()
	}

	s := &Server{cfg: cfg, log: cfg.Logger.With(slog.String(logComponent, "server")), feed: newFeed(), proxies: proxies}
	s.limiters.byKey = map[string]*rate.Limiter{}
	s.authFailures = newAuthFailures(cfg.AuthFailuresPerAddr, cfg.AuthFailureBurst)
	s.repeats = newRepeatLog(s.log, cfg.RepeatLogInterval, cfg.Clock)
	s.metrics = newMetrics(cfg.Registry)
	s.store = timedStore{Store: cfg.Store, seconds: s.metrics.storeSeconds}
	s.appender = s.store
	if batches, ok := cfg.Store.(BatchAppender); ok {
		s.commits = startGroupCommit(s.store, timedBatches{batches, s.metrics.storeSeconds}, cfg.DetectQueue)
		s.appender = s.commits
	}
	if end, ok := cfg.Store.(store.RevocationEnd); ok {
		s.revocationEnd = timedRevocationEnd{end, s.metrics.storeSeconds}
		s.watcher = newFeedWatcher(s.revocationEnd, feedRecheck, s.log)
	}
	if cfg.Detector != nil {
		s.detection = startDetection(s.store, cfg.Detector, cfg.Enrich, s.feed, cfg.DetectQueue, s.metrics, s.log)
	}
	s.metrics.watchQueues(s.detectionDepth, s.commitDepth)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the handler of every route, the UI included.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server's goroutines: the writer of ingested events after
// it has written the batches queued, then detection after it has checked
// those queued and stored their anomalies, and the reader of the store
// that wakes held revocation long-polls. When ctx ends first, it returns
// ctx.Err(). It does not close the Store. Call it after
// http.Server.Shutdown, so that no request queues more, and no long-poll
// waits unwoken by revocations that another process writes; it may be
// called more than once. It logs how many lines of repeated failures went
// unwritten since the last line of each.
func (s *Server) Close(ctx context.Context) error {
	s.repeats.Flush(ctx)
	if s.commits != nil {
		if err := s.commits.close(ctx); err != nil {
			return err
		}
	}
	if s.detection != nil {
		if err := s.detection.close(ctx); err != nil {
			return err
		}
	}
	if s.watcher != nil {
		return s.watcher.close(ctx)
	}
	return nil
}

func (s *Server) commitDepth() float64 {
	if s.commits == nil {
		return 0
	}
	return float64(s.commits.depth())
}

func (s *Server) detectionDepth() float64 {
	if s.detection == nil {
		return 0
	}
	return float64(s.detection.depth())
}

// HTTPServer returns an http.Server for the Server's handler at addr, with
// timeouts that keep slow or idle clients from holding connections: 10 s
// to send the headers, MaxWait plus 30 s for the whole request and for the
// response, 2 minutes of idle keep-alive. The read and write timeouts
// exceed MaxWait because net/http cancels a request's context when its
// read deadline passes, even while the handler runs (connReader's
// background read in Go 1.26), and a revocation long-poll must end with
// its 304 first.
//
// Its ErrorLog goes to the Server's logger at level WARN. Failed TLS
// handshakes are written at most once per Config.RepeatLogInterval, and so
// are the other ErrorLog lines.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.cfg.MaxWait + 30*time.Second,
		WriteTimeout:      s.cfg.MaxWait + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(errorLogWriter{s.repeats}, "", 0),
	}
}
