package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

// feedPageSize is the maximum number of revocations in one feed response.
// A client asks again with the returned next.
const feedPageSize = revocation.DefaultPageSize

// feedRecheck is how often the server looks in the store for revocations
// that another process, such as tokentrail revoke, wrote to it, while a
// revocation long-poll waits. Revocations that this server stores wake the
// long-polls at once. When the Store is a store.RevocationEnd, one
// feedWatcher reads its last revocation position for all the long-polls.
// Otherwise each long-poll reads the store again itself. Detection also
// reads new revocations at this interval.
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
	var recheck <-chan time.Time // stays nil, so never ready, with a watcher
	for checked := false; ; checked = true {
		// Both are taken before the read, so that a revocation stored
		// during the read still wakes the wait below.
		changed := s.feed.wait()
		var written <-chan struct{} // stays nil, so never ready, without a watcher
		if s.watcher != nil {
			written = s.watcher.wait()
		}
		events, next, err := s.store.Revocations(r.Context(), after, feedPageSize)
		if err != nil {
			return fmt.Errorf("read revocations after %d: %w", after, err)
		}
		// A page with events shows that after is not past the end, so
		// only an empty first read checks it.
		if len(events) == 0 && !checked {
			if err := s.checkRevocationPosition(r, after); err != nil {
				return err
			}
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
		if !checked {
			// Held only once the store had nothing new, so that requests
			// served at once start no watcher. A revocation written
			// after the read above still wakes this request, because its
			// channel was taken before the read and the watcher wakes its
			// waiters within an interval of such a write.
			if s.watcher != nil {
				defer s.watcher.hold()()
			} else {
				ticker := time.NewTicker(feedRecheck)
				defer ticker.Stop()
				recheck = ticker.C
			}
		}
		select {
		case <-changed:
		case <-written:
		case <-recheck:
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

// checkRevocationPosition rejects a feed position past the last revoked
// event of the store. Such a position comes from another store, or from
// this one before it was restored from an older copy or replaced, and a
// reader that went on from it would skip every revocation stored up to it.
// The last position is read after the reader's position was handed out,
// so a position this store returned passes, that of a revocation stored a
// moment ago included.
//
// NOTE: a position does not name its store. So when a restored store has
// stored a revocation past a reader's position by the time the reader
// requests it, the position passes, and the reader misses the revocations
// stored between the restored store's end and its position. A Store that
// is no store.RevocationEnd is not checked at all.
func (s *Server) checkRevocationPosition(r *http.Request, after int64) error {
	if after == 0 || s.revocationEnd == nil {
		return nil
	}
	last, err := s.revocationEnd.LastRevocationSeq(r.Context())
	if err != nil {
		return fmt.Errorf("read the last revocation position: %w", err)
	}
	if after <= last {
		return nil
	}
	return &apiError{code: CodePositionPastEnd, message: fmt.Sprintf(
		"after %d is past the last position of this server's revocation feed (%d), so it was read from another store, or this store was restored from an older copy or replaced since. "+
			"Read again from after=0 to get every stored revocation; revocation.HTTPSource does so itself", after, last)}
}

// timedRevocationEnd is a store.RevocationEnd whose calls the store
// latency histogram times.
type timedRevocationEnd struct {
	store.RevocationEnd
	seconds *prometheus.HistogramVec
}

func (t timedRevocationEnd) LastRevocationSeq(ctx context.Context) (int64, error) {
	defer timedStore{seconds: t.seconds}.observe("last_revocation_seq", time.Now())
	return t.RevocationEnd.LastRevocationSeq(ctx)
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
	// its refresh family, which services apply to that one token only, and
	// a target with space at its start or end as given.
	Force bool `json:"force,omitempty"`
}

// maxRevokeBodyBytes bounds the body of POST /api/v1/revocations, whose
// fields are a few ids and a reason.
const maxRevokeBodyBytes = 64 << 10

// revokeFields are the keys of a revokeRequest and the form of each.
var revokeFields = map[string]string{
	"scope":         "one of token, family, session, subject",
	"target":        "a string",
	"reason":        "a string",
	"issued_before": rfc3339Form,
	"expires_at":    rfc3339Form,
	"force":         "true or false",
}

// decodeRevokeRequest reads the body of POST /api/v1/revocations. Its
// errors name the key at fault, as sent, and the keys a request has.
func decodeRevokeRequest(body io.Reader) (revokeRequest, error) {
	var req revokeRequest
	raw, err := io.ReadAll(body)
	if err != nil {
		return req, bodyError(err, maxRevokeBodyBytes)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return req, badRequest(`empty body: send a JSON object such as {"scope":"token","target":"JTI","reason":"token leaked in a CI log"}`)
	}
	fields, err := objectFields(raw, "the body")
	if err != nil {
		return req, badRequest(audit.RedactTokens(err.Error()))
	}
	for _, f := range fields {
		if _, ok := revokeFields[f.key]; !ok {
			return req, badRequest(audit.RedactTokens(fmt.Sprintf("unknown field %s: a revocation has the fields scope, target, reason, issued_before, expires_at and force",
				shownValue(strconv.Quote(f.key)))))
		}
	}
	if err := decodeObject(raw, &req, "the body", func(field string) string { return revokeFields[field] }); err != nil {
		return req, badRequest(audit.RedactTokens(err.Error()))
	}
	return req, nil
}

// revokeResponse is the response of POST /api/v1/revocations.
type revokeResponse struct {
	AlreadyRevoked bool        `json:"already_revoked"`
	Revocation     audit.Event `json:"revocation"` // the one stored, or the earlier one that covers the request
	// TokenKnown is false when no event of a revoked token is stored,
	// which often means a mistyped target. It is true for the other
	// scopes, whose unknown targets Warnings names.
	TokenKnown bool `json:"token_known"`

	// Warnings lists the checks that the client should make about a
	// recorded revocation, such as of a target that no stored event names.
	// It is empty when there is nothing to check or nothing was recorded.
	Warnings []warning `json:"warnings"`
}

// warning is a note about a request that succeeded. Clients branch on
// Code; Message words it for a person and may change.
type warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// The codes of the warnings of POST /api/v1/revocations.
const (
	// warnUnknownTarget: no stored event names the revoked token, family,
	// session or subject, which often means a mistyped target.
	warnUnknownTarget = "unknown_target"

	// warnNotFamilyRoot: a family revocation recorded with force names a
	// token that is not the root of its refresh family, so services apply
	// it to that one token only.
	warnNotFamilyRoot = "not_family_root"
)

// revoke records a revocation, as tokentrail revoke does, with the API
// key's name as actor. It checks the target as the command does, with
// forensics.CheckRevocationTarget, and words what the command prints as a
// warning in the response's warnings.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) error {
	req, err := decodeRevokeRequest(http.MaxBytesReader(w, r.Body, maxRevokeBodyBytes))
	if err != nil {
		return err
	}
	e, err := s.revocationEvent(req, keyOf(r.Context()).Name)
	if err != nil {
		return err
	}
	target, err := forensics.CheckRevocationTarget(r.Context(), s.store, &e)
	if err != nil {
		return err
	}
	warnings, err := targetWarnings(&e, target, req.Force)
	if err != nil {
		return err
	}

	res, err := revocation.Record(r.Context(), s.store, e, req.ExpiresAt.IsZero())
	var fe *audit.FieldError
	switch {
	case errors.As(err, &fe):
		return invalidRevocation(fe)
	case err != nil:
		return fmt.Errorf("record revocation %s: %w", e.ID, err)
	case res.Earlier != nil:
		writeJSON(w, http.StatusOK, revokeResponse{AlreadyRevoked: true, Revocation: *res.Earlier, TokenKnown: res.Known, Warnings: []warning{}})
		return nil
	case res.Duplicate:
		writeJSON(w, http.StatusOK, revokeResponse{AlreadyRevoked: true, Revocation: res.Event, TokenKnown: res.Known, Warnings: []warning{}})
		return nil
	}
	if !res.Known {
		warnings = append(warnings, warning{warnUnknownTarget, fmt.Sprintf("no event of token %q is stored: check the jti or fingerprint if you expected one", res.Event.Token())})
	}
	s.feed.notify()
	writeJSON(w, http.StatusCreated, revokeResponse{Revocation: res.Event, TokenKnown: res.Known, Warnings: warnings})
	return nil
}

// revokeRequestFields maps the event fields that a revokeRequest sets to
// the request's keys.
var revokeRequestFields = map[string]string{
	"TokenID": "target", "Fingerprint": "target", "SessionID": "target", "Subject": "target",
	"Reason": "reason", "NotBefore": "issued_before", "ExpiresAt": "expires_at",
}

// invalidRevocation words a validation error of the revoked event in terms
// of the request's keys.
func invalidRevocation(fe *audit.FieldError) error {
	field, ok := revokeRequestFields[fe.Field]
	if !ok {
		field = fe.JSONField()
	}
	e := &fieldError{field: field, problem: fe.Reason}
	if fe.Value != "" {
		e.value = quotedValue(fe.Value)
	}
	return badRequest("invalid revocation: " + audit.RedactTokens(e.Error()))
}

// targetWarnings words what the stored events show about the family,
// session or subject that e revokes, as tokentrail revoke does. It rejects
// a family revocation whose target is not the root of its refresh family
// unless force is set. Services match a family by the root of the
// presented token's lineage, so such a revocation would cover the named
// token only.
func targetWarnings(e *audit.Event, t forensics.RevocationTarget, force bool) ([]warning, error) {
	warnings := []warning{}
	switch {
	case e.RevocationScope == audit.RevokeFamily && !t.Known:
		warnings = append(warnings, warning{warnUnknownTarget, fmt.Sprintf("no event of token %q is stored, so no refresh family is known to start at it: "+
			"check that it is the jti of the family's root refresh token, whose lineage the token report shows", e.TokenID)})
	case e.RevocationScope == audit.RevokeFamily && !t.IsFamilyRoot(e.TokenID):
		return familyRootWarning(e.TokenID, t, force)
	case e.RevocationScope == audit.RevokeSession && !t.Known:
		warnings = append(warnings, warning{warnUnknownTarget, fmt.Sprintf("no event of session %q is stored: "+
			"check the value against the sid claim of the session's tokens, which the token report shows", e.SessionID)})
	case e.RevocationScope == audit.RevokeSubject && !t.Known:
		warnings = append(warnings, warning{warnUnknownTarget, fmt.Sprintf("no event of subject %q is stored: "+
			"check the value against the sub claim of the subject's tokens, which the token report shows", e.Subject)})
	}
	return warnings, nil
}

// familyRootWarning rejects a family revocation named by target, which is
// not the root of its refresh family, or with force returns the warning
// that the revocation covers target only.
func familyRootWarning(target string, t forensics.RevocationTarget, force bool) ([]warning, error) {
	if !t.RootComplete {
		if !force {
			return nil, badRequest(fmt.Sprintf("invalid family target %q: its lineage has more than 64 parent links or they loop, so its root is unknown; "+
				"name the root token, or send force: true to revoke this token's family as given", target))
		}
		return []warning{{warnNotFamilyRoot, fmt.Sprintf("token %q is not the root of its refresh family, whose root is unknown (the walk stopped at %q): "+
			"this revocation covers %q only", target, t.Root, target)}}, nil
	}
	if !force {
		return nil, badRequest(fmt.Sprintf("invalid family target %q: it is not the root of its refresh family, which starts at %q, "+
			"so services would apply the revocation to this token only; revoke family %q, or send force: true", target, t.Root, t.Root))
	}
	return []warning{{warnNotFamilyRoot, fmt.Sprintf("token %q is not the root of its refresh family, which starts at %q: this revocation covers %q only",
		target, t.Root, target)}}, nil
}

// maxNotBeforeAhead is how far issued_before may pass the revocation time:
// the clock difference between the server and the issuer. A later one
// would also reject the tokens the subject signs in for until then.
const maxNotBeforeAhead = time.Minute

// revocationEvent builds the revoked event of a request.
func (s *Server) revocationEvent(req revokeRequest, actor string) (audit.Event, error) {
	target := req.Target
	if !req.Force {
		target = strings.TrimSpace(target)
	}
	switch {
	case strings.TrimSpace(target) == "":
		return audit.Event{}, badRequest("missing target: name the token (jti or fingerprint), family, session or subject to revoke")
	case target != req.Target:
		// As tokentrail revoke does: a space copied along with an id names
		// another value, which no id carries.
		return audit.Event{}, badRequest(fmt.Sprintf("invalid target %s: it has space at its start or end, which no id of a token, session or subject carries; "+
			"remove the space, or send force true to revoke the value as given", strconv.Quote(req.Target)))
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
