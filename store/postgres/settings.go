package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Setting returns the value stored under name, as store.SettingStore
// requires.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, bool, error) {
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.mu.RUnlock()

	var value []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM settings WHERE name = $1", name).Scan(&value)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, wrapError(ctx, fmt.Sprintf("postgres: read setting %q", name), err)
	}
	if value == nil {
		value = []byte{} // an empty value is still a value
	}
	return value, true, nil
}

// SetSetting stores value under name, replacing the one stored before, as
// store.SettingStore requires.
func (s *Store) SetSetting(ctx context.Context, name string, value []byte) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	if value == nil {
		value = []byte{} // the column is NOT NULL; an empty value is still a value
	}
	_, err := s.pool.Exec(ctx,
		"INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, now()) "+
			"ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
		name, value)
	if err != nil {
		return wrapError(ctx, fmt.Sprintf("postgres: store setting %q", name), err)
	}
	return nil
}
