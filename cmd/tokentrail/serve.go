package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/enrich"
	"github.com/tokentrail/tokentrail/server"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/transport/natsjs"
	"github.com/tokentrail/tokentrail/webui"
)

type serveFlags struct {
	addr         string
	store        string
	tlsCert      string
	tlsKey       string
	rules        string
	enrich       string
	demo         bool
	noDemo       bool
	maxBodyBytes int64
	maxRecords   int
	rate         float64
	burst        int

	trustedProxies []string // prefixes or addresses, as given
	proxyHeader    string

	nats natsFlags
}

func newServeCommand(g *globalFlags) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--store FILE] [--tls-cert FILE --tls-key FILE]",
		Short: "Run the HTTP API and web UI",
		Long: `Serve runs tokentrail's HTTP API (docs/server.md, docs/openapi.yaml) and its
web UI on the store. Services send events to POST /api/v1/events;
responders read reports, incidents and anomalies; admins revoke; middleware
in other processes follows GET /api/v1/revocations.

Every API route needs an API key. On the first start, when the store has
no admin key, serve creates one and prints it once on standard error;
tokentrail keys creates more, with the ingest, read, revoke or admin role.

With the default store (--db, TOKENTRAIL_DB or ./tokentrail.db) and no
event in it, serve first imports the demo data set of tokentrail demo, so
the UI has something to show; --no-demo leaves the store empty. A store
named with --store gets the demo data only with --demo.

Behind a reverse proxy, --trusted-proxies names the proxies whose
X-Forwarded-For (or, with --proxy-header forwarded, Forwarded) header gives
the client address. The limit on failed authentications, its log lines and
the access log then count that address instead of the proxy's. Without it,
forwarding headers are ignored, because any client can send them.

With --nats-url, serve also consumes the events that services publish to
NATS JetStream (docs/nats.md) through a durable consumer, creating the
stream when it does not exist. Consumed events take the path of ingested
ones.

Ingested events go through the detection rules of --rules, with the
databases of --enrich, as tokentrail import does. Serve stops on SIGINT or
SIGTERM after the requests in flight end (30 seconds at most).`,
		Example: `  tokentrail serve
  tokentrail serve --addr 0.0.0.0:8443 --store /var/lib/tokentrail/trail.db --tls-cert cert.pem --tls-key key.pem
  tokentrail serve --addr 10.0.0.5:8080 --trusted-proxies 10.0.0.0/24
  tokentrail serve --store postgres://tokentrail@db/trail --nats-url nats://nats1:4222,nats://nats2:4222 --nats-creds collector.creds`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			explicit := cmd.Flags().Changed("store") || cmd.Flags().Changed("db") || os.Getenv("TOKENTRAIL_DB") != ""
			if f.store == "" {
				f.store = g.db
			}
			if err := f.nats.check(cmd.Flags().Changed); err != nil {
				return err
			}
			return runServe(ctx, cmd.ErrOrStderr(), f, explicit)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on, host:port; 0.0.0.0:8080 accepts other machines")
	fl.StringVar(&f.store, "store", "", "store of the events: a SQLite file, or a postgres:// URL without password (default: --db)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate file, with --tls-key, to serve HTTPS")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key file of --tls-cert")
	fl.StringVar(&f.rules, "rules", "", "YAML file of detection thresholds (default: the one the store's last import or detect used; none for the defaults)")
	fl.StringVar(&f.enrich, "enrich", "", "YAML file naming GeoIP/ASN .mmdb files and threat-intel lists (default: the one the store's last run used; none for no files)")
	fl.BoolVar(&f.demo, "demo", false, "import the demo data set into an empty store, also one named with --store")
	fl.BoolVar(&f.noDemo, "no-demo", false, "never import the demo data set")
	fl.Int64Var(&f.maxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body, in bytes")
	fl.IntVar(&f.maxRecords, "max-records", server.DefaultMaxRecords, "most events in one ingest request")
	fl.Float64Var(&f.rate, "rate-limit", server.DefaultRatePerKey, "requests per second one API key may send, on average")
	fl.IntVar(&f.burst, "rate-burst", server.DefaultRateBurst, "requests one API key may send at once above --rate-limit")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxies", nil,
		"reverse proxies whose forwarding header gives the client address, as CIDR prefixes or addresses, comma-separated or repeated (default none: forwarding headers are ignored)")
	fl.StringVar(&f.proxyHeader, "proxy-header", "x-forwarded-for", "forwarding header that --trusted-proxies write: x-forwarded-for, or forwarded (RFC 7239)")
	fl.StringVar(&f.nats.url, "nats-url", "", "NATS server(s) to consume published events from, comma-separated, such as nats://127.0.0.1:4222 (default none: HTTP ingest only)")
	fl.StringVar(&f.nats.creds, "nats-creds", "", "NATS user credentials file (JWT and NKey seed) for --nats-url")
	fl.StringVar(&f.nats.stream, "nats-stream", natsjs.DefaultStream, "JetStream stream to consume; created with file storage, 7 days' retention and a 5-minute duplicate window when it does not exist")
	fl.StringVar(&f.nats.subject, "nats-subject", natsjs.DefaultSubjectPrefix+".>", "subjects of the stream to consume, and of the stream serve creates")
	fl.StringVar(&f.nats.durable, "nats-durable", natsjs.DefaultDurable, "name of the durable consumer, shared by every serve of one store so that each event is stored by one of them")
	return cmd
}

func runServe(ctx context.Context, stderr io.Writer, f serveFlags, explicitStore bool) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together: give both files to serve HTTPS, or neither for HTTP")
	}
	if f.demo && f.noDemo {
		return errors.New("--demo and --no-demo both given: choose one")
	}
	if f.maxBodyBytes < 1 || f.maxRecords < 1 || f.rate <= 0 || f.burst < 1 {
		return errors.New("invalid limits: --max-body-bytes, --max-records, --rate-limit and --rate-burst must be positive")
	}
	proxies, proxyHeader, err := parseTrustedProxies(f.trustedProxies, f.proxyHeader)
	if err != nil {
		return err
	}
	var certs []tls.Certificate
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", f.tlsCert, f.tlsKey, err)
		}
		certs = []tls.Certificate{cert}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	db, err := openStore(ctx, f.store)
	if err != nil {
		return err
	}
	defer db.Close()
	// A PostgreSQL role may be able to read the store but not write it,
	// and the server would then report ready and fail every write.
	if w, ok := db.(interface{ CheckWritable(context.Context) error }); ok {
		if err := w.CheckWritable(ctx); err != nil {
			return err
		}
	}

	detection, enricher, settings, err := detectionConfig(ctx, db, f.rules, f.enrich, stderr)
	if err != nil {
		return err
	}
	defer enricher.Close()
	if err := saveDetection(ctx, db, settings); err != nil {
		return err
	}
	demoImported, err := importDemoIfEmpty(ctx, stderr, db, detection, enricher, f, explicitStore)
	if err != nil {
		return err
	}
	detection.Logger = log.With("component", "detect")
	engine, err := detect.New(detection)
	if err != nil {
		return fmt.Errorf("invalid --rules %s: %w", settings.RulesFile, err)
	}

	// NOTE: the keys and the access log live in the event store, so a
	// copy of the store file carries them along.
	keys := apikey.NewManager(db, apikey.Config{})
	if err := announceAdminKey(ctx, stderr, keys, f); err != nil {
		return err
	}
	if demoImported {
		if err := announceDemoToken(ctx, stderr, db); err != nil {
			return err
		}
	}

	srv, err := server.New(server.Config{
		Store: db, Keys: keys, AccessLog: db, Logger: log,
		Detector: engine, Enrich: enricher.Enrich,
		TokenDetector: func(ctx context.Context) func([]audit.Event) ([]audit.Anomaly, error) {
			return withStoredAnomalies(ctx, db, enrichedDetector(ctx, detection, enricher, db, nil))
		},
		MaxBodyBytes: f.maxBodyBytes, MaxRecords: f.maxRecords,
		RatePerKey: rate.Limit(f.rate), RateBurst: f.burst,
		TrustedProxies: proxies, ProxyHeader: proxyHeader,
		UI: uiHandler(),
	})
	if err != nil {
		return err
	}

	var consumer *natsjs.Consumer
	if f.nats.url != "" {
		var nc *nats.Conn
		nc, consumer, err = startNATS(ctx, f.nats, srv, log)
		if err != nil {
			_ = srv.Close(context.Background()) // nothing was ingested yet
			return err
		}
		defer nc.Close()
		// Closed before on the normal path; this covers the early returns.
		defer func() { _ = consumer.Close(context.Background()) }()
	}

	hs := srv.HTTPServer(f.addr)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on --addr %s: %w", f.addr, err)
	}
	scheme := "http"
	if certs != nil {
		hs.TLSConfig = &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	listening := []any{slog.String("url", scheme+"://"+ln.Addr().String()), slog.String("store", f.store)}
	if len(proxies) > 0 {
		listening = append(listening, slog.Any("trusted_proxies", proxies), slog.String("proxy_header", proxyHeader.String()))
	}
	log.Info("tokentrail server listening", listening...)

	served := make(chan error, 1)
	go func() {
		if certs != nil {
			served <- hs.ServeTLS(ln, "", "") // the certificate is in hs.TLSConfig
			return
		}
		served <- hs.Serve(ln)
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	log.Info("tokentrail server stopping: finishing the requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = hs.Shutdown(shutdownCtx)
	// The consumer stops before the server, whose group commit it
	// writes through.
	if consumer != nil {
		if cerr := consumer.Close(shutdownCtx); err == nil {
			err = cerr
		}
	}
	if cerr := srv.Close(shutdownCtx); err == nil {
		err = cerr
	}
	<-served // Serve returns http.ErrServerClosed once Shutdown starts
	if err != nil {
		return fmt.Errorf("stop the server: %w", err)
	}
	log.Info("tokentrail server stopped")
	return nil
}

// parseTrustedProxies reads --trusted-proxies and --proxy-header. An
// address stands for the prefix of that one address. The error names every
// invalid entry, not only the first.
func parseTrustedProxies(values []string, header string) ([]netip.Prefix, server.ProxyHeader, error) {
	var proxyHeader server.ProxyHeader
	switch strings.ToLower(strings.TrimSpace(header)) {
	case "", "x-forwarded-for":
		proxyHeader = server.XForwardedFor
	case "forwarded":
		proxyHeader = server.Forwarded
	default:
		return nil, 0, fmt.Errorf("invalid --proxy-header %q: want x-forwarded-for or forwarded", header)
	}

	var prefixes []netip.Prefix
	var invalid []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		if addr, err := netip.ParseAddr(v); err == nil && addr.Zone() == "" {
			prefixes = append(prefixes, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		invalid = append(invalid, strconv.Quote(v))
	}
	if len(invalid) > 0 {
		return nil, 0, fmt.Errorf("invalid --trusted-proxies entry %s: want a CIDR prefix such as 10.0.0.0/24 or an address such as 10.0.0.5", strings.Join(invalid, ", "))
	}
	return prefixes, proxyHeader, nil
}

// announceAdminKey creates the first admin key of a store that has none,
// and prints it once with how to use it.
func announceAdminKey(ctx context.Context, stderr io.Writer, keys *apikey.Manager, f serveFlags) error {
	secret, created, err := keys.EnsureAdmin(ctx)
	if err != nil {
		return fmt.Errorf("create the first admin key: %w", err)
	}
	if !created {
		fmt.Fprintf(stderr, "The store has an admin API key already. If it was lost, create another: tokentrail --db %s keys create --name NAME --role admin\n",
			shellWord(f.store))
		return nil
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	use := "Call the API with it:"
	if uiHandler() != nil {
		use = fmt.Sprintf("Open %s://%s/ and paste it, or call the API with it:", scheme, f.addr)
	}
	fmt.Fprintf(stderr, `
Created the first admin API key of %s. It is shown this once; the store
keeps only its SHA-256 digest:

    %s

%s

    curl -H "Authorization: Bearer $KEY" %s://%s/api/v1/anomalies

Create keys with fewer rights for services (ingest) and responders (read)
with tokentrail keys create.

`, f.store, secret, use, scheme, f.addr)
	return nil
}

// importDemoIfEmpty imports the demo data set into an empty store when
// --demo is given, or when the store is the default one and --no-demo is
// not given, and reports whether it did. Detection runs over the demo
// events as in an import.
func importDemoIfEmpty(ctx context.Context, stderr io.Writer, db eventStore, cfg detect.Config, en *enrich.Enricher, f serveFlags, explicitStore bool) (bool, error) {
	if f.noDemo || (explicitStore && !f.demo) {
		return false, nil
	}
	n, err := db.Count(ctx)
	if err != nil {
		return false, err
	}
	if n > 0 {
		if f.demo {
			fmt.Fprintf(stderr, "--demo: %s contains %d events already, so the demo data set was not imported\n", f.store, n)
		}
		return false, nil
	}
	fmt.Fprintf(stderr, "The store %s is empty: importing the demo data set (made-up events of one morning; --no-demo skips it)\n", f.store)
	engine, err := detect.New(cfg)
	if err != nil {
		return false, fmt.Errorf("invalid detection settings: %w", err)
	}
	found := &detection{engine: engine, enricher: en}
	if err := importDemo(ctx, db, stderr, found.observe); err != nil {
		return false, fmt.Errorf("import the demo data set: %w", err)
	}
	return true, found.storeImported(ctx, db, stderr, "tokentrail --db "+f.store+" anomalies")
}

// announceDemoToken prints the token of the demo's story and its subject,
// for a first search in the UI.
func announceDemoToken(ctx context.Context, stderr io.Writer, db eventStore) error {
	story, err := loadDemoStory()
	if err != nil {
		return err
	}
	events, err := db.Events(ctx, store.Query{TokenID: story.Token, Limit: 1})
	if err != nil {
		return fmt.Errorf("look up the demo token %s: %w", story.Token, err)
	}
	subject := ""
	if len(events) > 0 && events[0].Subject != "" {
		subject = ", or its subject " + events[0].Subject
	}
	fmt.Fprintf(stderr, "To try the UI, search for token %s, which the demo's story replays%s.\n\n", story.Token, subject)
	return nil
}

// shellWord returns s as one shell word: as it is when it holds only
// characters that no shell treats specially, else in single quotes.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// uiHandler returns the web UI's handler.
func uiHandler() http.Handler { return webui.Handler() }
