package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
)

// The page sizes of GET /api/v1/access-log.
const (
	defaultAccessPage = 100
	maxAccessPage     = 10_000
)

// accessEntry is one entry of GET /api/v1/access-log.
type accessEntry struct {
	Time     time.Time  `json:"time"`
	KeyID    string     `json:"key_id"`
	KeyName  string     `json:"key_name"`
	Action   string     `json:"action"`
	Target   string     `json:"target"`
	RemoteIP netip.Addr `json:"remote_ip,omitzero"`
}

// accessLog lists who read what, newest first.
func (s *Server) accessLog(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q := store.AccessQuery{KeyID: query.Get("key"), Target: query.Get("target"), Limit: defaultAccessPage}
	if audit.ContainsToken(q.Target) {
		// Search logs a pasted token by its fingerprint, so its reads are
		// found under that.
		ref, _ := forensics.RefFromToken(q.Target)
		q.Target = ref.Fingerprint
	}
	for name, t := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := query.Get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest(fmt.Sprintf("invalid %s %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z", name, v))
			}
			*t = parsed.UTC()
		}
	}
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAccessPage {
			return badRequest(fmt.Sprintf("invalid limit %q: want 1 to %d", v, maxAccessPage))
		}
		q.Limit = n
	}

	list, err := s.accesses(r.Context(), q)
	if err != nil {
		return err
	}
	entries := make([]accessEntry, len(list))
	for i, a := range list {
		entries[i] = accessEntry{Time: a.Time, KeyID: a.KeyID, KeyName: a.KeyName, Action: a.Action, Target: a.Target, RemoteIP: a.RemoteIP}
	}
	writeJSON(w, http.StatusOK, map[string][]accessEntry{"accesses": entries})
	return nil
}

// maxLinkedTargets bounds the other ids of a token that an access-log
// filter reads besides the one given.
const maxLinkedTargets = 8

// accesses returns the accesses of q, newest first. A target that names a
// token also matches the reads of the token under its other id, a jti for
// a fingerprint or a fingerprint for a jti, when the stored events link
// the two.
func (s *Server) accesses(ctx context.Context, q store.AccessQuery) ([]apikey.Access, error) {
	if q.Target == "" {
		list, err := s.cfg.AccessLog.Accesses(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list accesses: %w", err)
		}
		return list, nil
	}

	q.Target = accessTarget(q.Target)
	targets := []string{q.Target}
	var linked revocation.Linked
	var err error
	if audit.IsFingerprint(q.Target) {
		linked, err = revocation.LinkedIDs(ctx, s.store, "", q.Target)
	} else {
		linked, err = revocation.LinkedIDs(ctx, s.store, q.Target, "")
	}
	if err != nil {
		return nil, fmt.Errorf("list accesses of %s: %w", q.Target, err)
	}
	for _, id := range slices.Concat(linked.TokenIDs, linked.Fingerprints) {
		if len(targets) > maxLinkedTargets {
			break
		}
		targets = append(targets, id)
	}

	var list []apikey.Access
	for _, target := range targets {
		q.Target = target
		found, err := s.cfg.AccessLog.Accesses(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list accesses of %s: %w", target, err)
		}
		list = append(list, found...)
	}
	slices.SortStableFunc(list, func(a, b apikey.Access) int { return b.Time.Compare(a.Time) })
	if q.Limit > 0 && len(list) > q.Limit {
		list = list[:q.Limit]
	}
	return list, nil
}

// healthz reports that the process serves requests.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz reports whether the store responds to a query within 2 seconds.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.Count(ctx); err != nil {
		return &apiError{code: CodeUnavailable, message: "the store does not answer", cause: fmt.Errorf("count events: %w", err)}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

// callerKey describes the key of the request, so that a client such as the
// web UI learns what it may do without trying.
func (s *Server) callerKey(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, keyOf(r.Context()))
	return nil
}
