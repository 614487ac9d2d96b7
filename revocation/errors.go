package revocation

import "errors"

// ErrCursorPastEnd is wrapped by a Source's Revocations when the cursor
// lies past the last position that the Source's store has handed out. The
// cursor was then read from another store, or from this one before it was
// restored from an older copy or replaced, and reading on from it would
// skip the revocations stored up to it. A Refresher that gets it reads
// every revocation again from the start, and keeps what its Set holds.
var ErrCursorPastEnd = errors.New("revocation: cursor is past the end of the source")

// errStuckCursor is wrapped when a Source returns events without moving its
// cursor, which would make a poll read the same page forever.
var errStuckCursor = errors.New("source cursor did not advance")
