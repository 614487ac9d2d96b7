// Package tokenuse is the part of the HTTP middleware and the gRPC
// interceptors that does not depend on the protocol. It reads a presented
// token's claims, decides whether the request may proceed (revocations,
// fail-closed), and records the use or rejection without blocking.
package tokenuse

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/clientip"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
)

// Recorder queues an event without blocking and reports whether it was
// accepted. *recorder.Recorder satisfies it; its DropNewest policy keeps
// the request path from waiting. A Tracker writes the events of a
// *recorder.Recorder in place with RecordFunc, and parses the request
// context in its flusher goroutine.
type Recorder interface {
	Record(e audit.Event) bool
}

// Config configures a Tracker. Zero fields get the defaults in their
// comments. The middleware's Options document each field for users.
type Config struct {
	Recorder       Recorder        // required
	Revocations    *revocation.Set // nil: no revocation is enforced
	MaxStaleness   time.Duration   // 0: the age of the revocation set is not checked
	TrustedProxies []netip.Prefix  // nil: the peer address is the client
	ProxyHeader    clientip.Header
	FailClosed     bool
	RetryAfter     time.Duration    // default DefaultRetryAfter
	Source         string           // the Source of every event, such as the service name
	Logger         *slog.Logger     // default slog.Default()
	Clock          func() time.Time // default: the system clock, read as systemClock describes
}

// DefaultRetryAfter is the default time during which a fail-closed Tracker
// rejects requests after the recorder refused an event. It matches the
// recorder's default flush interval, the time its queue needs to drain.
const DefaultRetryAfter = time.Second

// logEvery is the minimum time between two log lines about rejected
// requests or a stale revocation set, so that an overload does not flood
// the log.
const logEvery = 10 * time.Second

// Tracker applies Config to each request. It is safe for concurrent use.
type Tracker struct {
	cfg        Config
	resolver   *clientip.Resolver
	log        *slog.Logger
	retryAfter string // RetryAfter in whole seconds, for the Retry-After header

	// queue is cfg.Recorder when it is a *recorder.Recorder, and nil
	// otherwise. Only that exact type gets RecordFunc: a type that embeds
	// one may override Record, and RecordFunc would bypass the override.
	queue *recorder.Recorder
	// complete is t.completeRequest as a func value, made once in New,
	// because one made per event would be allocated.
	complete func(e *audit.Event, rc *recorder.RequestContext)

	saturatedUntil atomic.Int64 // Unix nanoseconds until which a fail-closed Tracker rejects requests
	unavailable    atomic.Uint64
	dropped        atomic.Uint64 // events the Recorder did not accept
	lastLog        atomic.Int64
}

// New returns a Tracker for cfg, with its defaults applied. component
// names the package in log lines and errors, such as "httpmw". New returns
// an error when cfg.Recorder is nil or a trusted proxy prefix is invalid.
func New(cfg Config, component string) (*Tracker, error) {
	if cfg.Recorder == nil {
		return nil, fmt.Errorf("%s: Options.Recorder is missing: pass the service's *recorder.Recorder", component)
	}
	if cfg.ProxyHeader != clientip.XForwardedFor && cfg.ProxyHeader != clientip.Forwarded {
		return nil, fmt.Errorf("%s: Options.ProxyHeader %d is unknown: use XForwardedFor or Forwarded", component, uint8(cfg.ProxyHeader))
	}
	resolver, err := clientip.NewResolver(cfg.TrustedProxies, cfg.ProxyHeader)
	if err != nil {
		return nil, fmt.Errorf("%s: Options.TrustedProxies: %w", component, err)
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = newSystemClock().Now
	}
	seconds := int64((cfg.RetryAfter + time.Second - 1) / time.Second)
	t := &Tracker{
		cfg:        cfg,
		resolver:   resolver,
		log:        cfg.Logger.With(slog.String("component", component)),
		retryAfter: strconv.FormatInt(seconds, 10),
	}
	t.queue, _ = cfg.Recorder.(*recorder.Recorder)
	t.complete = t.completeRequest
	return t, nil
}

// Now returns the current time of the configured clock.
func (t *Tracker) Now() time.Time { return t.cfg.Clock() }

// Resolver returns the client address resolver.
func (t *Tracker) Resolver() *clientip.Resolver { return t.resolver }

// RetryAfter returns the Retry-After value in seconds, as text.
func (t *Tracker) RetryAfter() string { return t.retryAfter }

// RetryAfterDuration returns the time a rejected client should wait.
func (t *Tracker) RetryAfterDuration() time.Duration { return t.cfg.RetryAfter }

// ReadToken returns the claims of a compact token read without
// verification. A token without a jti, or one that cannot be read, is
// identified by its fingerprint. So is every token while the revocation
// set revokes some tokens by fingerprint.
func (t *Tracker) ReadToken(token string) Claims {
	var c Claims
	_ = ReadClaims(token, &c) // an unreadable token keeps empty claims and gets a fingerprint
	if t.NeedsFingerprint(&c) {
		c.Fingerprint = audit.Fingerprint(token)
	}
	return c
}

// NeedsFingerprint reports whether the fingerprint of the token with claims
// c must be computed: when c names no token, and while the revocation set
// revokes some tokens by fingerprint, since Check could not find them
// otherwise.
func (t *Tracker) NeedsFingerprint(c *Claims) bool {
	return c.Fingerprint == "" && (c.TokenID == "" || (t.cfg.Revocations != nil && t.cfg.Revocations.HasFingerprints()))
}

// Decision is what a Tracker decides for a request before its handler runs.
type Decision uint8

// The decisions.
const (
	Allow       Decision = iota // run the handler
	Revoked                     // reject with 401: the token is revoked
	Unavailable                 // reject with 503: fail-closed and unable to record or to enforce
)

// Admit decides whether a request that presents a token with claims c, at
// now, may run its handler. A revoked token is rejected first, whatever the
// state of the recorder. A fail-closed Tracker then rejects the request
// while the recorder is saturated and while the revocation set is older
// than MaxStaleness.
func (t *Tracker) Admit(now time.Time, c *Claims) (Decision, revocation.Reason) {
	set := t.cfg.Revocations
	if set != nil {
		revoked, reason := set.Check(revocation.Token{
			TokenID:     c.TokenID,
			Fingerprint: c.Fingerprint,
			Family:      c.Family,
			SessionID:   c.SessionID,
			Subject:     c.Subject,
			IssuedAt:    c.IssuedAt,
		})
		if revoked {
			return Revoked, reason
		}
	}

	nowNano := now.UnixNano()
	if t.cfg.FailClosed && nowNano < t.saturatedUntil.Load() {
		t.noteUnavailable(now, "recorder queue is full")
		return Unavailable, revocation.NotRevoked
	}
	if set != nil && t.cfg.MaxStaleness > 0 && set.Stale(now, t.cfg.MaxStaleness) {
		if t.cfg.FailClosed {
			t.noteUnavailable(now, "revocation set is stale")
			return Unavailable, revocation.NotRevoked
		}
		t.noteStale(now)
	}
	return Allow, revocation.NotRevoked
}

// Use is the context of one use of a token, as the request states it.
type Use struct {
	Start     time.Time // when the request arrived
	Claims    Claims
	IP        netip.Addr // replaced by the address parsed from Request.RemoteAddr, when set
	UserAgent string
	Method    string
	Path      string
	TraceID   string // replaced by the trace id of Request.Traceparent, when set
	Status    int    // HTTP status, 0 when unknown

	// Request is the unparsed context of the request. Record parses it in
	// the flusher goroutine of a *recorder.Recorder, and at once for any
	// other Recorder. Its Complete field is ignored.
	Request recorder.RequestContext
}

// Record records u as an event of kind, with reason for a rejection. When
// the Recorder does not accept it and the Tracker is fail-closed, requests
// are rejected for RetryAfter from now on. It returns whether the event was
// accepted.
func (t *Tracker) Record(u *Use, kind audit.Kind, reason audit.RejectReason) bool {
	var ok bool
	if t.queue != nil {
		ok = t.queue.RecordFunc(func(e *audit.Event, rc *recorder.RequestContext) {
			t.fill(e, u, kind, reason)
			*rc = u.Request
			if rc.RemoteAddr != "" || rc.Traceparent != "" {
				rc.Complete = t.complete // nothing to parse otherwise, as for grpcmw
			}
		})
	} else {
		var e audit.Event
		t.fill(&e, u, kind, reason)
		t.completeRequest(&e, &u.Request)
		ok = t.cfg.Recorder.Record(e)
	}
	if ok {
		return true
	}

	// The recorder counts and logs its own drops, so only the switch to
	// rejecting requests is logged here.
	t.dropped.Add(1)
	if t.cfg.FailClosed {
		now := t.cfg.Clock()
		t.saturatedUntil.Store(now.Add(t.cfg.RetryAfter).UnixNano())
		t.noteUnavailable(now, "recorder queue is full")
	}
	return false
}

// fill sets the fields of the zero event e that record u.
func (t *Tracker) fill(e *audit.Event, u *Use, kind audit.Kind, reason audit.RejectReason) {
	c := &u.Claims
	e.Time = u.Start.UTC()
	e.Kind = kind
	e.TokenID = c.TokenID
	e.Fingerprint = c.Fingerprint
	e.Issuer = c.Issuer
	e.Subject = c.Subject
	e.ClientID = c.ClientID
	e.SessionID = c.SessionID
	e.IssuedAt = c.IssuedAt
	e.NotBefore = c.NotBefore
	e.ExpiresAt = c.ExpiresAt
	e.IP = u.IP
	e.UserAgent = u.UserAgent
	e.Method = u.Method
	e.Path = u.Path
	e.Status = u.Status
	e.TraceID = u.TraceID
	e.RejectReason = reason
	e.Source = t.cfg.Source
}

// completeRequest sets e.IP from rc.RemoteAddr and the trusted proxies'
// rc.Forwarded, when RemoteAddr is set, and e.TraceID from rc.Traceparent,
// when that is set. It reads only t's immutable configuration, so the
// flusher goroutine may run it.
func (t *Tracker) completeRequest(e *audit.Event, rc *recorder.RequestContext) {
	if rc.RemoteAddr != "" {
		e.IP = t.clientAddr(rc.RemoteAddr, rc.Forwarded)
	}
	if rc.Traceparent != "" {
		e.TraceID = TraceID(rc.Traceparent)
	}
}

// clientAddr returns the client address of a request from remoteAddr
// ("host:port"). forwarded is the value of its forwarding header, which
// counts only when the peer is a trusted proxy.
func (t *Tracker) clientAddr(remoteAddr, forwarded string) netip.Addr {
	peer := clientip.PeerAddr(remoteAddr)
	if forwarded == "" {
		return peer
	}
	return t.resolver.Client(peer, []string{forwarded})
}

// noteUnavailable counts a request rejected with 503 and logs at most one
// line every logEvery.
func (t *Tracker) noteUnavailable(now time.Time, reason string) {
	total := t.unavailable.Add(1)
	if !t.mayLog(now) {
		return
	}
	t.log.Warn("fail-closed: rejecting token requests with 503 Service Unavailable",
		slog.String("reason", reason),
		slog.Uint64("rejected_total", total),
		slog.Uint64("recorder_dropped_total", t.dropped.Load()),
		slog.Duration("retry_after", t.cfg.RetryAfter))
}

// noteStale logs, at most once every logEvery, that a fail-open Tracker
// serves requests with a stale revocation set.
func (t *Tracker) noteStale(now time.Time) {
	if !t.mayLog(now) {
		return
	}
	t.log.Warn("fail-open: serving requests with a stale revocation set, so a recent revocation may not be enforced",
		slog.Time("last_refresh", t.cfg.Revocations.Refreshed()),
		slog.Duration("max_staleness", t.cfg.MaxStaleness))
}

func (t *Tracker) mayLog(now time.Time) bool {
	last := t.lastLog.Load()
	if last != 0 && now.UnixNano()-last < int64(logEvery) {
		return false
	}
	return t.lastLog.CompareAndSwap(last, now.UnixNano())
}
