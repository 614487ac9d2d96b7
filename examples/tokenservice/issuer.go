package main

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
)

// Token lifetimes.
const (
	accessLifetime  = 15 * time.Minute
	refreshLifetime = 8 * time.Hour
)

// apiAudience is the aud of access tokens. Refresh tokens name the token
// endpoint instead, so that the API rejects a refresh token presented as an
// access token, and the token endpoint the reverse.
const apiAudience = "orders-api"

// tokenClaims are the claims of both kinds of token: jti, sub, iss, aud,
// exp, iat, and the sign-in session and granted scopes.
type tokenClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid,omitempty"`
	Scope     string `json:"scope,omitempty"`
}

// user is a demo account of the password grant.
type user struct {
	password string
	scope    string // the scopes the user may be granted, space-separated
}

// client is an OAuth client. A client without a secret is public: it may use
// the password grant but not client credentials.
type client struct {
	secret string
	scope  string
}

// The demo accounts. A real service checks password hashes in a database.
var (
	demoUsers = map[string]user{
		"alice": {password: "wonderland", scope: "orders:read orders:write"},
		"bob":   {password: "builder", scope: "orders:read"},
	}
	demoClients = map[string]client{
		"web":     {scope: "orders:read orders:write"},
		"reports": {secret: "reports-secret", scope: "orders:read"},
	}
)

// session is one sign-in: the refresh family that rotation grows from it
// and whether it ended (logout, or a refresh token reused).
type session struct {
	id       string
	subject  string
	clientID string
	scope    string
	family   string // jti of the first refresh token, the root of the family
	ended    bool
}

// refreshToken is the state of one issued refresh token.
type refreshToken struct {
	session  *session
	issuedAt time.Time
	redeemed bool
}

// service issues and verifies tokens and records their lifecycle. It is
// safe for concurrent use.
type service struct {
	key     signingKey
	issuer  string
	trail   *tokentrail.Trail
	revoked *revocation.Set
	proxies []netip.Prefix
	logger  *slog.Logger
	now     func() time.Time

	mu struct {
		sync.Mutex
		sessions map[string]*session      // by sid
		refresh  map[string]*refreshToken // by jti
	}
}

func newService(key signingKey, issuer string, trail *tokentrail.Trail, revoked *revocation.Set, proxies []netip.Prefix, logger *slog.Logger) *service {
	s := &service{key: key, issuer: issuer, trail: trail, revoked: revoked, proxies: proxies, logger: logger, now: time.Now}
	s.mu.sessions = make(map[string]*session)
	s.mu.refresh = make(map[string]*refreshToken)
	return s
}

// tokenResponse is the body of a successful token request (RFC 6749,
// section 5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
}

// grantError is an error response of the token endpoint (RFC 6749,
// section 5.2).
type grantError struct {
	status      int
	code        string // invalid_request, invalid_client, invalid_grant, unsupported_grant_type, invalid_scope
	description string
}

func (e *grantError) Error() string { return e.code + ": " + e.description }

// token serves POST /token: the password, client_credentials and
// refresh_token grants.
func (s *service) token(w http.ResponseWriter, r *http.Request) {
	var resp *tokenResponse
	var err error
	if err = r.ParseForm(); err != nil {
		err = &grantError{http.StatusBadRequest, "invalid_request", "the body is not a valid form"}
	} else {
		switch grant := r.PostForm.Get("grant_type"); grant {
		case "password":
			resp, err = s.passwordGrant(r)
		case "client_credentials":
			resp, err = s.clientCredentialsGrant(r)
		case "refresh_token":
			resp, err = s.refreshGrant(r)
		case "":
			err = &grantError{http.StatusBadRequest, "invalid_request", "missing grant_type: want password, client_credentials or refresh_token"}
		default:
			err = &grantError{http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported: want password, client_credentials or refresh_token", grant)}
		}
	}

	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		var ge *grantError
		if !errors.As(err, &ge) {
			s.logger.Error("token request failed", slog.Any("error", err))
			ge = &grantError{http.StatusInternalServerError, "server_error", "the token could not be issued"}
		}
		s.logger.Info("token request rejected", slog.String("grant_type", r.PostForm.Get("grant_type")),
			slog.String("error", ge.code), slog.String("ip", s.clientAddr(r).String()))
		if ge.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="tokenservice"`)
		}
		writeJSON(w, ge.status, map[string]string{"error": ge.code, "error_description": ge.description})
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *service) passwordGrant(r *http.Request) (*tokenResponse, error) {
	clientID := r.PostForm.Get("client_id")
	if clientID == "" {
		clientID = "web"
	}
	c, ok := demoClients[clientID]
	if !ok {
		return nil, &grantError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf("unknown client_id %q", clientID)}
	}
	username := r.PostForm.Get("username")
	u, ok := demoUsers[username]
	if !ok || subtle.ConstantTimeCompare([]byte(u.password), []byte(r.PostForm.Get("password"))) != 1 {
		s.logger.Info("login failed", slog.String("username", username), slog.String("ip", s.clientAddr(r).String()))
		return nil, &grantError{http.StatusBadRequest, "invalid_grant", "wrong username or password"}
	}
	scope, err := grantedScope(r.PostForm.Get("scope"), u.scope, c.scope)
	if err != nil {
		return nil, err
	}

	sess := &session{id: rand.Text(), subject: username, clientID: clientID, scope: scope}
	return s.issue(r, sess, "")
}

func (s *service) clientCredentialsGrant(r *http.Request) (*tokenResponse, error) {
	clientID, secret, ok := r.BasicAuth()
	if !ok {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, known := demoClients[clientID]
	if !known || c.secret == "" || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return nil, &grantError{http.StatusUnauthorized, "invalid_client", fmt.Sprintf("client %q is unknown, public or gave a wrong secret", clientID)}
	}
	scope, err := grantedScope(r.PostForm.Get("scope"), c.scope, c.scope)
	if err != nil {
		return nil, err
	}

	// A client acts for itself: its tokens have no session and, as RFC
	// 6749 section 4.4.3 advises, no refresh token.
	access, claims, err := s.sign(clientID, "", scope, apiAudience, accessLifetime)
	if err != nil {
		return nil, err
	}
	e := s.requestEvent(r, claims, access)
	e.ClientID = clientID
	s.trail.RecordIssued(e)
	return &tokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: int(accessLifetime.Seconds()), Scope: scope}, nil
}

// refreshGrant redeems a refresh token for a new pair. Each refresh token
// is redeemed once: presenting it again means that two parties hold it, so
// the whole family is revoked.
func (s *service) refreshGrant(r *http.Request) (*tokenResponse, error) {
	raw := r.PostForm.Get("refresh_token")
	if raw == "" {
		return nil, &grantError{http.StatusBadRequest, "invalid_request", "missing refresh_token"}
	}
	claims, err := s.verify(raw, s.refreshAudience())
	if err != nil {
		e := s.requestEvent(r, nil, raw)
		e.RejectReason = rejectReason(err)
		e.Status = http.StatusBadRequest
		s.trail.RecordRejected(e)
		return nil, &grantError{http.StatusBadRequest, "invalid_grant", "the refresh token is invalid: " + describeTokenError(err)}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.mu.refresh[claims.ID]
	reject := func(reason audit.RejectReason, description string) error {
		e := s.requestEvent(r, claims, raw)
		e.RejectReason = reason
		e.Status = http.StatusBadRequest
		if rt != nil {
			e.ClientID = rt.session.clientID
		}
		s.trail.RecordRejected(e)
		return &grantError{http.StatusBadRequest, "invalid_grant", description}
	}
	switch {
	case !ok:
		// Signed by this key but unknown: the state was lost in a restart.
		return nil, reject(audit.RejectOther, "the refresh token is unknown: sign in again")
	case rt.redeemed:
		s.revokeFamilyLocked(r, rt, claims.ID)
		return nil, reject(audit.RejectReused, "the refresh token was already used, so its session is revoked: sign in again")
	case rt.session.ended:
		return nil, reject(audit.RejectRevoked, "the session has ended: sign in again")
	}
	if revoked, _ := s.revoked.Check(revocation.Token{
		TokenID: claims.ID, Family: rt.session.family, SessionID: rt.session.id,
		Subject: claims.Subject, IssuedAt: rt.issuedAt,
	}); revoked {
		return nil, reject(audit.RejectRevoked, "the refresh token has been revoked: sign in again")
	}

	rt.redeemed = true
	e := s.requestEvent(r, claims, raw)
	e.ClientID = rt.session.clientID
	s.trail.RecordRefreshed(e)
	return s.issueLocked(r, rt.session, claims.ID)
}

// revokeFamilyLocked ends the session of rt and records the revocation of
// its whole refresh family, also applying it at once to this service's own
// set.
func (s *service) revokeFamilyLocked(r *http.Request, rt *refreshToken, reusedID string) {
	sess := rt.session
	sess.ended = true
	e := revocation.FamilyEvent(sess.family, s.now())
	e.Subject = sess.subject
	e.Issuer = s.issuer
	e.SessionID = sess.id
	e.Actor = "tokenservice"
	e.Reason = fmt.Sprintf("refresh token %s was presented again after it was redeemed", reusedID)
	e.RevocationMethod = audit.RevokedByAutomated
	e.ExpiresAt = s.now().Add(refreshLifetime) // no token of the family outlives this
	e.IP = s.clientAddr(r)
	e.Source = "tokenservice"
	s.record(e)
	s.logger.Warn("refresh token reused, family revoked",
		slog.String("token_id", reusedID), slog.String("family", sess.family), slog.String("subject", sess.subject))
}

// record records a revoked event and adds it to the service's set, which
// would otherwise learn of it only when the recorder has written it and the
// refresher has read it back.
func (s *service) record(e audit.Event) {
	if !s.trail.RecordRevoked(e) {
		s.logger.Error("revocation not recorded: the recorder dropped it", slog.String("event_id", e.ID))
	}
	if err := s.revoked.Add(e); err != nil {
		s.logger.Error("applying the revocation failed", slog.String("event_id", e.ID), slog.Any("error", err))
	}
}

func (s *service) issue(r *http.Request, sess *session, parent string) (*tokenResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(r, sess, parent)
}

// issueLocked mints an access and a refresh token in sess, records both,
// and makes the refresh token redeemable. The first refresh token of a
// session becomes the root of its family.
func (s *service) issueLocked(r *http.Request, sess *session, parent string) (*tokenResponse, error) {
	access, accessClaims, err := s.sign(sess.subject, sess.id, sess.scope, apiAudience, accessLifetime)
	if err != nil {
		return nil, err
	}
	refresh, refreshClaims, err := s.sign(sess.subject, sess.id, sess.scope, s.refreshAudience(), refreshLifetime)
	if err != nil {
		return nil, err
	}

	if sess.family == "" {
		sess.family = refreshClaims.ID
		s.mu.sessions[sess.id] = sess
	}
	s.mu.refresh[refreshClaims.ID] = &refreshToken{session: sess, issuedAt: refreshClaims.IssuedAt.Time}

	for _, minted := range []struct {
		token  string
		claims *tokenClaims
	}{{access, accessClaims}, {refresh, refreshClaims}} {
		e := s.requestEvent(r, minted.claims, minted.token)
		e.ClientID = sess.clientID
		e.ParentTokenID = parent
		s.trail.RecordIssued(e)
	}
	return &tokenResponse{
		AccessToken: access, TokenType: "Bearer", ExpiresIn: int(accessLifetime.Seconds()),
		RefreshToken: refresh, Scope: sess.scope,
	}, nil
}

func (s *service) refreshAudience() string { return s.issuer + "/token" }

// sign mints a token for subject with a new jti.
func (s *service) sign(subject, sessionID, scope, audience string, lifetime time.Duration) (string, *tokenClaims, error) {
	now := s.now().Truncate(time.Second)
	claims := &tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        rand.Text(),
			Subject:   subject,
			Issuer:    s.issuer,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
		},
		SessionID: sessionID,
		Scope:     scope,
	}
	token, err := jwt.NewWithClaims(s.key.method, claims).SignedString(s.key.private)
	if err != nil {
		return "", nil, fmt.Errorf("sign a token for %s: %w", subject, err)
	}
	return token, claims, nil
}

// verify checks the signature, issuer, audience and expiry of raw.
func (s *service) verify(raw, audience string) (*tokenClaims, error) {
	claims := &tokenClaims{}
	_, err := jwt.ParseWithClaims(raw, claims,
		func(*jwt.Token) (any, error) { return s.key.public, nil },
		jwt.WithValidMethods([]string{s.key.method.Alg()}),
		jwt.WithIssuer(s.issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(s.now),
	)
	if err != nil {
		return nil, err
	}
	if claims.ID == "" || claims.Subject == "" {
		return nil, fmt.Errorf("%w: missing jti or sub", jwt.ErrTokenInvalidClaims)
	}
	return claims, nil
}

// requestEvent returns an event of the request r about the token raw:
// the claims, when verified, and the client. The token itself is kept
// only as its fingerprint.
func (s *service) requestEvent(r *http.Request, claims *tokenClaims, raw string) audit.Event {
	e := audit.Event{
		Time:        s.now(),
		Fingerprint: audit.Fingerprint(raw),
		IP:          s.clientAddr(r),
		UserAgent:   r.UserAgent(),
		Method:      r.Method,
		Path:        r.URL.Path,
		Status:      http.StatusOK,
		Source:      "tokenservice",
	}
	if claims != nil {
		e.TokenID = claims.ID
		e.Subject = claims.Subject
		e.Issuer = claims.Issuer
		e.Audience = claims.Audience
		e.SessionID = claims.SessionID
		e.Scopes = strings.Fields(claims.Scope)
		e.IssuedAt = claims.IssuedAt.Time
		e.ExpiresAt = claims.ExpiresAt.Time
	}
	return e
}

// grantedScope returns the scopes requested, or all the allowed ones when
// none is requested. A requested scope must be allowed both to the user (or
// client) and to the client.
func grantedScope(requested, userScope, clientScope string) (string, error) {
	allowed := strings.Fields(userScope)
	if requested == "" {
		var both []string
		for _, sc := range allowed {
			if slices.Contains(strings.Fields(clientScope), sc) {
				both = append(both, sc)
			}
		}
		return strings.Join(both, " "), nil
	}
	for _, sc := range strings.Fields(requested) {
		if !slices.Contains(allowed, sc) || !slices.Contains(strings.Fields(clientScope), sc) {
			return "", &grantError{http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not allowed: want some of %q", sc, userScope)}
		}
	}
	return strings.Join(strings.Fields(requested), " "), nil
}
