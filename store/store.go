// Package store defines the Store that every tokentrail backend implements
// (store/sqlite and store/postgres) and the Query it runs. The
// conformance suite in store/storetest holds every backend to the same
// contract.
package store

import (
	"context"
	"errors"
	"iter"
	"net/netip"
	"time"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
)

// Store keeps events durably. Implementations are safe for concurrent use.
type Store interface {
	// Append stores events in one transaction: all of them or none. An event
	// whose ID is already stored is skipped and counted as a duplicate, so
	// appending the same events twice adds nothing. Events must be valid
	// (audit.Event.Validate); an invalid one fails the whole call with an
	// error wrapping audit.ErrInvalidValue.
	Append(ctx context.Context, events []audit.Event) (Appended, error)

	// Events returns the events matching q, oldest first (ties broken by ID).
	// It returns ErrEmptyQuery when q names no filter.
	Events(ctx context.Context, q Query) ([]audit.Event, error)

	// Scan returns every stored event whose time lies in r, oldest first
	// (ties broken by ID), as one sequence that a range loop reads. It reads
	// the store in pages of bounded size, so a scan of any size holds only one
	// page in memory, and it holds no lock or read transaction while the loop
	// body runs. Each page is a snapshot of its own: an event appended during
	// the scan is yielded if it sorts after the last event already yielded.
	//
	// On an error, such as a canceled ctx (wrapping ctx.Err()) or a store
	// closed during the scan (wrapping ErrClosed), the sequence yields one
	// zero event with the error and ends. Each range over the sequence scans
	// again from the start.
	Scan(ctx context.Context, r TimeRange) iter.Seq2[audit.Event, error]

	// Count returns the number of stored events.
	Count(ctx context.Context) (int64, error)

	// Close releases the store. Calls after Close fail with ErrClosed.
	Close() error
}

// AnomalyStore keeps what detection found. store/sqlite and store/postgres
// implement it.
type AnomalyStore interface {
	// AppendAnomalies stores anomalies in one transaction. One whose ID is
	// stored already is skipped and counted as a duplicate, since the same
	// evidence always yields the same ID, except that it gives its client
	// (IP, ASN, Org, Country, UserAgent) to a stored copy that names none,
	// such as one stored before anomalies had a client. An invalid anomaly
	// (audit.Anomaly.Validate) fails the whole call with an error wrapping
	// audit.ErrInvalidValue.
	AppendAnomalies(ctx context.Context, anomalies []audit.Anomaly) (Appended, error)

	// Anomalies returns the anomalies matching q, oldest first (ties broken
	// by ID), or newest first when q.Newest is set. An empty AnomalyQuery
	// matches every anomaly.
	Anomalies(ctx context.Context, q AnomalyQuery) ([]audit.Anomaly, error)

	// PruneAnomalies deletes, in one transaction, every stored anomaly whose
	// time lies in r, whose ID keep does not contain, and whose proving
	// events (EventIDs) are all stored with a time in r. It returns how many
	// it deleted. A detection run over the events of r that did not raise an
	// anomaly again so removes it, while an anomaly that needs events outside
	// r as evidence, or whose events are no longer stored, stays.
	PruneAnomalies(ctx context.Context, r TimeRange, keep []string) (int, error)
}

// AnomalyFeed reads the stored anomalies in the order they were stored, so
// that a reader that polls learns of every anomaly stored since its last
// read, one raised late over old events included. store/sqlite implements
// it.
//
// A position is a number that grows with each stored anomaly and is never
// given again, even after PruneAnomalies deletes its anomaly. An anomaly
// becomes visible to readers only after every anomaly with a lower
// position, so a reader that has passed a position misses nothing stored
// later. A duplicate that AppendAnomalies skips keeps its position.
type AnomalyFeed interface {
	// AnomaliesAfter returns the anomalies that match q and were stored
	// after position afterSeq, in the order they were stored, at most
	// q.Limit of them (0 means no limit), and the position to read from
	// next. Position 0 is before every anomaly. When the list is shorter
	// than q.Limit, or q.Limit is 0, next is the position of the last
	// anomaly stored when the call began (never below afterSeq), so that a
	// filtered reader does not read again what q skipped. Otherwise next is
	// the position of the last anomaly returned. A negative afterSeq or
	// q.Limit, or q.Newest set, is an error wrapping audit.ErrInvalidValue.
	AnomaliesAfter(ctx context.Context, afterSeq int64, q AnomalyQuery) (list []audit.Anomaly, next int64, err error)

	// LastAnomalySeq returns the position of the last anomaly stored, or 0
	// when none is. A reader that lists anomalies in another order reads it
	// first, and then follows AnomaliesAfter from there. It never goes
	// down, even when PruneAnomalies deletes the anomaly at it, so no
	// position that AnomaliesAfter returned is ever past it.
	LastAnomalySeq(ctx context.Context) (int64, error)
}

// RevocationStore reads the revoked events in the order they were stored,
// which revocation.NewStoreSource turns into the Source of a
// revocation.Refresher. store/sqlite and store/postgres implement it.
type RevocationStore interface {
	// Revocations returns up to limit events of kind revoked that were
	// stored after position afterSeq, in the order they were stored, and
	// the position of the last one returned, or afterSeq when none is.
	// Position 0 is before every event. The order is that of storage, not
	// event time, so an old revocation imported late is still returned
	// after the position already read. A limit below 1 is an error
	// wrapping audit.ErrInvalidValue.
	Revocations(ctx context.Context, afterSeq int64, limit int) (events []audit.Event, lastSeq int64, err error)
}

// RevocationEnd gives the end of the order that RevocationStore reads, so
// that the server can reject a reader's position that this store never
// handed out. store/sqlite and store/postgres implement it. It is apart from
// RevocationStore so that a backend without it still serves the revocation
// feed, without that check.
type RevocationEnd interface {
	// LastRevocationSeq returns the position of the last event of kind
	// revoked stored, or 0 when none is, so no position that Revocations
	// returned is past it. A reader's position past it comes from another
	// store, or from this one before it was restored from an older copy or
	// replaced. It goes down only when the newest revoked events are
	// deleted, which nothing in tokentrail does.
	LastRevocationSeq(ctx context.Context) (int64, error)
}

// SettingStore keeps small named values beside the events, such as the
// detection settings that the last import or detect ran with, so that later
// runs on the same store use them too. store/sqlite and store/postgres
// implement it.
type SettingStore interface {
	// Setting returns the value stored under name, and whether there is
	// one.
	Setting(ctx context.Context, name string) (value []byte, ok bool, err error)

	// SetSetting stores value under name, replacing the one stored before.
	SetSetting(ctx context.Context, name string, value []byte) error
}

// TokenSummaryStore sums up the events of each token that a Query selects,
// so that a caller learns when each token was first and last seen, and how
// often, without reading every event. store/sqlite and store/postgres
// implement it.
type TokenSummaryStore interface {
	// TokenSummaries returns one TokenSummary for each token with events
	// matching q, the token seen last first (ties broken by TokenID, then
	// Fingerprint), at most q.Limit of them (0 means no limit). A token is
	// its TokenID, or its Fingerprint when its events name no TokenID.
	// The events that name neither, such as session events and subject
	// revocations, make up one more summary with both empty. It rejects q
	// as Events does: ErrEmptyQuery for a q without filter, and an error
	// wrapping audit.ErrInvalidValue for an invalid value.
	TokenSummaries(ctx context.Context, q Query) ([]TokenSummary, error)
}

// TokenSummary sums up the events of one token that a Query selected.
type TokenSummary struct {
	TokenID     string
	Fingerprint string    // the fingerprint of the oldest event that has one, since an issuer that reuses a jti gives it several
	Subject     string    // the subject of the newest event
	FirstSeen   time.Time // the time of the oldest event
	LastSeen    time.Time // the time of the newest event
	Events      int       // events of every kind
	Uses        int       // events of kind used
	IssuedAt    time.Time // the earliest IssuedAt of the events, or zero when none has one
	ExpiresAt   time.Time // the latest ExpiresAt of the events, or zero when none has one

	// Revoked is set when an event of kind revoked names the token, except
	// a subject revocation, which revokes by issue time.
	Revoked bool
}

// AnomalyQuery selects anomalies. Every non-zero field narrows the selection.
type AnomalyQuery struct {
	TokenID     string
	Subject     string
	Rules       []string       // any of these rules; empty means every rule
	MinSeverity audit.Severity // at least this severity; zero means any
	Since       time.Time      // inclusive; zero means no lower bound
	Until       time.Time      // exclusive; zero means no upper bound
	Limit       int            // at most this many, the oldest (the newest with Newest); 0 means no limit

	// Newest reverses the order: newest first, ties broken by ID from the
	// greatest, so that Limit keeps the newest. A reader that pages back
	// in time, such as the server's anomaly list, sets it.
	Newest bool

	// Network selects the anomalies whose IP lies in the prefix. An IPv4
	// prefix also matches the IPv4-mapped IPv6 form of its addresses, and
	// zones are ignored.
	Network netip.Prefix
	ASN     uint32 // zero means any
}

// TimeRange selects the times t with Since <= t < Until. A zero bound is
// open, so the zero TimeRange holds every time.
type TimeRange struct {
	Since time.Time // inclusive; zero means no lower bound
	Until time.Time // exclusive; zero means no upper bound
}

// Contains reports whether t lies in r.
func (r TimeRange) Contains(t time.Time) bool {
	return (r.Since.IsZero() || !t.Before(r.Since)) && (r.Until.IsZero() || t.Before(r.Until))
}

// Appended counts what one Append did.
type Appended struct {
	Inserted   int // events newly stored
	Duplicates int // events whose ID was already stored, or repeated in the batch
}

// Query selects events. Every non-zero field narrows the selection (they are
// combined with AND); at least one of TokenID, Fingerprint, Subject, IP,
// Network, SessionID and ParentTokenID must be set.
type Query struct {
	TokenID       string
	Fingerprint   string
	Subject       string
	IP            netip.Addr
	SessionID     string
	ParentTokenID string

	// Network selects the events whose IP lies in the prefix, such as the
	// /24 of an attacker's address. An IPv4 prefix also matches the
	// IPv4-mapped IPv6 form of its addresses, and zones are ignored. A
	// prefix of zero bits is rejected, because it would read the whole
	// store.
	Network netip.Prefix

	Kinds []audit.Kind // any of these kinds; empty means every kind
	Since time.Time    // inclusive; zero means no lower bound
	Until time.Time    // exclusive; zero means no upper bound
	Limit int          // at most this many events; 0 means no limit
}

// Filtered reports whether q names at least one indexed filter.
func (q Query) Filtered() bool {
	return q.TokenID != "" || q.Fingerprint != "" || q.Subject != "" || q.IP.IsValid() ||
		q.Network.IsValid() || q.SessionID != "" || q.ParentTokenID != ""
}

// ErrEmptyQuery is returned by Events for a Query that names no filter, which
// would read the whole store.
var ErrEmptyQuery = errors.New("store: query names no token, subject, address, network, session or parent token")

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("store: closed")

// KeyStore keeps the server's API keys. It stores each key's SHA-256 digest,
// never the key itself.
type KeyStore interface {
	// PutKey stores a new key with the digest of its secret. A key whose ID
	// is stored already is an error wrapping audit.ErrInvalidValue.
	PutKey(ctx context.Context, k apikey.Key, digest [32]byte) error

	// KeyByID returns the key with id and its digest, and false when there
	// is none.
	KeyByID(ctx context.Context, id string) (k apikey.Key, digest [32]byte, ok bool, err error)

	// Keys returns every key, revoked ones included, oldest first.
	Keys(ctx context.Context) ([]apikey.Key, error)

	// RevokeKey marks the key revoked at t. A key revoked already keeps its
	// first revocation time. It returns an error wrapping
	// apikey.ErrUnknownKey when there is no such key.
	RevokeKey(ctx context.Context, id string, t time.Time) error
}

// AccessStore keeps the access log: every read of a token, subject or
// incident through the server.
type AccessStore interface {
	// AppendAccess stores one access.
	AppendAccess(ctx context.Context, a apikey.Access) error

	// Accesses returns the accesses matching q, newest first. A negative
	// Limit is an error wrapping audit.ErrInvalidValue.
	Accesses(ctx context.Context, q AccessQuery) ([]apikey.Access, error)
}

// AccessQuery selects accesses. Every non-zero field narrows the selection.
type AccessQuery struct {
	KeyID  string
	Target string
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	Limit  int       // at most this many, the newest; 0 means no limit
}
