package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/revocation"
)

// feedPageSize is the maximum number of revocations in one feed response.
// A client asks again with the returned next.
const feedPageSize = revocation.DefaultPageSize

// feedRecheck is how often a waiting long-poll reads the store again.
// Revocations that this server stores wake it at once, and the recheck
// catches those that another process, such as tokentrail revoke, writes to
// the same store.
const feedRecheck = time.Second

// feed wakes the revocation long-polls when a revocation is stored.
type feed struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced by notify
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

// wait returns a channel that is closed at the next notify.
func (f *feed) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *feed) notify() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.changed)
	f.changed = make(chan struct{})
}

// feedPage is the response of GET /api/v1/revocations.
type feedPage struct {
	Revocations []audit.Event `json:"revocations"`
	Next        int64         `json:"next"` // the after of the next request
}

// revocations serves the revocation feed. The ETag is the position after
// the page, so a client that sends it back in If-None-Match with nothing
// new gets 304, after waiting up to wait for a revocation.
func (s *Server) revocations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var after int64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return badRequest(fmt.Sprintf("invalid after %q: want the next of an earlier response, a whole number of 0 or more", v))
		}
		after = n
	}
	var wait time.Duration
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return badRequest(fmt.Sprintf("invalid wait %q: want a duration such as 30s", v))
		}
		wait = min(d, s.cfg.MaxWait)
	}
	etag := fmt.Sprintf("%q", strconv.FormatInt(after, 10))
	conditional := matchesETag(r.Header.Get("If-None-Match"), etag)

	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	recheck := time.NewTicker(feedRecheck)
	defer recheck.Stop()
	for {
		// Taken before the read, so that a revocation stored during the
		// read still wakes the wait below.
		changed := s.feed.wait()
		events, next, err := s.store.Revocations(r.Context(), after, feedPageSize)
		if err != nil {
			return fmt.Errorf("read revocations after %d: %w", after, err)
		}
		if len(events) > 0 || !conditional {
			if events == nil {
				events = []audit.Event{}
			}
			w.Header().Set("ETag", fmt.Sprintf("%q", strconv.FormatInt(next, 10)))
			w.Header().Set("Cache-Control", "no-cache")
			writeJSON(w, http.StatusOK, feedPage{Revocations: events, Next: next})
			return nil
		}
		if wait == 0 {
			break
		}
		select {
		case <-changed:
		case <-recheck.C:
		case <-deadline.C:
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return nil
		case <-r.Context().Done():
			return nil // the client left; no one reads a response
		}
	}
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusNotModified)
	return nil
}

// matchesETag reports whether an If-None-Match header names etag.
func matchesETag(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}

// revokeRequest is the body of POST /api/v1/revocations.
type revokeRequest struct {
	Scope        audit.RevocationScope `json:"scope"`
	Target       string                `json:"target"`
	IssuedBefore time.Time             `json:"issued_before,omitzero"`
	ExpiresAt    time.Time             `json:"expires_at,omitzero"`
	Reason       string                `json:"reason"`

	// Force records a family revocation whose target is not the root of
	// its refresh family, which services apply to that one token only.
	Force bool `json:"force,omitempty"`
}

// revokeResponse is the response of POST /api/v1/revocations.
type revokeResponse struct {
	AlreadyRevoked bool        `json:"already_revoked"`
	Revocation     audit.Event `json:"revocation"` // the one stored, or the earlier one that covers the request
	// TokenKnown is false when no event of a revoked token is stored,
	// which often means a mistyped target.
	TokenKnown bool `json:"token_known"`
}

// revoke records a revocation, as tokentrail revoke does, with the API
// key's name as actor.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	var req revokeRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return bodyError(err, 64<<10)
	}
	e, err := s.revocationEvent(req, keyOf(r.Context()).Name)
	if err != nil {
		return err
	}
	if e.RevocationScope == audit.RevokeFamily && !req.Force {
		if err := s.checkFamilyRoot(r.Context(), e.TokenID); err != nil {
			return err
		}
	}

	res, err := revocation.Record(r.Context(), s.store, e, req.ExpiresAt.IsZero())
	var fe *audit.FieldError
	switch {
	case errors.As(err, &fe):
		return badRequest("invalid revocation: " + audit.RedactTokens(fe.Error()))
	case err != nil:
		return fmt.Errorf("record revocation %s: %w", e.ID, err)
	case res.Earlier != nil:
		writeJSON(w, http.StatusOK, revokeResponse{AlreadyRevoked: true, Revocation: *res.Earlier, TokenKnown: res.Known})
		return nil
	case res.Duplicate:
		writeJSON(w, http.StatusOK, revokeResponse{AlreadyRevoked: true, Revocation: res.Event, TokenKnown: res.Known})
		return nil
	}
	s.feed.notify()
	writeJSON(w, http.StatusCreated, revokeResponse{Revocation: res.Event, TokenKnown: res.Known})
	return nil
}

// checkFamilyRoot rejects a family revocation named by a token that is not
// the root of its refresh family. Services match a family by the root of
// the presented token's lineage, so such a revocation would cover the
// named token only.
func (s *Server) checkFamilyRoot(ctx context.Context, target string) error {
	root, complete, err := forensics.LineageRoot(ctx, s.store, target)
	if err != nil {
		return fmt.Errorf("find the root of the refresh family of %s: %w", target, err)
	}
	switch {
	case !complete:
		return badRequest(fmt.Sprintf("invalid family target %q: its lineage has more than 64 parent links or they loop, so its root is unknown; "+
			"name the root token, or send force: true to revoke this token's family as given", target))
	case root != target:
		return badRequest(fmt.Sprintf("invalid family target %q: it is not the root of its refresh family, which starts at %q, "+
			"so services would apply the revocation to this token only; revoke family %q, or send force: true", target, root, root))
	}
	return nil
}

// maxNotBeforeAhead is how far issued_before may pass the revocation time:
// the clock difference between the server and the issuer. A later one
// would also reject the tokens the subject signs in for until then.
const maxNotBeforeAhead = time.Minute

// revocationEvent builds the revoked event of a request.
func (s *Server) revocationEvent(req revokeRequest, actor string) (audit.Event, error) {
	target := strings.TrimSpace(req.Target)
	switch {
	case target == "":
		return audit.Event{}, badRequest("missing target: name the token (jti or fingerprint), family, session or subject to revoke")
	case audit.ContainsToken(target):
		return audit.Event{}, badRequest("the target is a raw JWT, which tokentrail never stores: send its jti, or its SHA-256 fingerprint")
	case strings.TrimSpace(req.Reason) == "":
		return audit.Event{}, badRequest("missing reason: say why, so that a later reader understands the revocation")
	case !req.IssuedBefore.IsZero() && req.Scope != audit.RevokeSubject:
		return audit.Event{}, badRequest("issued_before applies to scope subject only")
	}

	now := s.cfg.Clock().UTC()
	var e audit.Event
	switch req.Scope {
	case audit.RevokeToken:
		if fp := strings.ToLower(target); audit.IsFingerprint(fp) {
			e = revocation.TokenEvent("", fp, now)
		} else {
			e = revocation.TokenEvent(target, "", now)
		}
	case audit.RevokeFamily:
		e = revocation.FamilyEvent(target, now)
	case audit.RevokeSession:
		e = revocation.SessionEvent(target, now)
	case audit.RevokeSubject:
		notBefore := now
		if !req.IssuedBefore.IsZero() {
			notBefore = req.IssuedBefore.UTC()
		}
		if notBefore.After(now.Add(maxNotBeforeAhead)) {
			return audit.Event{}, badRequest("invalid issued_before: it is in the future, which would also reject the tokens the subject signs in for until then; give a time up to now")
		}
		e = revocation.SubjectEvent(target, notBefore, now)
	default:
		return audit.Event{}, badRequest(fmt.Sprintf("invalid scope %q: want token, family, session or subject", req.Scope))
	}
	e.Actor, e.Reason, e.RevocationMethod = actor, req.Reason, audit.RevokedByAPI
	e.ExpiresAt = req.ExpiresAt.UTC()
	e.Source = "tokentrail server"
	return e, nil
}
