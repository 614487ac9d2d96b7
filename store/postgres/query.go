package postgres

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
// Limit, an invalid Kind, a Network of zero bits, or a Fingerprint that is
// not 64 lowercase hex digits.
func (s *Store) Events(ctx context.Context, q store.Query) ([]audit.Event, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	f, matchesNothing, err := buildFilter(q)
	if err != nil {
		return nil, fmt.Errorf("postgres: query events: %w", err)
	}
	if matchesNothing {
		return nil, nil
	}
	query := "SELECT " + selectColumns + " FROM events WHERE " + f.where() + " ORDER BY time_ns, id"
	if q.Limit > 0 {
		query += " LIMIT " + f.arg(q.Limit)
	}

	events, err := s.queryEvents(ctx, query, f.args...)
	if err != nil {
		return nil, wrapError(ctx, "postgres: query events", err)
	}
	return events, nil
}

// queryEvents runs a query of selectColumns and decodes its rows.
func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]audit.Event, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []audit.Event
	var row eventRow
	dest := row.dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		e, err := row.event()
		if err != nil {
			return nil, fmt.Errorf("decode row %d: %w", len(events)+1, err)
		}
		events = append(events, e)
	}
	return events, rows.Err()
}

// filter is the WHERE of a query on events, with its arguments, which it
// numbers $1, $2 and so on.
type filter struct {
	conditions []string
	args       []any
}

// arg adds an argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return fmt.Sprintf("$%d", len(f.args))
}

// add adds a condition in which each %s is replaced by the placeholder of
// the next of args.
func (f *filter) add(condition string, args ...any) {
	marks := make([]any, len(args))
	for i, a := range args {
		marks[i] = f.arg(a)
	}
	f.conditions = append(f.conditions, fmt.Sprintf(condition, marks...))
}

// where joins the conditions with AND, and returns TRUE when there is none.
func (f *filter) where() string {
	if len(f.conditions) == 0 {
		return "TRUE"
	}
	return strings.Join(f.conditions, " AND ")
}

// buildFilter returns the filter of q, or matchesNothing when the time
// bounds lie wholly outside the range of time_ns. It rejects q as Events
// does.
func buildFilter(q store.Query) (_ *filter, matchesNothing bool, err error) {
	if !q.Filtered() {
		return nil, false, store.ErrEmptyQuery
	}
	if q.Limit < 0 {
		return nil, false, fmt.Errorf("%w: limit %d (want 0 for no limit, or more)", audit.ErrInvalidValue, q.Limit)
	}
	if q.Fingerprint != "" && !audit.IsFingerprint(q.Fingerprint) {
		return nil, false, fmt.Errorf("%w: fingerprint %q (want 64 lowercase hex digits, a SHA-256)", audit.ErrInvalidValue, q.Fingerprint)
	}
	if q.Network.IsValid() && q.Network.Bits() == 0 {
		return nil, false, fmt.Errorf("%w: network %s has zero bits and would match every address (want a prefix such as /24 or /64)", audit.ErrInvalidValue, q.Network)
	}

	f := &filter{}
	if q.TokenID != "" {
		f.add("token_id = %s", q.TokenID)
	}
	if q.Fingerprint != "" {
		f.add("fingerprint = %s", encodeFingerprint(q.Fingerprint))
	}
	if q.Subject != "" {
		f.add("subject = %s", q.Subject)
	}
	if q.IP.IsValid() {
		f.add("ip = %s", encodeIP(q.IP))
	}
	if q.Network.IsValid() {
		f.addNetwork("ip", q.Network)
	}
	if q.SessionID != "" {
		f.add("session_id = %s", q.SessionID)
	}
	if q.ParentTokenID != "" {
		f.add("parent_token_id = %s", q.ParentTokenID)
	}
	if len(q.Kinds) > 0 {
		kinds := make([]int16, len(q.Kinds))
		for i, k := range q.Kinds {
			if !k.Valid() {
				return nil, false, fmt.Errorf("%w: kind %s (want issued, used, refreshed, revoked, rejected or session)", audit.ErrInvalidValue, k)
			}
			kinds[i] = int16(k)
		}
		f.add("kind = ANY(%s)", kinds)
	}

	lower, upper, matchesNothing := nanoRange(store.TimeRange{Since: q.Since, Until: q.Until})
	if matchesNothing {
		return nil, true, nil
	}
	if lower != nil {
		f.add("time_ns >= %s", *lower)
	}
	if upper != nil {
		f.add("time_ns < %s", *upper)
	}
	return f, false, nil
}

// addNetwork adds the condition that column, which holds
// netip.Addr.MarshalBinary, lies in p. IPv4 addresses are 4 bytes, and IPv6
// ones 16 bytes followed by the zone. A zone is UTF-8 text, which never
// holds the byte 0xff, so the bytes of the last address followed by 0xff
// bound every form of it. The length check keeps an IPv6 address whose
// first 4 bytes fall in an IPv4 range out of it. An IPv4 prefix also
// matches the IPv4-mapped form, as a second range.
func (f *filter) addNetwork(column string, p netip.Prefix) {
	p = p.Masked()
	first, last := p.Addr(), lastAddr(p)
	upper := func(a netip.Addr) []byte { return append(a.AsSlice(), 0xff) }
	if !first.Is4() {
		f.add(column+" >= %s AND "+column+" < %s", first.AsSlice(), upper(last))
		return
	}
	mappedFirst, mappedLast := netip.AddrFrom16(first.As16()), netip.AddrFrom16(last.As16())
	f.add("(("+column+" >= %s AND "+column+" < %s AND length("+column+") = 4) OR ("+column+" >= %s AND "+column+" < %s))",
		first.AsSlice(), upper(last), mappedFirst.AsSlice(), upper(mappedLast))
}

// lastAddr returns the highest address of p, whose address must be masked.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		hostBits := len(b)*8 - p.Bits() - (len(b)-1-i)*8 // host bits that fall in byte i and after
		switch {
		case hostBits >= 8:
			b[i] = 0xff
		case hostBits > 0:
			b[i] |= byte(1)<<hostBits - 1
		}
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr
}

// nanoRange returns the bounds of r on time_ns: nil for an open bound or one
// that every stored time satisfies. matchesNothing is true when no stored
// time can lie in r.
func nanoRange(r store.TimeRange) (lower, upper *int64, matchesNothing bool) {
	if !r.Since.IsZero() {
		switch {
		case r.Since.After(maxNanoTime):
			return nil, nil, true
		case r.Since.After(minNanoTime):
			n := r.Since.UnixNano()
			lower = &n
		}
	}
	if !r.Until.IsZero() {
		switch {
		case !r.Until.After(minNanoTime):
			return nil, nil, true
		case !r.Until.After(maxNanoTime):
			n := r.Until.UnixNano()
			upper = &n
		}
	}
	if lower != nil && upper != nil && *lower >= *upper {
		return nil, nil, true
	}
	return lower, upper, false
}
