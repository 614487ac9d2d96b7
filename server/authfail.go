package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxAuthFailureAddrs bounds the client addresses whose failed
// authentications the server counts.
const maxAuthFailureAddrs = 4096

// authFailures limits the failed authentications of each client address,
// so that a client that sends unknown keys in a loop gets 429 after a
// burst instead of costing a store query and a log line each time.
type authFailures struct {
	perSecond rate.Limit
	burst     int

	mu     sync.Mutex
	byAddr map[netip.Addr]*rate.Limiter
}

func newAuthFailures(perSecond rate.Limit, burst int) *authFailures {
	return &authFailures{perSecond: perSecond, burst: burst, byAddr: map[netip.Addr]*rate.Limiter{}}
}

// blocked returns how long addr must wait before it may try to
// authenticate again, and true when it has no failure left at now.
func (f *authFailures) blocked(addr netip.Addr, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	l, ok := f.byAddr[addr]
	f.mu.Unlock()
	if !ok {
		return 0, false
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(f.perSecond) * float64(time.Second)), true
}

// fail counts one failed authentication of addr at now.
func (f *authFailures) fail(addr netip.Addr, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()

	l, ok := f.byAddr[addr]
	if !ok {
		f.pruneLocked(now)
		l = rate.NewLimiter(f.perSecond, f.burst)
		f.byAddr[addr] = l
	}
	l.AllowN(now, 1)
}

// pruneLocked makes room for one more address: it drops the addresses
// whose limit has refilled, and then, if none had, one chosen by map order.
//
// NOTE: a client that spreads its failures over more than
// maxAuthFailureAddrs addresses can push its own addresses out, which
// resets their limits. The log summary still bounds the lines it causes.
func (f *authFailures) pruneLocked(now time.Time) {
	if len(f.byAddr) < maxAuthFailureAddrs {
		return
	}
	for addr, l := range f.byAddr {
		if l.TokensAt(now) >= float64(f.burst) {
			delete(f.byAddr, addr)
		}
	}
	for addr := range f.byAddr {
		if len(f.byAddr) < maxAuthFailureAddrs {
			break
		}
		delete(f.byAddr, addr)
	}
}

// repeatLog writes the first line of a message, then at most one line of
// it per interval, which carries the number of lines skipped since the
// last one written. It is meant for failures that a client can repeat at
// will, such as rejected API keys and failed TLS handshakes. Flush writes
// the counts still pending. It is safe for concurrent use.
type repeatLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex
	messages map[string]*repeatState // by message; the server uses a few fixed ones
}

type repeatState struct {
	level   slog.Level
	next    time.Time // the earliest time of the next line written
	skipped int       // lines skipped since the last one written
}

func newRepeatLog(log *slog.Logger, interval time.Duration, now func() time.Time) *repeatLog {
	return &repeatLog{log: log, interval: interval, now: now, messages: map[string]*repeatState{}}
}

// Log writes msg with attrs unless a line of msg was written less than
// the interval ago, in which case it counts msg as skipped.
func (l *repeatLog) Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	now := l.now()
	l.mu.Lock()
	st, ok := l.messages[msg]
	if !ok {
		st = &repeatState{level: level}
		l.messages[msg] = st
	}
	if ok && now.Before(st.next) {
		st.skipped++
		l.mu.Unlock()
		return
	}
	skipped := st.skipped
	st.skipped, st.next = 0, now.Add(l.interval)
	l.mu.Unlock()

	if skipped > 0 {
		attrs = append(attrs, slog.Int(logSkipped, skipped))
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}

// Flush writes one line for each message with skipped lines, giving their
// number, so that a burst that ended is still counted in the log.
func (l *repeatLog) Flush(ctx context.Context) {
	l.mu.Lock()
	type pending struct {
		msg string
		st  repeatState
	}
	var lines []pending
	for msg, st := range l.messages {
		if st.skipped > 0 {
			lines = append(lines, pending{msg, *st})
			st.skipped = 0
		}
	}
	l.mu.Unlock()

	for _, p := range lines {
		l.log.LogAttrs(ctx, p.st.level, p.msg, slog.Int(logSkipped, p.st.skipped))
	}
}

// errorLogWriter turns the lines of an http.Server's ErrorLog into log
// records. Failed TLS handshakes share one repeated message, so that a
// scanner cannot flood the log: any client that closes the connection
// mid-handshake or offers no common cipher causes one. (net/http of Go 1.26
// responds to a plain HTTP request on a TLS port with 400 and logs nothing.)
type errorLogWriter struct {
	log *repeatLog
}

func (w errorLogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	msg := "HTTP server error"
	if bytes.HasPrefix(p, []byte("http: TLS handshake error")) {
		msg = "TLS handshake failed"
	}
	w.log.Log(context.Background(), slog.LevelWarn, msg, slog.String(logError, line))
	return len(p), nil
}
