package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migration is one step of the schema. Versions start at 1 and follow each
// other without gaps. A released migration is never edited: a change to the
// schema is a new migration.
type migration struct {
	version     int
	description string
	statements  []string
}

// migrations is the schema history, oldest first. Every table lives in the
// schema that the connection's search_path selects first.
//
// The layout:
//   - events is partitioned by range of time_ns, one partition per calendar
//     month (UTC), created when the first event of the month is appended
//     (see partitions.go), so that old months can be dropped whole. Its
//     indexes are declared on the parent, and PostgreSQL creates them on
//     each partition.
//   - A unique index of a partitioned table must contain the partition
//     key, so it cannot make an event ID unique across months.
//     event_ids, not partitioned, holds each stored ID once with its time:
//     Append inserts the IDs there first, and only the events whose ID was
//     new go into events. PruneAnomalies reads the times of an anomaly's
//     evidence there too.
//   - IDs are text in the "C" collation, so that they sort by their bytes,
//     as Go compares strings, which is the order of store.Store.
//   - Times are int64 nanoseconds since the Unix epoch (time_ns), which
//     keep the nanoseconds that timestamptz, in microseconds, would lose.
//     The token's optional times (issued_at, not_before, expires_at), which
//     may lie far outside that range, such as an exp meant never to come,
//     are numeric nanoseconds.
//   - ip holds netip.Addr.MarshalBinary, as in store/sqlite: 4 bytes for
//     IPv4, 16 and then the zone for IPv6, so that a network is a range of
//     byte strings. fingerprint holds the 32 bytes of the SHA-256. Lists are
//     text arrays, and every unknown value is NULL.
//   - revocation_seq numbers the revoked events in the order they were
//     stored, for Revocations; anomalies.seq does the same for anomalies.
//     Both come from a row of feed_positions that the writing transaction
//     holds locked until it commits, so positions become visible in order
//     and a reader that has passed one misses nothing stored later.
var migrations = []migration{
	{
		version:     1,
		description: "create events and their partitions' indexes, event_ids, feed positions, anomalies, settings, API keys and the access log",
		statements: []string{
			`CREATE TABLE event_ids (
				id      text COLLATE "C" PRIMARY KEY,
				time_ns bigint NOT NULL
			)`,
			`CREATE TABLE events (
				id                text COLLATE "C" NOT NULL,
				time_ns           bigint NOT NULL,
				kind              smallint NOT NULL,
				action            text,
				token_id          text,
				fingerprint       bytea,
				issuer            text,
				subject           text,
				audience          text[],
				client_id         text,
				session_id        text,
				parent_token_id   text,
				scopes            text[],
				issued_at         numeric,
				not_before        numeric,
				expires_at        numeric,
				ip                bytea,
				user_agent        text,
				geo_country       text,
				geo_city          text,
				geo_latitude      double precision,
				geo_longitude     double precision,
				geo_accuracy_km   double precision,
				geo_asn           bigint,
				geo_org           text,
				method            text,
				path              text,
				status            integer,
				trace_id          text,
				actor             text,
				reason            text,
				revocation_method text,
				revocation_scope  text,
				reject_reason     text,
				source            text,
				revocation_seq    bigint
			) PARTITION BY RANGE (time_ns)`,
			`CREATE INDEX events_time ON events (time_ns, id)`,
			`CREATE INDEX events_token_id ON events (token_id, time_ns) WHERE token_id IS NOT NULL`,
			`CREATE INDEX events_fingerprint ON events (fingerprint, time_ns) WHERE fingerprint IS NOT NULL`,
			`CREATE INDEX events_subject ON events (subject, time_ns) WHERE subject IS NOT NULL`,
			`CREATE INDEX events_session_id ON events (session_id, time_ns) WHERE session_id IS NOT NULL`,
			`CREATE INDEX events_parent_token_id ON events (parent_token_id, time_ns) WHERE parent_token_id IS NOT NULL`,
			`CREATE INDEX events_ip ON events (ip, time_ns) WHERE ip IS NOT NULL`,
			`CREATE INDEX events_revocation_seq ON events (revocation_seq) WHERE revocation_seq IS NOT NULL`,
			`CREATE TABLE feed_positions (
				name text PRIMARY KEY,
				last bigint NOT NULL
			)`,
			`INSERT INTO feed_positions (name, last) VALUES ('revocations', 0), ('anomalies', 0)`,
			`CREATE TABLE anomalies (
				seq        bigint PRIMARY KEY,
				id         text COLLATE "C" NOT NULL UNIQUE,
				rule       text NOT NULL,
				severity   smallint NOT NULL,
				time_ns    bigint NOT NULL,
				token_id   text,
				subject    text,
				event_ids  text[] NOT NULL,
				summary    text NOT NULL,
				ip         bytea,
				asn        bigint,
				org        text,
				country    text,
				user_agent text
			)`,
			`CREATE INDEX anomalies_time ON anomalies (time_ns, id)`,
			`CREATE INDEX anomalies_token ON anomalies (token_id, time_ns) WHERE token_id IS NOT NULL`,
			`CREATE INDEX anomalies_subject ON anomalies (subject, time_ns) WHERE subject IS NOT NULL`,
			`CREATE TABLE settings (
				name       text PRIMARY KEY,
				value      bytea NOT NULL,
				updated_at timestamptz NOT NULL
			)`,
			// digest is the SHA-256 of the key's secret; the secret itself
			// is never stored. roles is a JSON array, as in store/sqlite.
			`CREATE TABLE api_keys (
				id            text PRIMARY KEY,
				name          text NOT NULL,
				roles         text NOT NULL,
				digest        bytea NOT NULL,
				created_at_ns numeric NOT NULL,
				revoked_at_ns numeric
			)`,
			// seq orders the accesses of one instant in the order they
			// were stored.
			`CREATE TABLE accesses (
				seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				time_ns   numeric NOT NULL,
				key_id    text NOT NULL,
				key_name  text NOT NULL,
				action    text NOT NULL,
				target    text NOT NULL,
				remote_ip bytea
			)`,
			`CREATE INDEX accesses_time ON accesses (time_ns, seq)`,
			`CREATE INDEX accesses_key ON accesses (key_id, time_ns, seq)`,
			`CREATE INDEX accesses_target ON accesses (target, time_ns, seq)`,
		},
	},
}

// migrationLockKey is the advisory lock that migrate holds, so that two
// processes opening one new schema at once do not both create it. It is
// combined with the schema's name.
const migrationLockKey = "tokentrail migrate "

// migrate brings the current schema up to the last of list, inside one
// transaction: either every pending migration is applied and recorded in
// tokentrail_migrations, or none is. It returns the schema version after
// the call. It rejects a schema of another application (ErrNotStore) and
// one whose version is above the last of list (ErrSchemaTooNew).
func migrate(ctx context.Context, tx pgx.Tx, list []migration) (int, error) {
	if err := checkMigrations(list); err != nil {
		return 0, err
	}
	latest := list[len(list)-1].version

	// current_schema() is NULL when no schema of the search_path exists,
	// which coalesce turns into the empty string tested below.
	var schema string
	if err := tx.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return 0, fmt.Errorf("read the current schema: %w", err)
	}
	if schema == "" {
		return 0, errors.New("no schema of the search_path exists, so create it or set search_path in the connection string")
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", migrationLockKey+schema); err != nil {
		return 0, fmt.Errorf("lock schema %s for migration: %w", schema, err)
	}
	known, err := checkForeignTables(ctx, tx, schema)
	if err != nil {
		return 0, err
	}

	// A store at this build's version needs no statement that changes the
	// schema, so that a role that may only read it can open it.
	if !known {
		_, err := tx.Exec(ctx, `CREATE TABLE tokentrail_migrations (
			version     integer PRIMARY KEY,
			description text NOT NULL,
			applied_at  timestamptz NOT NULL DEFAULT now()
		)`)
		if err != nil {
			return 0, fmt.Errorf("create tokentrail_migrations: %w", err)
		}
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM tokentrail_migrations").Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return current, fmt.Errorf("%w: schema %s has version %d and this build supports versions up to %d, so use a newer tokentrail",
			ErrSchemaTooNew, schema, current, latest)
	}

	for _, m := range list {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.statements {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return current, fmt.Errorf("apply migration %d (%s): %w", m.version, m.description, err)
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO tokentrail_migrations (version, description) VALUES ($1, $2)", m.version, m.description)
		if err != nil {
			return current, fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	return latest, nil
}

// checkForeignTables reports whether the schema has tokentrail_migrations,
// and rejects one that has other tables but not it: another application's,
// which migrating would change.
func checkForeignTables(ctx context.Context, tx pgx.Tx, schema string) (known bool, _ error) {
	rows, err := tx.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 ORDER BY table_name`, schema)
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, fmt.Errorf("list tables: %w", err)
	}
	for _, name := range names {
		if name == "tokentrail_migrations" {
			return true, nil
		}
	}
	if len(names) > 0 {
		if len(names) > 5 {
			names = append(names[:5], "...")
		}
		return false, fmt.Errorf("%w: schema %s has tables (%s) but no tokentrail_migrations, so give tokentrail its own database or schema (search_path in the connection string)",
			ErrNotStore, schema, strings.Join(names, ", "))
	}
	return false, nil
}

// checkMigrations verifies the invariant that versions run 1, 2, 3 and so
// on. A violation is a programming error in this package.
func checkMigrations(list []migration) error {
	if len(list) == 0 {
		return errors.New("no migrations")
	}
	for i, m := range list {
		if m.version != i+1 {
			return fmt.Errorf("migration %d of the list has version %d, want %d", i+1, m.version, i+1)
		}
	}
	return nil
}
