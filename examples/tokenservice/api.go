package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/revocation"
)

// routes returns the service's handler. Each API route runs the service's
// own token check first, then the tokentrail middleware mw, which takes the
// verified claims from the context, then the route's scope check:
//
//	authenticate -> mw (record, enforce revocations) -> require scope -> handler
//
// authenticate does not reject a bad token itself. It leaves the error in
// the context for require, so that mw records the 401 as a rejection.
func (s *service) routes(mw func(http.Handler) http.Handler) http.Handler {
	protected := func(scope string, h http.HandlerFunc) http.Handler {
		return s.authenticate(mw(s.require(scope, h)))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.Handle("GET /api/orders", protected("orders:read", s.orders))
	mux.Handle("POST /api/orders", protected("orders:write", s.createOrder))
	mux.Handle("GET /api/me", protected("", s.me))
	mux.Handle("POST /logout", protected("", s.logout))
	return mux
}

// authResult holds the verified claims, or the verification error, that
// authenticate puts in a request's context.
type authResult struct {
	claims *tokenClaims
	err    error
}

type authKey struct{}

// authenticate verifies the bearer token of a request, if any, and puts the
// claims or the error in the request's context.
func (s *service) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r)
		if ok {
			claims, err := s.verify(raw, apiAudience)
			r = r.WithContext(context.WithValue(r.Context(), authKey{}, authResult{claims: claims, err: err}))
		}
		next.ServeHTTP(w, r)
	})
}

// claims is httpmw's Options.Claims: the claims that authenticate verified,
// with the refresh family of their session, which tokens do not carry.
func (s *service) claims(r *http.Request) (httpmw.Claims, bool) {
	auth, ok := r.Context().Value(authKey{}).(authResult)
	if !ok || auth.err != nil {
		return httpmw.Claims{}, false
	}
	c := auth.claims
	var family string
	if c.SessionID != "" {
		s.mu.Lock()
		if sess, ok := s.mu.sessions[c.SessionID]; ok {
			family = sess.family
		}
		s.mu.Unlock()
	}
	return httpmw.Claims{
		TokenID:   c.ID,
		Subject:   c.Subject,
		Issuer:    c.Issuer,
		SessionID: c.SessionID,
		Family:    family,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, true
}

// require responds 401 to a request without a valid token and 403 to one
// whose token lacks scope, with the RFC 6750 challenge, and otherwise runs
// h. An empty scope accepts any valid token.
func (s *service) require(scope string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, ok := r.Context().Value(authKey{}).(authResult)
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", `Bearer realm="tokenservice"`)
			http.Error(w, "missing bearer token", http.StatusUnauthorized)
		case auth.err != nil:
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="tokenservice", error="invalid_token", error_description=%q`, describeTokenError(auth.err)))
			http.Error(w, "invalid bearer token", http.StatusUnauthorized)
		case scope != "" && !slices.Contains(strings.Fields(auth.claims.Scope), scope):
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="tokenservice", error="insufficient_scope", scope=%q`, scope))
			http.Error(w, "insufficient scope", http.StatusForbidden)
		default:
			h(w, r)
		}
	})
}

// describeTokenError returns the error_description of a token that failed
// verification. httpmw reads the rejection reason from its words
// ("expired", "signature", "malformed"), and it never quotes the token.
func describeTokenError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "The token is malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "The token signature is invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "The token is expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "The token is not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "The token is not meant for this endpoint"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "The token is from another issuer"
	default:
		return "The token is invalid"
	}
}

// rejectReason maps a verification error to the reason recorded for it.
func rejectReason(err error) audit.RejectReason {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return audit.RejectMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return audit.RejectBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return audit.RejectExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return audit.RejectNotYetValid
	default:
		return audit.RejectOther
	}
}

// demoOrders are the orders returned to every user.
var demoOrders = []map[string]any{
	{"id": 1001, "item": "tea", "quantity": 2},
	{"id": 1002, "item": "biscuits", "quantity": 1},
}

func (s *service) orders(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, demoOrders)
}

func (s *service) createOrder(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]any{"id": 1003, "status": "created"})
}

func (s *service) me(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(authKey{}).(authResult).claims
	writeJSON(w, http.StatusOK, map[string]any{"sub": c.Subject, "jti": c.ID, "sid": c.SessionID, "scope": c.Scope})
}

// logout serves POST /logout: it ends the session of the presented token,
// so that neither its access tokens nor its refresh tokens are accepted
// any more, and records that revocation with method logout.
func (s *service) logout(w http.ResponseWriter, r *http.Request) {
	c := r.Context().Value(authKey{}).(authResult).claims
	if c.SessionID == "" {
		http.Error(w, "this token has no session to log out of: client tokens expire on their own", http.StatusBadRequest)
		return
	}

	s.mu.Lock()
	if sess, ok := s.mu.sessions[c.SessionID]; ok {
		sess.ended = true
	}
	s.mu.Unlock()

	e := revocation.SessionEvent(c.SessionID, s.now())
	e.Subject = c.Subject
	e.Issuer = c.Issuer
	e.Actor = c.Subject
	e.Reason = "the user logged out"
	e.RevocationMethod = audit.RevokedByLogout
	e.ExpiresAt = s.now().Add(refreshLifetime) // no token of the session outlives this
	e.IP = s.clientAddr(r)
	e.UserAgent = r.UserAgent()
	e.Source = "tokenservice"
	s.record(e)
	s.logger.Info("logout", slog.String("subject", c.Subject), slog.String("session_id", c.SessionID))
	w.WriteHeader(http.StatusNoContent)
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// clientAddr returns the client address of r the way httpmw finds it: the
// peer, unless the peer is a trusted proxy. Then it is the first
// X-Forwarded-For entry, read from the right, that is not a trusted proxy.
// It returns the zero Addr when that entry is not an address.
func (s *service) clientAddr(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	addr := peer.Addr().Unmap()
	if !s.trusted(addr) {
		return addr
	}
	var entries []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		entries = append(entries, strings.Split(v, ",")...)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		next, err := netip.ParseAddr(strings.TrimSpace(entries[i]))
		if err != nil {
			return netip.Addr{}
		}
		addr = next.Unmap()
		if !s.trusted(addr) {
			return addr
		}
	}
	return addr
}

func (s *service) trusted(addr netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone when this fails
}
