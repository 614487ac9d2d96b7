package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/store"
)

const keyColumns = "id, name, roles, digest, created_at_ns, revoked_at_ns"

// PutKey stores a new key with the digest of its secret, as store.KeyStore
// requires. A key without an ID, name or creation time is an error wrapping
// audit.ErrInvalidValue, and so is a key whose ID is stored already.
func (s *Store) PutKey(ctx context.Context, k apikey.Key, digest [32]byte) error {
	switch {
	case k.ID == "":
		return fmt.Errorf("postgres: store API key: %w: missing ID", audit.ErrInvalidValue)
	case k.Name == "":
		return fmt.Errorf("postgres: store API key %s: %w: missing name", k.ID, audit.ErrInvalidValue)
	case k.CreatedAt.IsZero():
		return fmt.Errorf("postgres: store API key %s: %w: missing creation time", k.ID, audit.ErrInvalidValue)
	}
	roles, err := json.Marshal(k.Roles)
	if err != nil {
		return fmt.Errorf("postgres: store API key %s: encode roles: %w", k.ID, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	tag, err := s.pool.Exec(ctx, "INSERT INTO api_keys ("+keyColumns+") VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
		k.ID, k.Name, string(roles), digest[:], encodeTime(k.CreatedAt), encodeTime(k.RevokedAt))
	if err != nil {
		return wrapError(ctx, fmt.Sprintf("postgres: store API key %s", k.ID), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: store API key %s: %w: a key with ID %s is stored already", k.ID, audit.ErrInvalidValue, k.ID)
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

	rows, err := s.pool.Query(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = $1", id)
	if err != nil {
		return apikey.Key{}, [32]byte{}, false, wrapError(ctx, fmt.Sprintf("postgres: read API key %s", id), err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return apikey.Key{}, [32]byte{}, false, wrapError(ctx, fmt.Sprintf("postgres: read API key %s", id), err)
		}
		return apikey.Key{}, [32]byte{}, false, nil
	}
	k, digest, err := scanKey(rows)
	if err != nil {
		return apikey.Key{}, [32]byte{}, false, fmt.Errorf("postgres: read API key %s: %w", id, err)
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

	rows, err := s.pool.Query(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at_ns, id COLLATE \"C\"")
	if err != nil {
		return nil, wrapError(ctx, "postgres: list API keys", err)
	}
	defer rows.Close()
	var keys []apikey.Key
	for rows.Next() {
		k, _, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list API keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapError(ctx, "postgres: list API keys", err)
	}
	return keys, nil
}

// RevokeKey marks the key revoked at t, as store.KeyStore requires. A key
// revoked already keeps its first revocation time, so the record of when it
// stopped working does not move.
func (s *Store) RevokeKey(ctx context.Context, id string, t time.Time) error {
	if t.IsZero() {
		return fmt.Errorf("postgres: revoke API key %s: %w: missing revocation time", id, audit.ErrInvalidValue)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	// PostgreSQL counts a matched row as updated even when coalesce keeps
	// its value, so the count is 0 only for an unknown ID.
	tag, err := s.pool.Exec(ctx, "UPDATE api_keys SET revoked_at_ns = coalesce(revoked_at_ns, $1) WHERE id = $2", encodeTime(t), id)
	if err != nil {
		return wrapError(ctx, fmt.Sprintf("postgres: revoke API key %s", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: revoke API key %s: %w: no key has ID %s", id, apikey.ErrUnknownKey, id)
	}
	return nil
}

// scanKey reads one row of keyColumns.
func scanKey(row pgx.Row) (apikey.Key, [32]byte, error) {
	var (
		k                  apikey.Key
		digest             [32]byte
		roles              string
		rawDigest          []byte
		created, revokedAt pgtype.Numeric
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
		return fmt.Errorf("postgres: store access: %w: missing time", audit.ErrInvalidValue)
	case a.KeyID == "":
		return fmt.Errorf("postgres: store access: %w: missing key ID", audit.ErrInvalidValue)
	case a.Action == "":
		return fmt.Errorf("postgres: store access of key %s: %w: missing action", a.KeyID, audit.ErrInvalidValue)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	_, err := s.pool.Exec(ctx,
		"INSERT INTO accesses (time_ns, key_id, key_name, action, target, remote_ip) VALUES ($1, $2, $3, $4, $5, $6)",
		encodeTime(a.Time), a.KeyID, a.KeyName, a.Action, a.Target, encodeIP(a.RemoteIP))
	if err != nil {
		return wrapError(ctx, fmt.Sprintf("postgres: store access of key %s", a.KeyID), err)
	}
	return nil
}

// Accesses returns the accesses matching q, newest first, with the accesses
// of one instant in the reverse order of their storage, as
// store.AccessStore requires. A negative Limit is an error wrapping
// audit.ErrInvalidValue.
func (s *Store) Accesses(ctx context.Context, q store.AccessQuery) ([]apikey.Access, error) {
	if q.Limit < 0 {
		return nil, fmt.Errorf("postgres: read the access log: %w: limit %d, want 0 for no limit, or more", audit.ErrInvalidValue, q.Limit)
	}
	f := &filter{}
	if q.KeyID != "" {
		f.add("key_id = %s", q.KeyID)
	}
	if q.Target != "" {
		f.add("target = %s", q.Target)
	}
	if !q.Since.IsZero() {
		f.add("time_ns >= %s", encodeTime(q.Since))
	}
	if !q.Until.IsZero() {
		f.add("time_ns < %s", encodeTime(q.Until))
	}
	query := "SELECT time_ns, key_id, key_name, action, target, remote_ip FROM accesses WHERE " + f.where() +
		" ORDER BY time_ns DESC, seq DESC"
	if q.Limit > 0 {
		query += " LIMIT " + f.arg(q.Limit)
	}

	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	rows, err := s.pool.Query(ctx, query, f.args...)
	if err != nil {
		return nil, wrapError(ctx, "postgres: read the access log", err)
	}
	defer rows.Close()
	var accesses []apikey.Access
	for rows.Next() {
		var (
			a  apikey.Access
			t  pgtype.Numeric
			ip []byte
		)
		if err := rows.Scan(&t, &a.KeyID, &a.KeyName, &a.Action, &a.Target, &ip); err != nil {
			return nil, fmt.Errorf("postgres: read the access log: %w", err)
		}
		var decodeErr error
		if a.Time, decodeErr = decodeTime(t); decodeErr == nil {
			a.RemoteIP, decodeErr = decodeIP(ip)
		}
		if decodeErr != nil {
			return nil, fmt.Errorf("postgres: read the access log: decode an access of key %s: %w", a.KeyID, decodeErr)
		}
		accesses = append(accesses, a)
	}
	if err := rows.Err(); err != nil {
		return nil, wrapError(ctx, "postgres: read the access log", err)
	}
	return accesses, nil
}
