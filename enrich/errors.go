package enrich

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrClosed is returned by Refresh after Close.
var ErrClosed = errors.New("enrich: enricher is closed")

// ErrNotRegularFile is wrapped by a LoadError when a configured path names a
// directory, a device or a pipe, which could block a read or never end.
var ErrNotRegularFile = errors.New("not a regular file")

// ErrNoEntries is wrapped by a LoadError when a list file has invalid lines
// and no valid one, as an HTML error page saved in place of the list has. The
// list loaded before stays in use.
var ErrNoEntries = errors.New("no valid address or CIDR, only invalid lines")

// LoadError reports a database or list file that could not be loaded. New
// returns it for a file that fails at start; a reload logs it and keeps the
// data loaded before.
type LoadError struct {
	Kind string // "city database", "ASN database" or "list"
	Name string // the list's name; empty for a database
	Path string
	Err  error
}

func (e *LoadError) Error() string {
	what := e.Kind
	if e.Name != "" {
		what += " " + strconv.Quote(e.Name)
	}
	return fmt.Sprintf("enrich: load %s from %s: %v", what, e.Path, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// LineError reports one line of a list file that holds no valid IP address
// or CIDR. The line is skipped and the rest of the file is loaded.
type LineError struct {
	Path   string
	Line   int    // 1-based
	Text   string // the line, cut to 80 bytes and made valid UTF-8
	Reason string
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.Path, e.Line, e.Reason, strconv.Quote(e.Text))
}

// newLineError builds a LineError whose Text is safe to log: at most 80
// bytes of valid UTF-8.
func newLineError(path string, line int, text []byte, reason string) *LineError {
	const maxText = 80
	cut := len(text) > maxText
	if cut {
		text = text[:maxText]
	}
	s := strings.ToValidUTF8(string(text), "\uFFFD")
	if cut {
		s += "..."
	}
	return &LineError{Path: path, Line: line, Text: s, Reason: reason}
}
