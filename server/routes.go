package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/internal/clientip"
)

// route is one API route: a net/http pattern, the role it needs and its
// handler. The OpenAPI test compares this table with docs/openapi.yaml.
type route struct {
	method  string
	path    string
	roles   []apikey.Role // any of them; empty means no API key is needed
	handler func(w http.ResponseWriter, r *http.Request) error

	// longPoll routes wait up to Config.MaxWait by design, so
	// Config.RequestTimeout does not bound them.
	longPoll bool
}

func (s *Server) apiRoutes() []route {
	read := []apikey.Role{apikey.RoleRead}
	return []route{
		{http.MethodPost, "/api/v1/events", []apikey.Role{apikey.RoleIngest}, s.ingest, false},
		{http.MethodGet, "/api/v1/search", read, s.search, false},
		{http.MethodGet, "/api/v1/tokens/{id}", read, s.tokenReport, false},
		{http.MethodGet, "/api/v1/subjects/{subject}/tokens", read, s.subjectTokens, false},
		{http.MethodGet, "/api/v1/related", read, s.related, false},
		{http.MethodGet, "/api/v1/incidents", read, s.incident, false},
		{http.MethodGet, "/api/v1/anomalies", read, s.anomalies, false},
		{http.MethodPost, "/api/v1/revocations", []apikey.Role{apikey.RoleRevoke}, s.revoke, false},
		{http.MethodGet, "/api/v1/revocations", []apikey.Role{apikey.RoleRead, apikey.RoleIngest}, s.revocations, true},
		{http.MethodGet, "/api/v1/access-log", []apikey.Role{apikey.RoleAdmin}, s.accessLog, false},
		{http.MethodGet, "/api/v1/key", apikey.Roles, s.callerKey, false},
		{http.MethodGet, "/healthz", nil, s.healthz, false},
		{http.MethodGet, "/readyz", nil, s.readyz, false},
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}))
	// An unknown path under /api/ gets the API's JSON error, not the UI
	// or net/http's text.
	allowed := allowedMethods(s.apiRoutes())
	mux.Handle("/api/", s.wrap(route{path: "/api/", handler: func(w http.ResponseWriter, r *http.Request) error {
		if methods := allowed(r); methods != "" {
			w.Header().Set("Allow", methods)
			return &apiError{code: CodeMethodNotAllowed, message: fmt.Sprintf("%s is not allowed on this route; use %s", r.Method, methods)}
		}
		return &apiError{code: CodeNotFound, message: "no such route; docs/openapi.yaml lists the routes"}
	}}))
	if s.cfg.UI != nil {
		mux.Handle("/", s.cfg.UI)
	}
	return withRequestID(mux)
}

// allowedMethods returns a function that lists the methods of the routes
// whose path matches a request's, and "" when none does, so that a request
// with another method gets 405 and not 404.
func allowedMethods(routes []route) func(*http.Request) string {
	byPath := map[string][]string{}
	paths := http.NewServeMux()
	for _, rt := range routes {
		if _, ok := byPath[rt.path]; !ok {
			paths.Handle(rt.path, http.NotFoundHandler())
		}
		byPath[rt.path] = append(byPath[rt.path], rt.method)
	}
	return func(r *http.Request) string {
		_, pattern := paths.Handler(r)
		return strings.Join(byPath[pattern], ", ")
	}
}

// wrap adds to a route's handler the API key check, the rate limit, the
// request timeout, the metrics and the error response.
func (s *Server) wrap(rt route) http.Handler {
	label := strings.TrimSpace(rt.method + " " + rt.path) // the catch-all route has no method
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.requests.WithLabelValues(label, fmt.Sprint(rec.status)).Inc() }()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.writeError(rec, r, fmt.Errorf("panic: %v", p))
			}
		}()

		if len(rt.roles) > 0 {
			key, err := s.authenticate(r)
			var limited *rateLimitedError
			switch {
			case errors.As(err, &limited):
				s.writeRateLimited(rec, r, limited)
				return
			case err != nil:
				s.writeError(rec, r, err)
				return
			}
			if !canAny(key, rt.roles) {
				s.writeError(rec, r, &apiError{code: CodeForbidden, message: fmt.Sprintf("this API key lacks the role this route needs (%s)", joinRoles(rt.roles))})
				return
			}
			if wait, ok := s.allow(key.ID); !ok {
				s.writeRateLimited(rec, r, &rateLimitedError{wait: wait, message: "too many requests for this API key; retry after the number of seconds in Retry-After"})
				return
			}
			r = r.WithContext(withKey(r.Context(), key))
		}

		if !rt.longPoll {
			ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		if err := rt.handler(rec, r); err != nil {
			s.writeError(rec, r, err)
		}
	})
}

func canAny(k apikey.Key, roles []apikey.Role) bool {
	for _, role := range roles {
		if k.Can(role) {
			return true
		}
	}
	return false
}

func joinRoles(roles []apikey.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return strings.Join(names, " or ")
}

// authenticate returns the key of the request's bearer secret. A client
// address past its limit of failed authentications gets rate_limited
// before its key is checked, and each missing, unknown or revoked key
// counts against that limit.
func (s *Server) authenticate(r *http.Request) (apikey.Key, error) {
	client, peer := s.clientAddr(r)
	if wait, blocked := s.authFailures.blocked(client, s.cfg.Clock()); blocked {
		s.repeats.Log(r.Context(), slog.LevelWarn, "too many failed authentications",
			append(clientAttrs(client, peer), slog.String(logRequestID, requestID(r.Context())))...)
		return apikey.Key{}, &rateLimitedError{wait: wait, message: "too many failed authentications from this address; retry after the number of seconds in Retry-After"}
	}

	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		s.authFailures.fail(client, s.cfg.Clock())
		return apikey.Key{}, &apiError{code: CodeUnauthenticated, message: "missing API key: send it as Authorization: Bearer KEY"}
	}
	key, err := s.cfg.Keys.Authenticate(r.Context(), secret)
	switch {
	case errors.Is(err, apikey.ErrUnknownKey), errors.Is(err, apikey.ErrRevokedKey):
		// The client learns neither which of the two it was nor the key's
		// ID, which would help a guesser; the log has the reason. The
		// error names the key ID at most, never the secret.
		s.authFailures.fail(client, s.cfg.Clock())
		s.repeats.Log(r.Context(), slog.LevelWarn, "API key rejected",
			append(clientAttrs(client, peer),
				slog.String(logRequestID, requestID(r.Context())), slog.String(logError, err.Error()))...)
		return apikey.Key{}, &apiError{code: CodeUnauthenticated, message: "invalid API key"}
	case err != nil:
		return apikey.Key{}, &apiError{code: CodeUnavailable, message: "cannot check API keys now; retry later", cause: fmt.Errorf("authenticate: %w", err)}
	}
	return key, nil
}

// clientAddr returns the address of the request's client and of its peer.
// They differ only when the peer is one of Config.TrustedProxies, whose
// forwarding header then names the client. A header sent by any other
// peer is ignored, because any client can set it. The client is the zero
// Addr when RemoteAddr has no address, or when the entry of the header
// that names it is not an address, such as RFC 7239's "unknown".
func (s *Server) clientAddr(r *http.Request) (client, peer netip.Addr) {
	peer = clientip.PeerAddr(r.RemoteAddr)
	if !s.proxies.TrustsAny() {
		return peer, peer
	}
	return s.proxies.Client(peer, r.Header.Values(s.proxies.Header().String())), peer
}

// clientAttrs returns the log attributes of a request's client address,
// with its peer when a trusted proxy forwarded it.
func clientAttrs(client, peer netip.Addr) []slog.Attr {
	attrs := []slog.Attr{slog.String(logClient, client.String())}
	if peer != client {
		attrs = append(attrs, slog.String(logPeer, peer.String()))
	}
	return attrs
}

type ctxKey int

const (
	keyOfRequest ctxKey = iota
	idOfRequest
)

func withKey(ctx context.Context, k apikey.Key) context.Context {
	return context.WithValue(ctx, keyOfRequest, k)
}

// keyOf returns the API key that authenticated the request.
func keyOf(ctx context.Context) apikey.Key {
	k, _ := ctx.Value(keyOfRequest).(apikey.Key)
	return k
}

// withRequestID gives each request a random id, sent back as X-Request-Id
// and logged with every error of the request.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		_, _ = rand.Read(b[:]) // since Go 1.24, crypto/rand.Read never returns an error
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), idOfRequest, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(idOfRequest).(string)
	return id
}

// statusRecorder keeps the status a handler sent, for the request metric.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
