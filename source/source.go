// Package source holds what every importer of existing logs shares: the
// Handler that receives a file's events, skips and rejections, the RecordError
// that locates a bad record as file:line, and a line reader that bounds the
// length of a line. Each log format is a package below this one
// (source/keycloak, source/k8saudit, source/jsonl).
package source

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/tokentrail/tokentrail/audit"
)

// Format is one log format that tokentrail imports.
type Format struct {
	// Name is the value of --format for this format, such as "keycloak".
	Name string

	// Detect reports whether sample, the first bytes of a file (up to 64 KiB,
	// possibly cut inside a line), looks like this format.
	Detect func(sample []byte) bool

	// Parse reads one file to its end. It calls h.Event for each event,
	// h.Skip for each record that is not an event, and h.Reject for each
	// record that should be an event but cannot be read. Then it goes on
	// with the next record. Blank lines are not records and are not
	// reported. Events come in file order unless the format documents
	// another deterministic order (k8saudit emits a request when its last
	// stage is read). Parse returns an error only when reading
	// stops early: the reader failed, ctx ended, or a Handler method returned
	// an error (which Parse returns as it is).
	Parse func(ctx context.Context, in Input, h Handler) error
}

// Input is one file handed to a Format's Parse.
type Input struct {
	io.Reader

	// Name is the file name used in audit.Event.Source ("name:line") and in
	// RecordError.
	Name string

	// ModTime is the file's modification time, zero when unknown. Formats
	// whose lines carry a time of day but no date take the date from it
	// unless an option sets the date.
	ModTime time.Time
}

// Handler receives what a Format's Parse finds in a file.
type Handler interface {
	// Event receives one event. The event's Source is "file:line". It has not
	// been validated: the Handler decides what to do with an invalid one.
	Event(e audit.Event) error

	// Skip receives a record that is not an event (server noise, a stack
	// trace line, an admin event, a request without a token).
	Skip(line int, why string)

	// Reject receives a record that cannot be read as an event.
	Reject(err *RecordError)
}

// Warner is implemented by a Handler that takes a Format's warnings about
// a whole file, such as a date the Format assumed for lines that carry
// none. A Format warns at most a few times per file.
type Warner interface {
	Warn(message string)
}

// Warn passes message to h when h is a Warner.
func Warn(h Handler, message string) {
	if w, ok := h.(Warner); ok {
		w.Warn(message)
	}
}

// RecordCounter is implemented by a Handler that counts the records of a
// file. Where records can share a line, as in a JSON array written on one
// line, a Format calls Record once for each record, before that record's
// events, skip or rejection. The Handler then counts those calls as the
// records read, instead of inferring records from line numbers.
type RecordCounter interface {
	Record()
}

// RecordError locates a record that could not be imported.
type RecordError struct {
	File   string
	Line   int // 1-based; 0 when the error concerns the whole file
	Reason string

	// Err is the error that Reason words, such as the *audit.FieldError of
	// an invalid event, when the caller has one; nil otherwise. A caller
	// that words errors in its own terms, as the server does with the
	// JSON field names, reads it with errors.As.
	Err error
}

// Error returns "file:line: reason".
func (e *RecordError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// Unwrap returns e.Err.
func (e *RecordError) Unwrap() error { return e.Err }

// Location returns "file:line", the form of audit.Event.Source.
func Location(file string, line int) string {
	return file + ":" + strconv.Itoa(line)
}

// IsGUID reports whether s is a GUID such as
// f81d4fae-7dec-11d0-a765-00a0c91e6bf6, with or without braces. Anonymised
// exports write one where an IP address should be, so importers take it for
// a missing address rather than a bad record.
func IsGUID(s string) bool {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'):
			return false
		}
	}
	return true
}
