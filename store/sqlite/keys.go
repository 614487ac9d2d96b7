package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

var (
	_ store.KeyStore    = (*Store)(nil)
	_ store.AccessStore = (*Store)(nil)
)

const keyColumns = "id, name, roles, digest, created_at_ns, revoked_at_ns"

// PutKey stores a new key with the digest of its secret, as store.KeyStore
// requires. A key without an ID, name or creation time is an error wrapping
// audit.ErrInvalidValue, and so is a key whose ID is stored already.
func (s *Store) PutKey(ctx context.Context, k apikey.Key, digest [32]byte) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("sqlite: store API key: %w: missing ID", audit.ErrInvalidValue)
	case k.Name == "":
		return fmt.Errorf("sqlite: store API key %s: %w: missing name", k.ID, audit.ErrInvalidValue)
	case k.CreatedAt.IsZero():
		return fmt.Errorf("sqlite: store API key %s: %w: missing creation time", k.ID, audit.ErrInvalidValue)
	}
	roles, err := json.Marshal(k.Roles)
	if err != nil {
		return fmt.Errorf("sqlite: store API key %s: encode roles: %w", k.ID, err)
	}

	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "INSERT INTO api_keys ("+keyColumns+") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
			k.ID, k.Name, string(roles), digest[:], encodeTime(k.CreatedAt), encodeTime(k.RevokedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: a key with ID %s is stored already", audit.ErrInvalidValue, k.ID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: store API key %s in %s: %w", k.ID, s.path, err)
	}
	return nil
}

// KeyByID returns the key with id and its digest, as store.KeyStore
// requires.
func (s *Store) KeyByID(ctx context.Context, id string) (apikey.Key, [32]byte, bool, error) {
	if err := s.acquire(); err != nil {
		return apikey.Key{}, [32]byte{}, false, err
	}
	defer s.mu.RUnlock()

	row := s.reader.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = ?", id)
	k, digest, err := scanKey(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return apikey.Key{}, [32]byte{}, false, nil
	case err != nil:
		return apikey.Key{}, [32]byte{}, false, fmt.Errorf("sqlite: read API key %s of %s: %w", id, s.path, err)
	}
	return k, digest, true, nil
}

// Keys returns every key, revoked ones included, oldest first (ties broken
// by ID), as store.KeyStore requires.
func (s *Store) Keys(ctx context.Context) ([]apikey.Key, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	rows, err := s.reader.QueryContext(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at_ns, id")
	if err != nil {
		return nil, fmt.Errorf("sqlite: list API keys of %s: %w", s.path, err)
	}
	defer rows.Close()
	var keys []apikey.Key
	for rows.Next() {
		k, _, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list API keys of %s: %w", s.path, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list API keys of %s: %w", s.path, err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked at t, as store.KeyStore requires. A key
// revoked already keeps its first revocation time, so the record of when it
// stopped working does not move.
func (s *Store) RevokeKey(ctx context.Context, id string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("sqlite: revoke API key %s: %w: missing revocation time", id, audit.ErrInvalidValue)
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		// SQLite counts a matched row as changed even when coalesce keeps
		// its value, so n is 0 only for an unknown ID.
		res, err := tx.ExecContext(ctx, "UPDATE api_keys SET revoked_at_ns = coalesce(revoked_at_ns, ?) WHERE id = ?", encodeTime(t), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: no key has ID %s", apikey.ErrUnknownKey, id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke API key %s in %s: %w", id, s.path, err)
	}
	return nil
}

// scanKey reads one row of keyColumns.
func scanKey(row interface{ Scan(dest ...any) error }) (apikey.Key, [32]byte, error) {
	var (
		k                  apikey.Key
		digest             [32]byte
		roles              string
		rawDigest          []byte
		created, revokedAt any
	)
	if err := row.Scan(&k.ID, &k.Name, &roles, &rawDigest, &created, &revokedAt); err != nil {
		return k, digest, err
	}
	if len(rawDigest) != len(digest) {
		return k, digest, fmt.Errorf("key %s: digest of %d bytes, want %d", k.ID, len(rawDigest), len(digest))
	}
	copy(digest[:], rawDigest)
	if err := json.Unmarshal([]byte(roles), &k.Roles); err != nil {
		return k, digest, fmt.Errorf("key %s: decode roles %q: %w", k.ID, roles, err)
	}
	var err error
	if k.CreatedAt, err = decodeTime(created); err != nil {
		return k, digest, fmt.Errorf("key %s: decode created_at_ns: %w", k.ID, err)
	}
	if k.RevokedAt, err = decodeTime(revokedAt); err != nil {
		return k, digest, fmt.Errorf("key %s: decode revoked_at_ns: %w", k.ID, err)
	}
	return k, digest, nil
}

// AppendAccess stores one access, as store.AccessStore requires. An access
// without a time, key ID or action is an error wrapping
// audit.ErrInvalidValue.
func (s *Store) AppendAccess(ctx context.Context, a apikey.Access) error {
	switch {
	case a.Time.IsZero():
		return fmt.Errorf("sqlite: store access: %w: missing time", audit.ErrInvalidValue)
	case a.KeyID == "":
		return fmt.Errorf("sqlite: store access: %w: missing key ID", audit.ErrInvalidValue)
	case a.Action == "":
		return fmt.Errorf("sqlite: store access of key %s: %w: missing action", a.KeyID, audit.ErrInvalidValue)
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO accesses (time_ns, key_id, key_name, action, target, remote_ip) VALUES (?, ?, ?, ?, ?, ?)",
			encodeTime(a.Time), a.KeyID, a.KeyName, a.Action, a.Target, encodeIP(a.RemoteIP))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: store access of key %s in %s: %w", a.KeyID, s.path, err)
	}
	return nil
}

// Accesses returns the accesses matching q, newest first, with the accesses
// of one instant in the reverse order of their storage, as
// store.AccessStore requires. A negative Limit is an error wrapping
// audit.ErrInvalidValue.
func (s *Store) Accesses(ctx context.Context, q store.AccessQuery) ([]apikey.Access, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("sqlite: read the access log: %w: limit %d, want 0 for no limit, or more", audit.ErrInvalidValue, q.Limit)
	}
	query, args := accessQuery(q)

	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: read the access log of %s: %w", s.path, err)
	}
	defer rows.Close()
	var accesses []apikey.Access
	for rows.Next() {
		var (
			a         apikey.Access
			t, ip     any
			decodeErr error
		)
		if err := rows.Scan(&t, &a.KeyID, &a.KeyName, &a.Action, &a.Target, &ip); err != nil {
			return nil, fmt.Errorf("sqlite: read the access log of %s: %w", s.path, err)
		}
		if a.Time, decodeErr = decodeTime(t); decodeErr == nil {
			a.RemoteIP, decodeErr = decodeIP(ip)
		}
		if decodeErr != nil {
			return nil, fmt.Errorf("sqlite: read the access log of %s: decode an access of key %s: %w", s.path, a.KeyID, decodeErr)
		}
		accesses = append(accesses, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read the access log of %s: %w", s.path, err)
	}
	return accesses, nil
}

// accessQuery returns the SQL of Accesses for q and its arguments. The
// index on key_id or target serves a query with either, and accesses_time
// the others, each read backwards for the newest first.
func accessQuery(q store.AccessQuery) (string, []any) {
	var (
		where []string
		args  []any
	)
	if q.KeyID != "" {
		where, args = append(where, "key_id = ?"), append(args, q.KeyID)
	}
	if q.Target != "" {
		where, args = append(where, "target = ?"), append(args, q.Target)
	}
	if !q.Since.IsZero() {
		where, args = append(where, "time_ns >= ?"), append(args, encodeTime(q.Since))
	}
	if !q.Until.IsZero() {
		where, args = append(where, "time_ns < ?"), append(args, encodeTime(q.Until))
	}
	query := "SELECT time_ns, key_id, key_name, action, target, remote_ip FROM accesses"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY time_ns DESC, seq DESC"
	if q.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, q.Limit)
	}
	return query, args
}
