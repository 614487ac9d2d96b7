package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tokentrail/tokentrail/store"
)

var _ store.SettingStore = (*Store)(nil)

// Setting returns the value stored under name, as store.SettingStore
// requires.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, bool, error) {
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.mu.RUnlock()

	var value []byte
	err := s.reader.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = ?", name).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("sqlite: read setting %q of %s: %w", name, s.path, err)
	}
	return value, true, nil
}

// SetSetting stores value under name, replacing the one stored before, as
// store.SettingStore requires.
func (s *Store) SetSetting(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{} // the column is NOT NULL; an empty value is still a value
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			"INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?) "+
				"ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
			name, value, time.Now().UTC().Format(time.RFC3339))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: store setting %q in %s: %w", name, s.path, err)
	}
	return nil
}
