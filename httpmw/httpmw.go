// Package httpmw is net/http middleware that records every use of a bearer
// token in the tokentrail audit trail, records the tokens the application
// rejects, and enforces revocations.
//
// For each request that presents a token, the middleware takes the claims
// the application already verified (Options.Claims), or else reads the
// token's payload without verifying it, only for its jti, sub, iss, azp,
// sid, iat, nbf and exp. It never keeps, logs or records the token: a token
// without a jti is known by its SHA-256 fingerprint. A revoked token gets
// 401 and an RFC 6750 WWW-Authenticate challenge before the handler runs.
// Otherwise the handler runs, and its status decides the event: 401 and
// 403 record a rejection, with the reason taken from the WWW-Authenticate
// challenge or SetRejectReason, and every other status records a use.
// Requests without a bearer token pass through untouched.
//
// Events go to a Recorder that does not block, such as *recorder.Recorder
// under its DropNewest policy. What happens when it is saturated is the
// operator's choice: see Options.FailClosed.
//
// The recorded Path is the request's URL path without the query string,
// because query strings carry secrets such as OAuth codes and access_token
// parameters.
//
// The ResponseWriter that the handler receives is reused for a later
// request once the handler returns, so the handler must not keep it, as
// net/http requires of every ResponseWriter.
package httpmw

import (
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/clientip"
	"github.com/tokentrail/tokentrail/internal/tokenuse"
	"github.com/tokentrail/tokentrail/revocation"
)

// Claims is the identity of the token a request presents: TokenID (jti),
// Fingerprint, Issuer, Subject, ClientID, SessionID, Family (the root
// refresh token id of the token's lineage, when the application tracks
// it), IssuedAt, NotBefore and ExpiresAt. Empty fields are unknown.
type Claims = tokenuse.Claims

// Recorder queues an event without blocking and reports whether it was
// accepted. *recorder.Recorder satisfies it.
type Recorder interface {
	Record(e audit.Event) bool
}

// ProxyHeader is the forwarding header that trusted proxies write.
type ProxyHeader = clientip.Header

// The forwarding headers.
const (
	XForwardedFor = clientip.XForwardedFor // "X-Forwarded-For: client, proxy1", the default
	Forwarded     = clientip.Forwarded     // RFC 7239 "Forwarded: for=client, for=proxy1"
)

// Options configures the middleware. Only Recorder is required; each zero
// field means the default in its comment.
type Options struct {
	// Recorder receives the events. It must not block: use
	// *recorder.Recorder with the DropNewest overflow policy. Pass that
	// exact type, such as a tokentrail.Trail's Recorder field and not the
	// Trail: only then are events written in place in its queue, and any
	// other Recorder takes the slower Record path.
	Recorder Recorder

	// Claims returns the claims of the token that the application's own
	// authentication verified, typically from the request context, and
	// false when it has none. The middleware must then run inside that
	// authentication middleware. When Claims is nil or returns false, the
	// middleware reads the bearer token of the Authorization header
	// without verifying it. When the returned claims have no Fingerprint,
	// the middleware fingerprints the bearer token if they have no TokenID
	// either, or if Revocations revokes some tokens by fingerprint.
	Claims func(*http.Request) (Claims, bool)

	// Revocations is the set of revoked tokens to enforce, kept current by
	// a revocation.Refresher; nil enforces none.
	Revocations *revocation.Set

	// RevocationMaxAge is the age past which Revocations counts as stale
	// (revocation.Set.Stale), unless a long poll of its Refresher is held.
	// A fail-closed middleware then responds 503 to every request with a
	// token, and a fail-open one logs a warning every 10 seconds. 0
	// disables the check. A Set that was never refreshed is stale. Give it
	// a few of the Refresher's Intervals more than one poll takes; a long
	// poll's Wait may be longer (docs/middleware.md, "Choosing
	// RevocationMaxAge").
	RevocationMaxAge time.Duration

	// TrustedProxies are the reverse proxies whose forwarding header is
	// believed. The client address is the peer address unless the peer is
	// trusted. Then it is the first address of ProxyHeader, read from the
	// right, that is not a trusted proxy. Default: none, so forwarding
	// headers are ignored.
	TrustedProxies []netip.Prefix

	// ProxyHeader is the header the trusted proxies write; default
	// XForwardedFor. Only one is read, because a client can send the
	// other one and a proxy that does not write it passes it on.
	ProxyHeader ProxyHeader

	// FailClosed makes the middleware respond 503 Service Unavailable,
	// with a Retry-After header, to requests it cannot record or enforce:
	// for RetryAfter after the Recorder refused an event, and while
	// Revocations is older than RevocationMaxAge. The default,
	// fail-open, serves them, and the Recorder counts the events it
	// dropped.
	//
	// NOTE: the Recorder reports saturation only when an event is
	// refused, after the handler has run, so the requests in flight when
	// the queue fills are served without a recorded event.
	FailClosed bool

	// RetryAfter is how long a fail-closed middleware responds 503 after a
	// refused event, and the Retry-After value it sends. The default is 1
	// second, the recorder's default flush interval.
	RetryAfter time.Duration

	// Source is the Source of every recorded event, such as the service
	// name and instance; default empty.
	Source string

	// Logger receives the switches to 503 and stale revocation warnings,
	// at most one line every 10 seconds; default slog.Default(). It never
	// receives a token.
	Logger *slog.Logger

	// Clock returns the time of events and of the fail-closed decisions.
	// The default reads the monotonic clock once, where time.Now reads
	// it and the wall clock, and adds the wall clock's offset. It
	// measures that offset again every second, so a step of the system
	// clock shows in event times within a second.
	Clock func() time.Time
}

// New returns the middleware that opts describe. It returns an error when
// opts.Recorder is missing, a trusted proxy prefix is invalid or
// ProxyHeader is unknown.
func New(opts Options) (func(http.Handler) http.Handler, error) {
	tracker, err := tokenuse.New(tokenuse.Config{
		Recorder:       opts.Recorder,
		Revocations:    opts.Revocations,
		MaxStaleness:   opts.RevocationMaxAge,
		TrustedProxies: opts.TrustedProxies,
		ProxyHeader:    opts.ProxyHeader,
		FailClosed:     opts.FailClosed,
		RetryAfter:     opts.RetryAfter,
		Source:         opts.Source,
		Logger:         opts.Logger,
		Clock:          opts.Clock,
	}, "httpmw")
	if err != nil {
		return nil, err
	}
	forwardingKey := http.CanonicalHeaderKey(tracker.Resolver().Header().String())
	return func(next http.Handler) http.Handler {
		return &handler{tracker: tracker, claims: opts.Claims, next: next, forwardingKey: forwardingKey}
	}, nil
}

type handler struct {
	tracker       *tokenuse.Tracker
	claims        func(*http.Request) (Claims, bool)
	next          http.Handler
	forwardingKey string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// use is filled in place, so that its claims are not copied from
	// function to function.
	use := tokenuse.Use{Start: h.tracker.Now()}
	if !h.findClaims(r, &use.Claims) {
		h.next.ServeHTTP(w, r)
		return
	}

	switch decision, _ := h.tracker.Admit(use.Start, &use.Claims); decision {
	case tokenuse.Revoked:
		w.Header().Set("WWW-Authenticate", tokenuse.RevokedChallenge)
		http.Error(w, "invalid_token: "+tokenuse.RevokedDescription, http.StatusUnauthorized)
		use.Status = http.StatusUnauthorized
		h.describe(&use, r)
		h.tracker.Record(&use, audit.KindRejected, audit.RejectRevoked)
		return
	case tokenuse.Unavailable:
		w.Header().Set("Retry-After", h.tracker.RetryAfter())
		// The body gives the reason to the client's developer, who cannot
		// read the service's log; it names no internal state.
		http.Error(w, unavailableText+h.tracker.RetryAfter()+" s", http.StatusServiceUnavailable)
		return
	}

	rw := writers.Get().(*responseWriter)
	rw.ResponseWriter = w
	completed := false
	defer func() {
		// A handler that panics still used the token. Its status is
		// unknown unless it wrote one. Its writer is not reused, since
		// code that recovers the panic may still hold it.
		if !completed {
			h.finish(rw, r, &use, false)
		}
	}()
	h.next.ServeHTTP(rw, r)
	completed = true
	h.finish(rw, r, &use, true)

	// net/http forbids using a ResponseWriter after ServeHTTP returns,
	// so the writer serves the next request.
	*rw = responseWriter{}
	writers.Put(rw)
}

// unavailableText begins the body of a fail-closed 503; the Retry-After
// value follows it.
const unavailableText = "Service Unavailable: this service rejects bearer tokens while it cannot record their use or check them against revocations; retry after "

// writers holds the response writers of finished requests, so that a
// request does not allocate one.
var writers = sync.Pool{New: func() any { return new(responseWriter) }}

// findClaims sets *c to the claims of the request's token, and returns
// false when the request presents none.
func (h *handler) findClaims(r *http.Request, c *Claims) bool {
	if h.claims != nil {
		var ok bool
		if *c, ok = h.claims(r); ok {
			if h.tracker.NeedsFingerprint(c) {
				if token, ok := bearerToken(r); ok {
					c.Fingerprint = audit.Fingerprint(token)
				}
			}
			return c.Identified()
		}
	}
	token, ok := bearerToken(r)
	if !ok {
		return false
	}
	*c = h.tracker.ReadToken(token)
	return true
}

func bearerToken(r *http.Request) (string, bool) {
	values := r.Header["Authorization"]
	if len(values) == 0 {
		return "", false
	}
	return tokenuse.BearerToken(values[0])
}

// finish records the use or the rejection once the handler has returned,
// or while it panics (completed is false).
func (h *handler) finish(rw *responseWriter, r *http.Request, use *tokenuse.Use, completed bool) {
	use.Status = rw.status
	if completed && !rw.wroteHeader && !rw.hijacked {
		use.Status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	h.describe(use, r)

	if use.Status != http.StatusUnauthorized && use.Status != http.StatusForbidden {
		h.tracker.Record(use, audit.KindUsed, "")
		return
	}
	reason := rw.reason
	if reason == "" {
		reason = tokenuse.ChallengeReason(rw.Header().Get("WWW-Authenticate"))
	}
	h.tracker.Record(use, audit.KindRejected, reason)
}

// describe fills in the request's context: client address, user agent,
// method, path and trace id. It keeps the remote address and the headers
// as strings, which the tracker parses later, off the request path when it
// can.
func (h *handler) describe(use *tokenuse.Use, r *http.Request) {
	use.UserAgent = firstValue(r.Header["User-Agent"])
	use.Method = r.Method
	use.Path = r.URL.Path
	use.Request.Traceparent = firstValue(r.Header["Traceparent"])

	var forwarded []string
	if h.tracker.Resolver().TrustsAny() {
		forwarded = r.Header[h.forwardingKey]
	}
	if len(forwarded) > 1 {
		// Code that runs after the middleware could change the elements
		// of this slice, so a header sent on several lines is read now.
		use.IP = h.tracker.Resolver().Client(clientip.PeerAddr(r.RemoteAddr), forwarded)
		return
	}
	use.Request.RemoteAddr = r.RemoteAddr
	use.Request.Forwarded = firstValue(forwarded)
}

func firstValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// SetRejectReason gives the middleware the reason the handler rejects the token
// with 401 or 403, so that the recorded rejection carries reason instead
// of one guessed from the WWW-Authenticate header. w is the ResponseWriter
// the handler received, or one that wraps it and has an Unwrap method. It
// reports whether the middleware was found.
func SetRejectReason(w http.ResponseWriter, reason audit.RejectReason) bool {
	for {
		if rw, ok := w.(*responseWriter); ok {
			rw.reason = reason
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}
