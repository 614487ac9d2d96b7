package sqlite

import "errors"

// Errors of Open. Open wraps each with "sqlite: open" and the path of the
// file, so that a caller can both match it with errors.Is and show the user
// which file is wrong.
var (
	// ErrNotDatabase means the file exists but is not a SQLite database,
	// such as a log file passed where the store was expected.
	ErrNotDatabase = errors.New("not a SQLite database")

	// ErrNotStore means the file is a SQLite database that another
	// application created: it has tables but no tokentrail schema, or
	// another application id.
	ErrNotStore = errors.New("not a tokentrail store")

	// ErrSchemaTooNew means a newer tokentrail migrated the file to a schema
	// version that this build does not know, so reading or writing it could
	// lose data.
	ErrSchemaTooNew = errors.New("schema version newer than this build")

	// ErrSchemaTooOld means a store opened with ReadOnly has an older schema
	// than this build, which only a writable Open migrates.
	ErrSchemaTooOld = errors.New("schema version older than this build")
)

// ErrReadOnly is returned by Append and WithTx on a store opened with
// ReadOnly.
var ErrReadOnly = errors.New("sqlite: store opened read-only")
