package server

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/report"
	"github.com/tokentrail/tokentrail/store"
)

// maxLookupEvents bounds the events that search and the subject's token
// list read for one value, so that a subject with years of events cannot
// exhaust memory.
//
// NOTE: the store returns the oldest events first, so past this bound the
// last_seen of search and of a subject's tokens is that of the newest
// event read, not of the newest stored.
const maxLookupEvents = 10_000

// The access log's actions.
const (
	actionSearch        = "search"
	actionTokenReport   = "token.report"
	actionSubjectTokens = "subject.tokens"
	actionRelated       = "related"
	actionIncident      = "incident.analyze"
	actionAnomalies     = "anomalies"
)

// recordAccess stores who read what before the read is served, so that
// no read escapes the access log: when the log cannot be written, the
// request fails.
func (s *Server) recordAccess(r *http.Request, action, target string) error {
	key := keyOf(r.Context())
	a := apikey.Access{
		Time:    s.cfg.Clock().UTC(),
		KeyID:   key.ID,
		KeyName: key.Name,
		Action:  action,
		Target:  accessTarget(target),
	}
	a.RemoteIP, _ = s.clientAddr(r)
	if err := s.cfg.AccessLog.AppendAccess(r.Context(), a); err != nil {
		return &apiError{code: CodeUnavailable, message: "cannot record this read in the access log; retry later",
			cause: fmt.Errorf("append access %s %s: %w", action, a.Target, err)}
	}
	return nil
}

// accessTarget returns target as the access log stores it: with any raw
// token redacted, and a fingerprint in lowercase, so that one filter finds
// every read of it however the client typed it.
func accessTarget(target string) string {
	if fp := strings.ToLower(strings.TrimSpace(target)); audit.IsFingerprint(fp) {
		return fp
	}
	return audit.RedactTokens(target)
}

// writeReport sends a report in the JSON form of the CLI's --json output
// (package report), with any raw token that a log value carried redacted,
// as the CLI's incident report does.
func writeReport(w http.ResponseWriter, v any) error {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(audit.RedactTokens(buf.String()))) // a failed write means the client left
	return nil
}

// tokenRef reads a token id from a path or query: a fingerprint (64 hex
// digits) or a jti.
func tokenRef(id string) (forensics.TokenRef, error) {
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return forensics.TokenRef{}, badRequest("missing token: give its jti or fingerprint")
	case audit.ContainsToken(id):
		return forensics.TokenRef{}, badRequest("a raw JWT was sent where an id belongs; tokentrail never stores tokens, so send its jti or its SHA-256 fingerprint")
	case audit.IsFingerprint(strings.ToLower(id)):
		return forensics.TokenRef{Fingerprint: strings.ToLower(id)}, nil
	}
	return forensics.TokenRef{TokenID: id}, nil
}

func (s *Server) detector(ctx context.Context) func([]audit.Event) ([]audit.Anomaly, error) {
	if s.cfg.TokenDetector == nil {
		return nil
	}
	return s.cfg.TokenDetector(ctx)
}

func (s *Server) tokenReport(w http.ResponseWriter, r *http.Request) error {
	ref, err := tokenRef(r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := s.recordAccess(r, actionTokenReport, cmp.Or(ref.TokenID, ref.Fingerprint)); err != nil {
		return err
	}
	tokenReport, err := forensics.InvestigateToken(r.Context(), s.store, ref, forensics.Options{Now: s.cfg.Clock(), Detect: s.detector(r.Context())})
	if errors.Is(err, forensics.ErrTokenNotFound) {
		return &apiError{code: CodeNotFound, message: "no stored event names this token"}
	}
	if err != nil {
		return fmt.Errorf("investigate %s: %w", ref, err)
	}
	return writeReport(w, tokenReport)
}

// subjectToken is one token of GET /api/v1/subjects/{subject}/tokens.
type subjectToken struct {
	TokenID     string           `json:"token_id,omitempty"`
	Fingerprint string           `json:"fingerprint,omitempty"`
	FirstSeen   time.Time        `json:"first_seen"`
	LastSeen    time.Time        `json:"last_seen"`
	Uses        int              `json:"uses"`
	Status      forensics.Status `json:"status"`
}

func (s *Server) subjectTokens(w http.ResponseWriter, r *http.Request) error {
	subject := strings.TrimSpace(r.PathValue("subject"))
	if subject == "" {
		return badRequest("missing subject")
	}
	if err := s.recordAccess(r, actionSubjectTokens, subject); err != nil {
		return err
	}
	events, err := s.store.Events(r.Context(), store.Query{Subject: subject, Limit: maxLookupEvents})
	if err != nil {
		return fmt.Errorf("read the events of subject %s: %w", subject, err)
	}
	writeJSON(w, http.StatusOK, map[string][]subjectToken{"tokens": tokensOf(events, s.cfg.Clock())})
	return nil
}

// tokensOf sums up the tokens of one subject's events, most recently seen
// first. A token is revoked when a revocation names it, or a subject
// revocation came after it was issued.
func tokensOf(events []audit.Event, now time.Time) []subjectToken {
	byToken := map[string]*subjectToken{}
	expires := map[string]time.Time{}
	issued := map[string]time.Time{}
	var subjectRevoked []time.Time // not-before of each subject revocation
	for _, e := range events {
		if e.Kind == audit.KindRevoked && e.RevocationScope == audit.RevokeSubject {
			subjectRevoked = append(subjectRevoked, cmp.Or(e.NotBefore, e.Time))
			continue
		}
		key := cmp.Or(e.TokenID, e.Fingerprint)
		if key == "" {
			continue
		}
		t, ok := byToken[key]
		if !ok {
			t = &subjectToken{TokenID: e.TokenID, Fingerprint: e.Fingerprint, FirstSeen: e.Time, Status: forensics.StatusUnknown}
			byToken[key] = t
		}
		t.Fingerprint = cmp.Or(t.Fingerprint, e.Fingerprint)
		t.LastSeen = e.Time
		switch e.Kind {
		case audit.KindUsed:
			t.Uses++
		case audit.KindRevoked:
			t.Status = forensics.StatusRevoked
		}
		if e.ExpiresAt.After(expires[key]) {
			expires[key] = e.ExpiresAt
		}
		if issued[key].IsZero() {
			issued[key] = cmp.Or(e.IssuedAt, e.Time)
		}
	}

	list := make([]subjectToken, 0, len(byToken))
	for key, t := range byToken {
		for _, nb := range subjectRevoked {
			if issued[key].Before(nb) {
				t.Status = forensics.StatusRevoked
			}
		}
		if t.Status != forensics.StatusRevoked && !expires[key].IsZero() {
			t.Status = forensics.StatusActive
			if !expires[key].After(now) {
				t.Status = forensics.StatusExpired
			}
		}
		list = append(list, *t)
	}
	slices.SortFunc(list, func(a, b subjectToken) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), strings.Compare(a.TokenID+a.Fingerprint, b.TokenID+b.Fingerprint))
	})
	return list
}

// searchResult is one match of GET /api/v1/search.
type searchResult struct {
	Kind     string    `json:"kind"` // token, fingerprint, subject or ip
	Value    string    `json:"value"`
	Label    string    `json:"label"`
	LastSeen time.Time `json:"last_seen"`
}

// search finds what a value names: a token by jti or fingerprint, a
// subject or an IP address. A raw JWT is fingerprinted in memory and
// searched by its jti and fingerprint.
func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		return badRequest("missing q: give a token id, fingerprint, subject or IP address")
	}
	type lookup struct {
		kind, value string
		query       store.Query
	}
	var lookups []lookup
	if audit.ContainsToken(q) {
		ref, _ := forensics.RefFromToken(q) // a token that is not a JWT still has its fingerprint
		q = ref.Fingerprint
		if ref.TokenID != "" {
			lookups = append(lookups, lookup{"token", ref.TokenID, store.Query{TokenID: ref.TokenID}})
		}
	}
	if err := s.recordAccess(r, actionSearch, q); err != nil {
		return err
	}
	if fp := strings.ToLower(q); audit.IsFingerprint(fp) {
		lookups = append(lookups, lookup{"fingerprint", fp, store.Query{Fingerprint: fp}})
	}
	if ip, err := netip.ParseAddr(q); err == nil {
		lookups = append(lookups, lookup{"ip", ip.String(), store.Query{IP: ip}})
	}
	lookups = append(lookups,
		lookup{"token", q, store.Query{TokenID: q}},
		lookup{"subject", q, store.Query{Subject: q}})

	results := []searchResult{}
	for _, l := range lookups {
		l.query.Limit = maxLookupEvents
		events, err := s.store.Events(r.Context(), l.query)
		if err != nil {
			return fmt.Errorf("search %s %s: %w", l.kind, l.value, err)
		}
		if len(events) == 0 || slices.ContainsFunc(results, func(r searchResult) bool { return r.Kind == l.kind && r.Value == l.value }) {
			continue
		}
		results = append(results, searchResult{Kind: l.kind, Value: l.value, Label: searchLabel(l.kind, events), LastSeen: events[len(events)-1].Time})
	}
	writeJSON(w, http.StatusOK, map[string][]searchResult{"results": results})
	return nil
}

// searchLabel describes a match in a few words for the UI's result list.
func searchLabel(kind string, events []audit.Event) string {
	n := fmt.Sprintf("%d events", len(events))
	if len(events) == 1 {
		n = "1 event"
	}
	if len(events) == maxLookupEvents {
		n = fmt.Sprintf("%d+ events", len(events))
	}
	switch kind {
	case "subject", "ip":
		tokens := map[string]bool{}
		for _, e := range events {
			// Session events name no token.
			if key := cmp.Or(e.TokenID, e.Fingerprint); key != "" {
				tokens[key] = true
			}
		}
		if len(tokens) == 1 {
			return n + ", 1 token"
		}
		return fmt.Sprintf("%s, %d tokens", n, len(tokens))
	}
	if sub := events[len(events)-1].Subject; sub != "" {
		return fmt.Sprintf("%s, subject %s", n, sub)
	}
	return n
}

// timeWindow reads at and window from a query into a time range: window
// on each side of at. Without at there is no bound.
func timeWindow(q map[string][]string, defaultWindow time.Duration) (at time.Time, window time.Duration, err error) {
	get := func(name string) string {
		if v := q[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	window = defaultWindow
	if v := get("window"); v != "" {
		if window, err = time.ParseDuration(v); err != nil || window <= 0 {
			return at, 0, badRequest(fmt.Sprintf("invalid window %q: want a positive duration such as 24h", v))
		}
	}
	if v := get("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return at, 0, badRequest(fmt.Sprintf("invalid at %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z", v))
		}
	}
	return at.UTC(), window, nil
}

func (s *Server) related(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q := forensics.RelatedQuery{Subject: strings.TrimSpace(query.Get("subject")), TokenID: strings.TrimSpace(query.Get("token"))}
	switch {
	case q.Subject == "" && q.TokenID == "":
		return badRequest("missing start: give subject or token")
	case q.Subject != "" && q.TokenID != "":
		return badRequest("subject and token both given: give one")
	case audit.ContainsToken(q.TokenID):
		return badRequest("token is a raw JWT; send its jti")
	}
	at, window, err := timeWindow(query, forensics.DefaultIncidentWindow)
	if err != nil {
		return err
	}
	if !at.IsZero() {
		q.Since, q.Until = at.Add(-window), at.Add(window)
	}
	if err := s.recordAccess(r, actionRelated, cmp.Or(q.Subject, q.TokenID)); err != nil {
		return err
	}

	list, err := forensics.FindRelatedTokens(r.Context(), s.store, q)
	switch {
	case errors.Is(err, forensics.ErrTokenNotFound), errors.Is(err, forensics.ErrSubjectNotFound):
		return &apiError{code: CodeNotFound, message: "no stored event of this start in the window"}
	case errors.Is(err, forensics.ErrInvalidQuery):
		return badRequest(err.Error())
	case err != nil:
		return fmt.Errorf("find tokens related to %s: %w", cmp.Or(q.Subject, q.TokenID), err)
	}
	if list == nil {
		list = []forensics.RelatedToken{}
	}
	return writeReport(w, list)
}

func (s *Server) incident(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	subject := strings.TrimSpace(query.Get("subject"))
	if subject == "" {
		return badRequest("missing subject: name the subject (sub claim) of the user or service account")
	}
	at, window, err := timeWindow(query, forensics.DefaultIncidentWindow)
	if err != nil {
		return err
	}
	if at.IsZero() {
		return badRequest("missing at: give the time of the incident, such as at=2026-11-20T09:30:00Z")
	}
	if err := s.recordAccess(r, actionIncident, subject); err != nil {
		return err
	}

	incident, err := forensics.AnalyzeIncident(r.Context(), s.store, forensics.IncidentQuery{Subject: subject, At: at, Window: window},
		forensics.IncidentOptions{Now: s.cfg.Clock(), Actor: keyOf(r.Context()).Name, Detect: s.detector(r.Context())})
	switch {
	case errors.Is(err, forensics.ErrSubjectNotFound):
		return &apiError{code: CodeNotFound, message: "no stored event of this subject in the window"}
	case errors.Is(err, forensics.ErrInvalidQuery):
		return badRequest(err.Error())
	case err != nil:
		return fmt.Errorf("analyze the incident of %s: %w", subject, err)
	}
	return writeReport(w, incident)
}
