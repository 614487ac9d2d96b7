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

// maxLookupTokens bounds the tokens that search and the subject's token
// list sum up for one value, so that an address shared by a whole company
// cannot exhaust memory. The tokens seen last are kept. Past the bound,
// search's counts read "N+" while its last_seen stays exact, and the token
// list leaves out the tokens seen longest ago.
//
// NOTE: the store still reads every matching event once to sum them up.
// BenchmarkTokenSummaries in store/sqlite took about 2 µs per event on a
// shared 2-core machine, so a value with tens of millions of events can
// pass Config.RequestTimeout and get 503.
const maxLookupTokens = 10_000

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
	// One more than the bound, because one summary may be that of the
	// events that name no token.
	summaries, err := s.store.TokenSummaries(r.Context(), store.Query{Subject: subject, Limit: maxLookupTokens + 1})
	if err != nil {
		return fmt.Errorf("sum up the tokens of subject %s: %w", subject, err)
	}
	// A token is revoked about once at most, so the subject's revoked
	// events are about as many as its tokens, far fewer than its uses, and
	// all of them are read.
	revoked, err := s.store.Events(r.Context(), store.Query{Subject: subject, Kinds: []audit.Kind{audit.KindRevoked}})
	if err != nil {
		return fmt.Errorf("read the revocations of subject %s: %w", subject, err)
	}
	var revokedBefore time.Time // the latest not-before of the subject's revocations
	for _, e := range revoked {
		if nb := cmp.Or(e.NotBefore, e.Time); e.RevocationScope == audit.RevokeSubject && nb.After(revokedBefore) {
			revokedBefore = nb
		}
	}
	writeJSON(w, http.StatusOK, map[string][]subjectToken{"tokens": tokensOf(summaries, revokedBefore, s.cfg.Clock())})
	return nil
}

// tokensOf lists the tokens of one subject's summaries, most recently seen
// first, at most maxLookupTokens of them. A token is revoked when a
// revocation names it, or when it was issued before revokedBefore, the
// not-before of a subject revocation.
func tokensOf(summaries []store.TokenSummary, revokedBefore, now time.Time) []subjectToken {
	list := make([]subjectToken, 0, len(summaries))
	for _, sum := range summaries {
		if sum.TokenID == "" && sum.Fingerprint == "" {
			continue // the events that name no token, such as session events
		}
		t := subjectToken{TokenID: sum.TokenID, Fingerprint: sum.Fingerprint, FirstSeen: sum.FirstSeen, LastSeen: sum.LastSeen, Uses: sum.Uses, Status: forensics.StatusUnknown}
		switch {
		case sum.Revoked, cmp.Or(sum.IssuedAt, sum.FirstSeen).Before(revokedBefore):
			t.Status = forensics.StatusRevoked
		case !sum.ExpiresAt.IsZero() && !sum.ExpiresAt.After(now):
			t.Status = forensics.StatusExpired
		case !sum.ExpiresAt.IsZero():
			t.Status = forensics.StatusActive
		}
		list = append(list, t)
	}
	slices.SortStableFunc(list, func(a, b subjectToken) int {
		return cmp.Or(b.LastSeen.Compare(a.LastSeen), strings.Compare(a.TokenID+a.Fingerprint, b.TokenID+b.Fingerprint))
	})
	return list[:min(len(list), maxLookupTokens)]
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
		if slices.ContainsFunc(results, func(r searchResult) bool { return r.Kind == l.kind && r.Value == l.value }) {
			continue
		}
		// The summaries come newest first, so the first one's last time
		// is that of the newest event, even past the bound.
		l.query.Limit = maxLookupTokens + 1
		summaries, err := s.store.TokenSummaries(r.Context(), l.query)
		if err != nil {
			return fmt.Errorf("search %s %s: %w", l.kind, l.value, err)
		}
		if len(summaries) == 0 {
			continue
		}
		results = append(results, searchResult{Kind: l.kind, Value: l.value, Label: searchLabel(l.kind, summaries), LastSeen: summaries[0].LastSeen})
	}
	writeJSON(w, http.StatusOK, map[string][]searchResult{"results": results})
	return nil
}

// searchLabel describes a match in a few words for the UI's result list,
// from its summaries, newest first. When they reach the bound of
// maxLookupTokens, the counts are lower bounds and end in "+".
func searchLabel(kind string, summaries []store.TokenSummary) string {
	events, tokens := 0, 0
	for _, sum := range summaries {
		events += sum.Events
		// Session events name no token.
		if sum.TokenID != "" || sum.Fingerprint != "" {
			tokens++
		}
	}
	more := ""
	if len(summaries) > maxLookupTokens {
		more = "+"
	}
	n := fmt.Sprintf("%d%s events", events, more)
	if events == 1 {
		n = "1 event"
	}
	switch kind {
	case "subject", "ip":
		if tokens == 1 {
			return n + ", 1 token"
		}
		return fmt.Sprintf("%s, %d%s tokens", n, tokens, more)
	}
	if sub := summaries[0].Subject; sub != "" {
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
