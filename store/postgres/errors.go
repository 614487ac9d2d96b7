package postgres

import "errors"

// Errors of Open. Open wraps each with "postgres: open" and the server and
// database, never the password, so that a caller can both match it with
// errors.Is and show the user which database is wrong.
var (
	// ErrNotStore means the schema that the connection's search_path
	// selects holds tables of another application: tables but no
	// tokentrail_migrations.
	ErrNotStore = errors.New("not a tokentrail store")

	// ErrSchemaTooNew means a newer tokentrail migrated the schema to a
	// version that this build does not know, so reading or writing it could
	// lose data.
	ErrSchemaTooNew = errors.New("schema version newer than this build")
)
