package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/detect"
	"github.com/tokentrail/tokentrail/store"
)

// The page sizes of GET /api/v1/anomalies.
const (
	defaultAnomalyPage = 100
	maxAnomalyPage     = 1000
)

// anomalyPage is the response of GET /api/v1/anomalies.
type anomalyPage struct {
	Anomalies  []audit.Anomaly `json:"anomalies"`
	NextCursor string          `json:"next_cursor"` // empty on the last page, and always with after

	// Next is the position in the order of storage (store.AnomalyFeed) to
	// pass as after to list the anomalies stored later. Without after it
	// is the position of the last anomaly stored before the page was read.
	Next int64 `json:"next"`
}

// anomalyCursor is the position after the last anomaly of a page, in the
// newest-first order: its time and ID. Anomalies raised after the first
// page sort before it, so a walk with cursors meets each older anomaly
// once.
type anomalyCursor struct {
	timeNS int64
	id     string
}

func (c anomalyCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.timeNS, 10) + "/" + c.id))
}

func parseAnomalyCursor(s string) (anomalyCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		ns, id, ok := strings.Cut(string(raw), "/")
		if n, perr := strconv.ParseInt(ns, 10, 64); ok && perr == nil && id != "" {
			return anomalyCursor{timeNS: n, id: id}, nil
		}
	}
	return anomalyCursor{}, badRequest(fmt.Sprintf("invalid cursor %q: pass the next_cursor of an earlier response", s))
}

// after reports whether a comes after the cursor in the newest-first order.
func (c anomalyCursor) after(a audit.Anomaly) bool {
	ns := a.Time.UnixNano()
	return ns < c.timeNS || (ns == c.timeNS && a.ID < c.id)
}

func (s *Server) anomalies(w http.ResponseWriter, r *http.Request) error {
	query := r.URL.Query()
	q, err := anomalyFilter(query)
	if err != nil {
		return err
	}
	if err := s.checkRules(r.Context(), q.Rules); err != nil {
		return err
	}
	limit := defaultAnomalyPage
	if v := query.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAnomalyPage {
			return badRequest(fmt.Sprintf("invalid limit %q: want 1 to %d", v, maxAnomalyPage))
		}
		limit = n
	}
	if v := query.Get("after"); v != "" {
		after, err := strconv.ParseInt(v, 10, 64)
		if err != nil || after < 0 {
			return badRequest(fmt.Sprintf("invalid after %q: want the next of an earlier response, 0 or more", v))
		}
		if query.Get("cursor") != "" {
			return badRequest("after and cursor were both given: after lists in the order of storage and cursor pages newest first, so pass one")
		}
		return s.anomaliesAfter(w, r, q, after, limit)
	}
	if q.Subject != "" || q.TokenID != "" {
		if err := s.recordAccess(r, actionAnomalies, q.Subject+q.TokenID); err != nil {
			return err
		}
	}

	// The position is read before the page, so that an anomaly stored
	// while the page is read is listed after it, if not on the page.
	next, err := s.store.LastAnomalySeq(r.Context())
	if err != nil {
		return fmt.Errorf("read the last anomaly position: %w", err)
	}
	var cursor *anomalyCursor
	if v := query.Get("cursor"); v != "" {
		c, err := parseAnomalyCursor(v)
		if err != nil {
			return err
		}
		cursor = &c
		if until := time.Unix(0, c.timeNS+1).UTC(); q.Until.IsZero() || until.Before(q.Until) {
			q.Until = until
		}
	}

	// One anomaly more than the page shows whether a next page exists.
	// Anomalies at the cursor's own time that came before it are skipped,
	// so the query reads more until it has enough or the store has no more.
	q.Newest = true
	var page []audit.Anomaly
	for extra := 1; ; extra *= 4 {
		q.Limit = limit + extra
		list, err := s.store.Anomalies(r.Context(), q)
		if err != nil {
			return fmt.Errorf("list anomalies: %w", err)
		}
		page = page[:0]
		for _, a := range list {
			if cursor == nil || cursor.after(a) {
				page = append(page, a)
			}
		}
		if len(page) > limit || len(list) < q.Limit {
			break
		}
	}

	res := anomalyPage{Anomalies: page, Next: next}
	if len(page) > limit {
		res.Anomalies = page[:limit]
		last := page[limit-1]
		res.NextCursor = anomalyCursor{timeNS: last.Time.UnixNano(), id: last.ID}.String()
	}
	if res.Anomalies == nil {
		res.Anomalies = []audit.Anomaly{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// anomaliesAfter serves GET /api/v1/anomalies?after=SEQ: the anomalies
// stored after position after, in the order of storage, for a client that
// polls for new ones. An anomaly raised late over old events has an old
// time but a new position, so it is listed too.
func (s *Server) anomaliesAfter(w http.ResponseWriter, r *http.Request, q store.AnomalyQuery, after int64, limit int) error {
	if q.Subject != "" || q.TokenID != "" {
		if err := s.recordAccess(r, actionAnomalies, q.Subject+q.TokenID); err != nil {
			return err
		}
	}
	if err := s.checkFeedPosition(r.Context(), after); err != nil {
		return err
	}
	q.Limit = limit
	list, next, err := s.store.AnomaliesAfter(r.Context(), after, q)
	if err != nil {
		return fmt.Errorf("list anomalies after %d: %w", after, err)
	}
	if list == nil {
		list = []audit.Anomaly{}
	}
	writeJSON(w, http.StatusOK, anomalyPage{Anomalies: list, Next: next})
	return nil
}

// checkFeedPosition rejects a position past the last one the store has
// handed out. Such a position comes from another store, or from this one
// before it was rebuilt or replaced, and a poll from it would wait
// silently for anomalies that come only once the new store catches up.
// The last position never goes down (store.AnomalyFeed), so a position
// that this store returned, even for an anomaly pruned since, passes.
//
// NOTE: a replaced store that has stored more anomalies than the client's
// position passes, and the client misses those stored up to it, because a
// position does not name its store.
func (s *Server) checkFeedPosition(ctx context.Context, after int64) error {
	if after == 0 {
		return nil
	}
	last, err := s.store.LastAnomalySeq(ctx)
	if err != nil {
		return fmt.Errorf("read the last anomaly position: %w", err)
	}
	if after <= last {
		return nil
	}
	return &apiError{code: CodePositionPastEnd, message: fmt.Sprintf(
		"after %d is past the last position of this server's anomaly store (%d), so the store was rebuilt or replaced since that position was read. "+
			"Read again from after=0 to list every stored anomaly, or from after=%d to list only those stored from now on", after, last, last)}
}

// The store latency histogram times AnomaliesAfter and LastAnomalySeq
// here, beside the one route that calls them.

func (t timedStore) AnomaliesAfter(ctx context.Context, after int64, q store.AnomalyQuery) ([]audit.Anomaly, int64, error) {
	defer t.observe("anomalies_after", time.Now())
	return t.Store.AnomaliesAfter(ctx, after, q)
}

func (t timedStore) LastAnomalySeq(ctx context.Context) (int64, error) {
	defer t.observe("last_anomaly_seq", time.Now())
	return t.Store.LastAnomalySeq(ctx)
}

// anomalyFilter reads the filters of GET /api/v1/anomalies.
func anomalyFilter(query url.Values) (store.AnomalyQuery, error) {
	q := store.AnomalyQuery{Subject: query.Get("subject"), TokenID: query.Get("token")}
	for _, v := range query["rule"] {
		for _, rule := range strings.Split(v, ",") {
			if rule = strings.TrimSpace(rule); rule != "" {
				q.Rules = append(q.Rules, rule)
			}
		}
	}
	for name, t := range map[string]*time.Time{"since": &q.Since, "until": &q.Until} {
		if v := query.Get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return q, badRequest(fmt.Sprintf("invalid %s %q: want an RFC 3339 time such as 2026-11-20T10:00:00Z", name, v))
			}
			*t = parsed.UTC()
		}
	}
	if v := query.Get("severity"); v != "" {
		if err := q.MinSeverity.UnmarshalText([]byte(v)); err != nil {
			return q, badRequest(fmt.Sprintf("invalid severity %q: want low, medium, high or critical", v))
		}
	}
	if v := query.Get("network"); v != "" {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			ip, ierr := netip.ParseAddr(v)
			if ierr != nil {
				return q, badRequest(fmt.Sprintf("invalid network %q: want a CIDR prefix such as 203.0.113.0/24, or an address", v))
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		q.Network = p.Masked()
	}
	if v := query.Get("asn"); v != "" {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(v), "AS"), 10, 32)
		if err != nil || n == 0 {
			return q, badRequest(fmt.Sprintf("invalid asn %q: want an AS number such as 64500", v))
		}
		q.ASN = uint32(n)
	}
	return q, nil
}

// checkRules rejects a rule filter that names no rule, because the empty
// list it would return reads as "no anomalies" when the name is a typo.
// Valid names are the built-in rules, the custom rules of the server's
// Detector, and any rule with stored anomalies, as for tokentrail
// anomalies --rule.
func (s *Server) checkRules(ctx context.Context, rules []string) error {
	var custom []string
	if s.cfg.Detector != nil {
		custom = s.cfg.Detector.CustomRuleNames()
	}
	unknown, err := detect.UnknownRules(rules, custom, func(rule string) (bool, error) {
		stored, err := s.store.Anomalies(ctx, store.AnomalyQuery{Rules: []string{rule}, Limit: 1})
		return len(stored) > 0, err
	})
	if err != nil {
		return fmt.Errorf("look up the anomalies of rule filter %q: %w", strings.Join(rules, ","), err)
	}
	if len(unknown) == 0 {
		return nil
	}

	quoted := make([]string, len(unknown))
	for i, r := range unknown {
		quoted[i] = strconv.Quote(r)
	}
	customList := "none configured"
	if len(custom) > 0 {
		customList = strings.Join(custom, ", ")
	}
	return badRequest(fmt.Sprintf("unknown rule %s: want a built-in rule (%s), a custom rule of this server (%s) or a rule with stored anomalies",
		strings.Join(quoted, ", "), strings.Join(detect.BuiltInRules(), ", "), customList))
}
