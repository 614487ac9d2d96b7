// Command tokenservice is an example service that issues JWTs with
// golang-jwt/jwt/v5, serves an API behind the tokentrail middleware, and
// revokes tokens. It records every issuance, refresh, use, rejection and
// revocation through tokentrail.Open into one SQLite file, so that the
// tokentrail CLI can investigate and revoke what it issued.
//
//	go run ./examples/tokenservice --db tokenservice.db --addr 127.0.0.1:8080
//
// Its users, clients and refresh sessions live in memory: a restart logs
// everyone out. README.md walks through an incident with the CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tokentrail/tokentrail"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// config holds the settings of the flags. A zero duration means the
// default of the package it configures.
type config struct {
	dbPath         string
	addr           string
	keyFile        string
	issuer         string         // default: http:// and the listening address
	trustedProxies []netip.Prefix // peers whose X-Forwarded-For is believed

	revocationInterval time.Duration // poll interval of the revocation refresher
	flushInterval      time.Duration // how long the recorder holds a partial batch
	logger             *slog.Logger
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenservice:", err)
		os.Exit(2)
	}
	cfg.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenservice:", err)
		os.Exit(1)
	}
	if err := run(ctx, cfg, ln); err != nil {
		fmt.Fprintln(os.Stderr, "tokenservice:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var cfg config
	var proxies string
	fs := flag.NewFlagSet("tokenservice", flag.ContinueOnError)
	fs.StringVar(&cfg.dbPath, "db", "tokenservice.db", "SQLite file of the trail, shared with the tokentrail CLI")
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.keyFile, "key", "", "PEM file of the signing key, Ed25519 (EdDSA) or RSA (RS256); default: a new Ed25519 key at each start")
	fs.StringVar(&cfg.issuer, "issuer", "", "the iss claim of issued tokens (default: http:// and --addr)")
	fs.StringVar(&proxies, "trusted-proxies", "127.0.0.1/32,::1/128", "comma-separated prefixes of the reverse proxies whose X-Forwarded-For is believed; empty trusts none")
	fs.DurationVar(&cfg.revocationInterval, "revocation-interval", revocation.DefaultInterval, "how often the store is read for new revocations")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: every setting is a flag, see -h", fs.Arg(0))
	}

	for _, p := range strings.Split(proxies, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return cfg, fmt.Errorf("invalid --trusted-proxies entry %q: want a prefix such as 127.0.0.1/32", p)
		}
		cfg.trustedProxies = append(cfg.trustedProxies, prefix)
	}
	return cfg, nil
}

// run serves on ln until ctx ends, then shuts the server down, stops the
// revocation refresher and writes what the recorder still holds.
func run(ctx context.Context, cfg config, ln net.Listener) error {
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	issuer := cfg.issuer
	if issuer == "" {
		issuer = "http://" + ln.Addr().String()
	}
	key, err := loadKey(cfg.keyFile)
	if err != nil {
		return err
	}

	// The enricher finds the user-agent family that user_agent_change
	// compares. A zero tokentrail.Config has none, so that rule would stay
	// silent. Pass GeoIP databases and threat-intel lists in its Config to
	// feed the other rules.
	enricher, err := enrich.New(ctx, enrich.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("start the enricher: %w", err)
	}
	defer func() {
		// It reads no files here, so closing only stops its goroutine.
		_ = enricher.Close()
	}()

	trail, err := tokentrail.Open(ctx, tokentrail.Config{
		DBPath:   cfg.dbPath,
		Recorder: recorder.Options{Logger: logger, FlushInterval: cfg.flushInterval},
		Detect:   detect.Config{UserAgents: enricher, IPLists: enricher},
	})
	if err != nil {
		return fmt.Errorf("open the trail: %w", err)
	}
	defer func() {
		// The serving context has ended, so the queue gets its own
		// deadline to be written.
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := trail.Close(closeCtx); err != nil {
			logger.Error("closing the trail failed", slog.Any("error", err))
		}
	}()

	// The revocations come from the same file, which `tokentrail revoke`
	// writes from another process. A second, read-only handle reads them
	// because Trail does not expose its store.
	revocations, err := sqlite.Open(ctx, cfg.dbPath, sqlite.ReadOnly())
	if err != nil {
		return fmt.Errorf("open the trail for revocations: %w", err)
	}
	defer revocations.Close()

	var revoked revocation.Set
	refresher := revocation.NewRefresher(&revoked, revocation.NewStoreSource(revocations, 0),
		revocation.RefresherOptions{Interval: cfg.revocationInterval, Logger: logger})
	if err := refresher.Refresh(ctx); err != nil {
		return fmt.Errorf("read the revocations before serving: %w", err)
	}

	svc := newService(key, issuer, trail, &revoked, cfg.trustedProxies, logger)
	mw, err := httpmw.New(httpmw.Options{
		Recorder:         trail.Recorder, // the *recorder.Recorder itself, which the middleware fills in place
		Claims:           svc.claims,
		Revocations:      &revoked,
		RevocationMaxAge: 10 * refresherInterval(cfg),
		TrustedProxies:   cfg.trustedProxies,
		Source:           "tokenservice",
		Logger:           logger,
	})
	if err != nil {
		return fmt.Errorf("create the middleware: %w", err)
	}

	srv := &http.Server{
		Handler:           svc.routes(mw),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The refresher runs until serving ends, and run waits for it before
	// the store it reads is closed.
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = refresher.Run(refreshCtx) })
	defer func() {
		stopRefresh()
		wg.Wait()
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("tokenservice serving", slog.String("addr", ln.Addr().String()),
		slog.String("issuer", issuer), slog.String("alg", key.method.Alg()), slog.String("db", cfg.dbPath))

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("tokenservice stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

func refresherInterval(cfg config) time.Duration {
	if cfg.revocationInterval > 0 {
		return cfg.revocationInterval
	}
	return revocation.DefaultInterval
}
