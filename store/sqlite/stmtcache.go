package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedQueries bounds the statements that queryCache keeps. Events
// builds one SQL text for each combination of filters, number of kinds
// and bounds that a caller uses, which is a few dozen in practice. Texts
// past the bound are prepared for each call.
const maxCachedQueries = 256

// queryCache keeps the prepared statements of the reader pool by SQL text.
// In a CPU profile of AnalyzeIncident, which runs short queries by the
// hundred, parsing and planning took about a quarter of the time. A
// prepared statement does both once for each connection.
type queryCache struct {
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// query runs the SELECT text with args on db through a cached statement.
func (c *queryCache) query(ctx context.Context, db *sql.DB, text string, args ...any) (*sql.Rows, error) {
	c.mu.Lock()
	stmt := c.stmts[text]
	c.mu.Unlock()
	if stmt != nil {
		return stmt.QueryContext(ctx, args...)
	}

	c.mu.Lock()
	full := len(c.stmts) >= maxCachedQueries
	c.mu.Unlock()
	if full {
		return db.QueryContext(ctx, text, args...)
	}

	prepared, err := db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if existing := c.stmts[text]; existing != nil {
		// Another call prepared the same text meanwhile.
		_ = prepared.Close() // closing an unused statement only frees it
		prepared = existing
	} else {
		if c.stmts == nil {
			c.stmts = map[string]*sql.Stmt{}
		}
		c.stmts[text] = prepared
	}
	c.mu.Unlock()
	return prepared.QueryContext(ctx, args...)
}

// close closes every cached statement. The store calls it once no query
// runs, before it closes the pool.
func (c *queryCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, stmt := range c.stmts {
		errs = append(errs, stmt.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}
