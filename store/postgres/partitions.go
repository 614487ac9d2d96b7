package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// month is a calendar month in UTC, the span of one partition of events.
type month struct {
	year  int
	month time.Month
}

// monthOf returns the month of the event time ns.
func monthOf(ns int64) month {
	t := time.Unix(0, ns).UTC()
	return month{year: t.Year(), month: t.Month()}
}

// table returns the name of the month's partition, such as events_2025_06.
func (m month) table() string {
	return fmt.Sprintf("events_%04d_%02d", m.year, int(m.month))
}

// bounds returns the partition bounds of the month on time_ns: its first
// nanosecond and the first of the next month. The months at either end of
// the int64 range of time_ns run to MINVALUE or MAXVALUE.
func (m month) bounds() (from, to string) {
	start := time.Date(m.year, m.month, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	from, to = "MINVALUE", "MAXVALUE"
	if !start.Before(minNanoTime) {
		from = fmt.Sprint(start.UnixNano())
	}
	if !end.After(maxNanoTime) {
		to = fmt.Sprint(end.UnixNano())
	}
	return from, to
}

// partitionLockKey is the advisory lock that partition creation holds, so
// that two processes do not create one partition at once, which can fail
// even with IF NOT EXISTS. It is combined with the schema's name.
const partitionLockKey = "tokentrail partition "

// partitionCache holds the months whose partition this Store has created or
// found, so that an Append of a known month costs no statement.
//
// NOTE: nothing drops partitions yet. A retention job that drops one must
// clear this cache in every process, or their next Append into that month
// fails with "no partition of relation events found for row".
type partitionCache struct {
	mu    sync.Mutex
	known map[month]bool
}

// missing returns the months of times that the cache does not hold.
func (c *partitionCache) missing(times []int64) []month {
	c.mu.Lock()
	defer c.mu.Unlock()
	var list []month
	seen := map[month]bool{}
	for _, ns := range times {
		m := monthOf(ns)
		if c.known[m] || seen[m] {
			continue
		}
		seen[m] = true
		list = append(list, m)
	}
	return list
}

func (c *partitionCache) add(months []month) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil {
		c.known = map[month]bool{}
	}
	for _, m := range months {
		c.known[m] = true
	}
}

// ensurePartitions creates the partitions of events that times fall in and
// that do not exist yet. It runs in a transaction of its own, before the
// Append that needs them: creating a partition locks the whole events
// table, and a short transaction holds that lock for the least time. A
// partition left empty by an Append that then failed is harmless. s.mu
// must be read-locked.
func (s *Store) ensurePartitions(ctx context.Context, times []int64) error {
	months := s.partitions.missing(times)
	if len(months) == 0 {
		return nil
	}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))", partitionLockKey); err != nil {
			return err
		}
		for _, m := range months {
			from, to := m.bounds()
			stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF events FOR VALUES FROM (%s) TO (%s)", m.table(), from, to)
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create partition %s: %w", m.table(), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.partitions.add(months)
	return nil
}
