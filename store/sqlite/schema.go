package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// applicationID marks a SQLite file as a tokentrail store in its header
// ("tktr" in ASCII), where `PRAGMA application_id` and file(1) can read it.
const applicationID = 0x746b7472

// migration is one step of the schema. Versions start at 1 and follow each
// other without gaps. A released migration is never edited: a change to the
// schema is a new migration.
type migration struct {
	version     int
	description string
	statements  []string
}

// migrations is the schema history, oldest first.
//
// The layout is chosen for import speed (see the import benchmarks). An index
// whose keys are random, such as UUIDs, gets each new entry at a random place.
// So each row changes one page of it, which the commit writes to the WAL and
// the checkpoint writes again to the file. Hence:
//   - tokens holds each distinct set of token fields (jti, fingerprint,
//     issuer, subject, audience, client, session, parent, scopes, iat, nbf,
//     exp) once, usually one row per token, instead of in each of its ~20
//     events. The lookup indexes on token id, fingerprint, subject, session
//     and parent token live there, and get one entry per token, not per
//     event. digest, unique, identifies the set (see tokenDigest), so that
//     an insert of a known set does nothing.
//   - events refers to its token by token_key, which grows as tokens first
//     appear. The (token_key, time_ns) index, which serves every token-field
//     filter and its time bounds, so gets its new entries among the recent
//     tokens, in a few pages, instead of at random places.
//   - token_addresses holds each (token, client address) pair once, and its
//     ip index answers "which tokens were used from this address". A query by
//     address reads those tokens' events through (token_key, time_ns) and
//     keeps the ones from the address. An index on events (ip, time_ns) would
//     get a random entry for every event; this one gets one per pair, about
//     one per token, which made imports about 20% faster.
//   - seq, the INTEGER PRIMARY KEY of events, is the rowid, so rows are
//     appended at the end of the table instead of at the random place that a
//     UUID or hash key would give.
//   - id holds the event ID, compacted to 16 bytes when it has the form of
//     audit.NewID (see encodeID), with a unique index that makes Append
//     idempotent. It is the one random-key index that every event pays for.
//   - events_time, on (time_ns, id), serves Scan. A log is written mostly
//     in time order, so its new entries land near the end of the index.
//     In the import benchmark it cost no speed beyond the noise, while an
//     index on the text of the ID (idSortKey) in place of id cost about
//     20%.
//   - Indexes on optional columns are partial (WHERE ... IS NOT NULL), so
//     that rows without a session or parent token cost nothing in them.
//     SQLite uses a partial index for `column = ?` because that implies
//     NOT NULL.
//   - fingerprint holds the 32 bytes of the SHA-256, times are int64
//     nanoseconds since the Unix epoch (see encodeTime), IP addresses are the
//     bytes of netip.Addr.MarshalBinary, lists are JSON arrays, and every
//     unknown value is NULL.
var migrations = []migration{
	{
		version:     1,
		description: "create tokens, events, token_addresses and their lookup indexes",
		statements: []string{
			`CREATE TABLE tokens (
				token_key       INTEGER PRIMARY KEY,
				digest          BLOB NOT NULL,
				token_id        TEXT,
				fingerprint     BLOB,
				issuer          TEXT,
				subject         TEXT,
				audience        TEXT,
				client_id       TEXT,
				session_id      TEXT,
				parent_token_id TEXT,
				scopes          TEXT,
				issued_at       ANY,
				not_before      ANY,
				expires_at      ANY
			) STRICT`,
			`CREATE UNIQUE INDEX tokens_digest ON tokens (digest)`,
			`CREATE INDEX tokens_token_id ON tokens (token_id) WHERE token_id IS NOT NULL`,
			`CREATE INDEX tokens_fingerprint ON tokens (fingerprint) WHERE fingerprint IS NOT NULL`,
			`CREATE INDEX tokens_subject ON tokens (subject) WHERE subject IS NOT NULL`,
			`CREATE INDEX tokens_session_id ON tokens (session_id) WHERE session_id IS NOT NULL`,
			`CREATE INDEX tokens_parent_token_id ON tokens (parent_token_id) WHERE parent_token_id IS NOT NULL`,
			`CREATE TABLE events (
				seq               INTEGER PRIMARY KEY,
				id                ANY NOT NULL,
				token_key         INTEGER NOT NULL REFERENCES tokens,
				time_ns           INTEGER NOT NULL,
				kind              INTEGER NOT NULL,
				ip                BLOB,
				user_agent        TEXT,
				geo_country       TEXT,
				geo_city          TEXT,
				geo_latitude      REAL,
				geo_longitude     REAL,
				geo_accuracy_km   REAL,
				geo_asn           INTEGER,
				geo_org           TEXT,
				method            TEXT,
				path              TEXT,
				status            INTEGER,
				trace_id          TEXT,
				actor             TEXT,
				reason            TEXT,
				revocation_method TEXT,
				reject_reason     TEXT,
				source            TEXT
			) STRICT`,
			`CREATE UNIQUE INDEX events_id ON events (id)`,
			`CREATE INDEX events_token_time ON events (token_key, time_ns)`,
			`CREATE TABLE token_addresses (
				token_key INTEGER NOT NULL REFERENCES tokens,
				ip        BLOB NOT NULL,
				PRIMARY KEY (token_key, ip)
			) STRICT, WITHOUT ROWID`,
			`CREATE INDEX token_addresses_ip ON token_addresses (ip)`,
		},
	},
	{
		version:     2,
		description: "add events.action, the source's own name for the event",
		statements: []string{
			`ALTER TABLE events ADD COLUMN action TEXT`,
		},
	},
	{
		version:     3,
		description: "create anomalies, the findings of detection",
		statements: []string{
			`CREATE TABLE anomalies (
				id        TEXT PRIMARY KEY,
				rule      TEXT NOT NULL,
				severity  INTEGER NOT NULL,
				time_ns   INTEGER NOT NULL,
				token_id  TEXT,
				subject   TEXT,
				event_ids TEXT NOT NULL,
				summary   TEXT NOT NULL
			) STRICT`,
			`CREATE INDEX anomalies_time ON anomalies (time_ns)`,
			`CREATE INDEX anomalies_token ON anomalies (token_id, time_ns) WHERE token_id IS NOT NULL`,
			`CREATE INDEX anomalies_subject ON anomalies (subject, time_ns) WHERE subject IS NOT NULL`,
		},
	},
	{
		version:     4,
		description: "index events by time and ID, for scans in time order",
		statements: []string{
			// Scan pages through this index. An index on the text of the
			// ID, idSortKey, would give the order of Events directly, but
			// computing and storing that text made imports about 20%
			// slower, so Scan puts the IDs of one instant in order itself.
			`CREATE INDEX events_time ON events (time_ns, id)`,
		},
	},
	{
		version:     5,
		description: "add the client of each anomaly: address, ASN, organization, country, user agent",
		statements: []string{
			`ALTER TABLE anomalies ADD COLUMN ip BLOB`,
			`ALTER TABLE anomalies ADD COLUMN asn INTEGER`,
			`ALTER TABLE anomalies ADD COLUMN org TEXT`,
			`ALTER TABLE anomalies ADD COLUMN country TEXT`,
			`ALTER TABLE anomalies ADD COLUMN user_agent TEXT`,
		},
	},
	{
		version:     6,
		description: "add events.revocation_scope, and index revoked events in the order they were stored",
		statements: []string{
			`ALTER TABLE events ADD COLUMN revocation_scope TEXT`,
			// Before this column, revocations of a family, session or
			// subject were marked by these actions (kind 4 is revoked).
			`UPDATE events SET revocation_scope = CASE action
				WHEN 'revoke_family' THEN 'family'
				WHEN 'revoke_session' THEN 'session'
				WHEN 'revoke_subject' THEN 'subject' END
			WHERE kind = 4 AND action IN ('revoke_family', 'revoke_session', 'revoke_subject')`,
			// Revocations pages through this index by seq, the order of
			// storage. It holds only the revoked events, so the other
			// events cost nothing in it, and a poll that finds nothing new
			// is one seek.
			`CREATE INDEX events_revoked ON events (seq) WHERE kind = 4`,
		},
	},
	{
		version:     7,
		description: "add settings, the named values that later runs on the store reuse",
		statements: []string{
			`CREATE TABLE settings (
				name       TEXT PRIMARY KEY,
				value      BLOB NOT NULL,
				updated_at TEXT NOT NULL
			) WITHOUT ROWID`,
		},
	},
	{
		version:     8,
		description: "create api_keys and accesses, the server's API keys and its access log",
		statements: []string{
			// digest is the SHA-256 of the key's secret; the secret itself
			// is never stored. roles is a JSON array.
			`CREATE TABLE api_keys (
				id            TEXT PRIMARY KEY,
				name          TEXT NOT NULL,
				roles         TEXT NOT NULL,
				digest        BLOB NOT NULL,
				created_at_ns INTEGER NOT NULL,
				revoked_at_ns INTEGER
			) STRICT`,
			// seq orders the accesses of one instant in the order they
			// were stored, and appends each row at the end of the table.
			`CREATE TABLE accesses (
				seq       INTEGER PRIMARY KEY,
				time_ns   INTEGER NOT NULL,
				key_id    TEXT NOT NULL,
				key_name  TEXT NOT NULL,
				action    TEXT NOT NULL,
				target    TEXT NOT NULL,
				remote_ip BLOB
			) STRICT`,
			`CREATE INDEX accesses_time ON accesses (time_ns, seq)`,
			`CREATE INDEX accesses_key ON accesses (key_id, time_ns, seq)`,
			`CREATE INDEX accesses_target ON accesses (target, time_ns, seq)`,
		},
	},
	{
		version:     9,
		description: "index each token's revocations",
		statements: []string{
			// The revocations of a session or subject are those of its
			// tokens. Without this index each token's every event was
			// read to find them; buildQuery writes kind = 4 as a literal
			// so that SQLite can choose it.
			`CREATE INDEX events_token_revoked ON events (token_key, time_ns) WHERE kind = 4`,
		},
	},
	{
		version:     10,
		description: "number anomalies in the order they are stored",
		statements: []string{
			// AnomaliesAfter pages by seq. AUTOINCREMENT never hands out a
			// seq again, even that of an anomaly PruneAnomalies deleted,
			// where the implicit rowid of the old table would be reused
			// after its newest row is deleted, and VACUUM may renumber it.
			// A column cannot become the INTEGER PRIMARY KEY in place, so
			// the table is copied.
			`CREATE TABLE anomalies_v10 (
				seq        INTEGER PRIMARY KEY AUTOINCREMENT,
				id         TEXT NOT NULL UNIQUE,
				rule       TEXT NOT NULL,
				severity   INTEGER NOT NULL,
				time_ns    INTEGER NOT NULL,
				token_id   TEXT,
				subject    TEXT,
				event_ids  TEXT NOT NULL,
				summary    TEXT NOT NULL,
				ip         BLOB,
				asn        INTEGER,
				org        TEXT,
				country    TEXT,
				user_agent TEXT
			) STRICT`,
			// The rowid order is the order of storage, as far as the old
			// table kept it.
			`INSERT INTO anomalies_v10 (id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent)
				SELECT id, rule, severity, time_ns, token_id, subject, event_ids, summary, ip, asn, org, country, user_agent
				FROM anomalies ORDER BY rowid`,
			`DROP TABLE anomalies`,
			`ALTER TABLE anomalies_v10 RENAME TO anomalies`,
			`CREATE INDEX anomalies_time ON anomalies (time_ns)`,
			`CREATE INDEX anomalies_token ON anomalies (token_id, time_ns) WHERE token_id IS NOT NULL`,
			`CREATE INDEX anomalies_subject ON anomalies (subject, time_ns) WHERE subject IS NOT NULL`,
		},
	},
}

// migrate brings the schema of the database up to the last of list, inside
// one transaction: either every pending migration is applied and recorded in
// schema_migrations, or none is. It returns the schema version after the
// call. It rejects a database of another application (ErrNotStore) and one
// whose schema version is above the last of list (ErrSchemaTooNew).
func migrate(ctx context.Context, tx *sql.Tx, list []migration) (int, error) {
	if err := checkMigrations(list); err != nil {
		return 0, err
	}
	latest := list[len(list)-1].version

	var appID int64
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, fmt.Errorf("read application id: %w", err)
	}
	if appID != 0 && appID != applicationID {
		return 0, fmt.Errorf("%w: its application id is %#x, a tokentrail store has %#x, so choose another file for the store", ErrNotStore, appID, applicationID)
	}
	if err := checkForeignTables(ctx, tx); err != nil {
		return 0, err
	}

	_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version     INTEGER PRIMARY KEY,
		description TEXT NOT NULL,
		applied_at  TEXT NOT NULL
	) STRICT`)
	if err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return current, fmt.Errorf("%w: the file has schema version %d and this build supports versions up to %d, so open it with a newer tokentrail",
			ErrSchemaTooNew, current, latest)
	}

	for _, m := range list {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.statements {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return current, fmt.Errorf("apply migration %d (%s): %w", m.version, m.description, err)
			}
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
			m.version, m.description, time.Now().UTC().Format(time.RFC3339))
		if err != nil {
			return current, fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}

	// user_version mirrors the schema version for tools that read only the
	// header, such as the sqlite3 shell. PRAGMA takes no bound parameters.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", latest)); err != nil {
		return current, fmt.Errorf("set user_version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
		return current, fmt.Errorf("set application id: %w", err)
	}
	return latest, nil
}

// checkForeignTables rejects a database that has tables but no
// schema_migrations: another application's file, which migrating would
// change.
func checkForeignTables(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("list tables: %w", err)
		}
		if name == "schema_migrations" {
			return nil
		}
		names = append(names, name)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	if len(names) > 0 {
		if len(names) > 5 {
			names = append(names[:5], "...")
		}
		return fmt.Errorf("%w: it has tables (%s) but no schema_migrations, so choose another file for the store", ErrNotStore, strings.Join(names, ", "))
	}
	return nil
}

// checkMigrations verifies the invariant that versions run 1, 2, 3 and so
// on. A violation is a programming error in this package.
func checkMigrations(list []migration) error {
	if len(list) == 0 {
		return fmt.Errorf("no migrations")
	}
	for i, m := range list {
		if m.version != i+1 {
			return fmt.Errorf("migration %d of the list has version %d, want %d", i+1, m.version, i+1)
		}
	}
	return nil
}
