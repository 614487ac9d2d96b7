package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

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

	list, err := s.cfg.AccessLog.Accesses(r.Context(), q)
	if err != nil {
		return fmt.Errorf("list accesses: %w", err)
	}
	entries := make([]accessEntry, len(list))
	for i, a := range list {
		entries[i] = accessEntry{Time: a.Time, KeyID: a.KeyID, KeyName: a.KeyName, Action: a.Action, Target: a.Target, RemoteIP: a.RemoteIP}
	}
	writeJSON(w, http.StatusOK, map[string][]accessEntry{"accesses": entries})
	return nil
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
