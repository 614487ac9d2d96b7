package sqlite

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

// Events returns the events matching q, oldest first with ties broken by ID,
// as store.Store requires. q.IP matches the address exactly as it was
// stored: 192.0.2.1 does not match ::ffff:192.0.2.1, and a zone must match.
//
// It returns an error wrapping store.ErrEmptyQuery for a query without an
// indexed filter, and one wrapping audit.ErrInvalidValue for a negative
// Limit, an invalid Kind, or a Fingerprint that is not 64 lowercase hex
// digits.
func (s *Store) Events(ctx context.Context, q store.Query) ([]audit.Event, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	query, args, matchesNothing, err := buildQuery(q)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", err)
	}
	if matchesNothing {
		return nil, nil
	}

	rows, err := s.reads.query(ctx, s.reader, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", err)
	}
	defer rows.Close()
	var events []audit.Event
	values := make([]any, len(selectColumns))
	dest := make([]any, len(selectColumns))
	for i := range values {
		dest[i] = &values[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sqlite: query events: %w", err)
		}
		e, err := decodeEvent(values)
		if err != nil {
			return nil, fmt.Errorf("sqlite: query events: decode row %d of %s: %w", len(events)+1, s.path, err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: query events: %w", err)
	}
	return events, nil
}

// buildQuery returns the SELECT for q and its arguments. matchesNothing is
// true when the time bounds lie wholly outside the range of time_ns, so that
// no stored event can match.
func buildQuery(q store.Query) (query string, args []any, matchesNothing bool, err error) {
	f, matchesNothing, err := buildFilter(q)
	if err != nil || matchesNothing {
		return "", nil, matchesNothing, err
	}

	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(selectColumns, ", "))
	f.writeTo(&b)
	b.WriteString(" ORDER BY e.time_ns, ")
	b.WriteString(idSortKey)
	args = f.args
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return b.String(), args, false, nil
}

// filter is the FROM and WHERE of the events that a store.Query selects,
// with e the events and t their tokens. args are the arguments of both, in
// order.
type filter struct {
	from  string
	where []string
	args  []any
}

// writeTo writes " FROM ... WHERE ..." to b.
func (f filter) writeTo(b *strings.Builder) {
	b.WriteString(" FROM ")
	b.WriteString(f.from)
	b.WriteString(" WHERE ")
	b.WriteString(strings.Join(f.where, " AND "))
}

// buildFilter returns the filter of q, or matchesNothing when the time
// bounds lie wholly outside the range of time_ns. It rejects q as Events
// does.
func buildFilter(q store.Query) (_ filter, matchesNothing bool, err error) {
	if !q.Filtered() {
		return filter{}, false, store.ErrEmptyQuery
	}
	if q.Limit < 0 {
		return filter{}, false, fmt.Errorf("%w: limit %d (want 0 for no limit, or more)", audit.ErrInvalidValue, q.Limit)
	}
	if q.Fingerprint != "" && !audit.IsFingerprint(q.Fingerprint) {
		return filter{}, false, fmt.Errorf("%w: fingerprint %q (want 64 lowercase hex digits, a SHA-256)", audit.ErrInvalidValue, q.Fingerprint)
	}
	var args []any

	var where []string
	add := func(condition string, arg any) {
		where = append(where, condition)
		args = append(args, arg)
	}
	if q.TokenID != "" {
		add("t.token_id = ?", q.TokenID)
	}
	if q.Fingerprint != "" {
		add("t.fingerprint = ?", encodeFingerprint(q.Fingerprint))
	}
	if q.Subject != "" {
		add("t.subject = ?", q.Subject)
	}
	from := "events e JOIN tokens t ON t.token_key = e.token_key"
	if q.IP.IsValid() {
		// token_addresses lists the tokens used from the address. Their
		// events from other addresses are filtered out.
		from = "token_addresses a JOIN events e ON e.token_key = a.token_key JOIN tokens t ON t.token_key = e.token_key"
		add("a.ip = ?", encodeIP(q.IP))
		add("e.ip = ?", encodeIP(q.IP))
	}
	var fromArgs []any
	if q.Network.IsValid() {
		if q.Network.Bits() == 0 {
			return filter{}, false, fmt.Errorf("%w: network %s has zero bits and would match every address (want a prefix such as /24 or /64)", audit.ErrInvalidValue, q.Network)
		}
		// As for IP, token_addresses' ip index finds the tokens used from
		// the network, by ranges of the address bytes, and their events
		// from elsewhere are filtered out. CROSS JOIN makes SQLite start
		// from those tokens: without table statistics it would otherwise
		// scan every token.
		tokens, tokenArgs := networkTokens(q.Network)
		if q.IP.IsValid() {
			where = append(where, "e.token_key IN ("+tokens+")")
			args = append(args, tokenArgs...)
		} else {
			from = "(" + tokens + ") a CROSS JOIN events e ON e.token_key = a.token_key JOIN tokens t ON t.token_key = e.token_key"
			fromArgs = tokenArgs
		}
		events, eventArgs := networkEvents(q.Network)
		where = append(where, events)
		args = append(args, eventArgs...)
	}
	if q.SessionID != "" {
		add("t.session_id = ?", q.SessionID)
	}
	if q.ParentTokenID != "" {
		add("t.parent_token_id = ?", q.ParentTokenID)
	}

	if len(q.Kinds) == 1 && q.Kinds[0] == audit.KindRevoked {
		// The revocations of a token, session or subject: a literal
		// kind, which the partial index events_token_revoked needs, and
		// CROSS JOIN so that SQLite starts from the tokens rather than
		// from every stored revocation.
		where = append(where, fmt.Sprintf("e.kind = %d", int64(audit.KindRevoked)))
		if !q.IP.IsValid() && !q.Network.IsValid() {
			from = "tokens t CROSS JOIN events e ON t.token_key = e.token_key"
		}
	} else if len(q.Kinds) > 0 {
		marks := make([]string, len(q.Kinds))
		for i, k := range q.Kinds {
			if !k.Valid() {
				return filter{}, false, fmt.Errorf("%w: kind %s (want issued, used, refreshed, revoked, rejected or session)", audit.ErrInvalidValue, k)
			}
			marks[i] = "?"
			args = append(args, int64(k))
		}
		where = append(where, "e.kind IN ("+strings.Join(marks, ", ")+")")
	}

	// Bounds past the range of time_ns either exclude everything or
	// nothing.
	if !q.Since.IsZero() {
		switch {
		case q.Since.After(maxNanoTime):
			return filter{}, true, nil
		case !q.Since.Before(minNanoTime):
			add("e.time_ns >= ?", q.Since.UnixNano())
		}
	}
	if !q.Until.IsZero() {
		switch {
		case !q.Until.After(minNanoTime):
			return filter{}, true, nil
		case !q.Until.After(maxNanoTime):
			add("e.time_ns < ?", q.Until.UnixNano())
		}
	}

	return filter{from: from, where: where, args: append(fromArgs, args...)}, false, nil
}

// addressRange is one range of stored addresses: the bytes of
// netip.Addr.MarshalBinary from lower to below upper, of the given length
// (0 for any).
type addressRange struct {
	lower, upper []byte
	length       int
}

// condition returns the SQL condition that column lies in r, and its
// arguments, in a form that an index on column serves.
func (r addressRange) condition(column string) (string, []any) {
	c := fmt.Sprintf("%[1]s >= ? AND %[1]s < ?", column)
	if r.length > 0 {
		c += fmt.Sprintf(" AND length(%s) = %d", column, r.length)
	}
	return c, []any{r.lower, r.upper}
}

// addressRanges returns the ranges of stored addresses that lie in p.
// IPv4 addresses are stored as 4 bytes, and IPv6 ones as 16 bytes followed
// by the zone. A zone is UTF-8 text, which never holds the byte 0xff, so
// the bytes of the last address followed by 0xff bound every form of it.
// The length check keeps an IPv6 address whose first 4 bytes fall in an
// IPv4 range out of it. An IPv4 prefix also matches the IPv4-mapped form,
// as a second range.
func addressRanges(p netip.Prefix) []addressRange {
	p = p.Masked()
	first, last := p.Addr(), lastAddr(p)
	if first.Is4() {
		mappedFirst, mappedLast := netip.AddrFrom16(first.As16()), netip.AddrFrom16(last.As16())
		return []addressRange{
			{lower: first.AsSlice(), upper: append(last.AsSlice(), 0xff), length: 4},
			{lower: mappedFirst.AsSlice(), upper: append(mappedLast.AsSlice(), 0xff)},
		}
	}
	return []addressRange{{lower: first.AsSlice(), upper: append(last.AsSlice(), 0xff)}}
}

// networkTokens returns a SELECT of the token_key of every token used from
// p, one UNION part per range so that each part searches the ip index (an
// OR of the ranges made SQLite scan the table), and its arguments.
func networkTokens(p netip.Prefix) (string, []any) {
	var parts []string
	var args []any
	for _, r := range addressRanges(p) {
		c, a := r.condition("ip")
		parts = append(parts, "SELECT DISTINCT token_key FROM token_addresses WHERE "+c)
		args = append(args, a...)
	}
	return strings.Join(parts, " UNION "), args
}

// networkEvents returns the condition that an event's ip lies in p, and
// its arguments.
func networkEvents(p netip.Prefix) (string, []any) {
	var parts []string
	var args []any
	for _, r := range addressRanges(p) {
		c, a := r.condition("e.ip")
		parts = append(parts, "("+c+")")
		args = append(args, a...)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}
