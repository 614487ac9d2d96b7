package enrich

import (
	"errors"
	"os"
	"sync"
	"time"
)

// watchedFile is a database or list file that is loaded at start and loaded
// again each time refresh finds that the file changed on disk.
type watchedFile struct {
	kind string // "city database", "ASN database" or "list"
	name string // the list's name; empty for a database
	path string

	// parse builds the new contents from the file's bytes and swaps them in
	// when it succeeds.
	parse func(data []byte) (parseStats, error)

	mu struct {
		sync.Mutex
		attempted  os.FileInfo // the file as last read, loaded or not
		loaded     os.FileInfo // the file as last loaded
		statFailed bool        // the last stat failed and was reported
		entries    int
		badLines   int
		err        error // the error of the last attempt, nil after a success
	}
}

// parseStats counts what a parse loaded and skipped.
type parseStats struct {
	entries  int          // addresses and CIDRs loaded from a list
	badLines int          // lines skipped
	firstBad []*LineError // the first maxLineErrors skipped lines
}

// refresh loads the file again if it changed since the last attempt, or if
// force is set. It returns whether new contents were swapped in, what the
// parse counted, and a *LoadError when the file could not be read or parsed,
// in which case the contents loaded before stay in use. A file that stays
// missing is reported once, not on every call.
func (w *watchedFile) refresh(force bool) (loaded bool, stats parseStats, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()

	info, err := os.Stat(w.path)
	if err != nil {
		if w.mu.statFailed && !force {
			return false, stats, nil
		}
		w.mu.statFailed = true
		return false, stats, w.failLocked(err)
	}
	w.mu.statFailed = false
	if !force && sameFile(info, w.mu.attempted) {
		return false, stats, nil
	}

	data, info, err := readFile(w.path)
	if err != nil {
		return false, stats, w.failLocked(err)
	}
	w.mu.attempted = info
	stats, err = w.parse(data)
	if err != nil {
		return false, stats, w.failLocked(err)
	}

	w.mu.loaded = info
	w.mu.entries = stats.entries
	w.mu.badLines = stats.badLines
	w.mu.err = nil
	return true, stats, nil
}

// failLocked records err as the outcome of the last attempt and returns it
// as a *LoadError.
func (w *watchedFile) failLocked(err error) error {
	var le *LoadError
	if !errors.As(err, &le) {
		err = &LoadError{Kind: w.kind, Name: w.name, Path: w.path, Err: err}
	}
	w.mu.err = err
	return err
}

// status returns what is known of the file.
func (w *watchedFile) status() SourceStatus {
	w.mu.Lock()
	defer w.mu.Unlock()

	s := SourceStatus{
		Kind:     w.kind,
		Name:     w.name,
		Path:     w.path,
		Entries:  w.mu.entries,
		BadLines: w.mu.badLines,
		Err:      w.mu.err,
	}
	if w.mu.loaded != nil {
		s.Loaded = true
		s.ModTime = w.mu.loaded.ModTime().UTC()
		s.Size = w.mu.loaded.Size()
	}
	return s
}

// SourceStatus describes one configured database or list file.
type SourceStatus struct {
	Kind     string    // "city database", "ASN database" or "list"
	Name     string    // the list's name; empty for a database
	Path     string    // the path from the Config
	Loaded   bool      // whether contents of the file are in use
	ModTime  time.Time // modification time of the file in use, UTC
	Size     int64     // size in bytes of the file in use
	Entries  int       // addresses and CIDRs loaded from a list; 0 for a database
	BadLines int       // lines of a list skipped in its last load

	// LookupErrors counts lookups in a database that failed on a damaged
	// record, since New; always 0 for a list.
	LookupErrors uint64

	Err error // the error of the last load, or nil after a success
}
