// Package ingest runs log files through an importer (a source.Format) into a
// store: it validates each event, writes them in batches, and counts what it
// read, imported, found already stored, skipped and rejected.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
	"github.com/tokentrail/tokentrail/store"
)

// Appender stores a batch of events; store.Store implements it.
type Appender interface {
	Append(ctx context.Context, events []audit.Event) (store.Appended, error)
}

// Options tune File. The zero Options work.
type Options struct {
	// BatchSize is how many events are written in one transaction; 0 means
	// 50,000, which the SQLite import benchmark measured 1.4 times faster
	// than batches of 10,000.
	BatchSize int

	// OnReject, when set, receives each rejected record as it is found, for
	// a caller that prints errors as they come.
	OnReject func(err *source.RecordError)

	// OnEvent, when set, receives each valid event, sanitized, before it
	// is written, in file order: a detection engine observes the import
	// this way. An event already stored is passed on too, since the caller
	// cannot tell it from a new one before the batch is written.
	OnEvent func(e audit.Event)

	// OnWarn, when set, receives the Format's warnings about the whole
	// file (see source.Warner), such as the date it assumed for lines that
	// carry a time of day only.
	OnWarn func(message string)

	// RecordNumbers makes the Line of each RecordError the 1-based number
	// of the record, counted by the Format's source.RecordCounter calls,
	// instead of the line of the event's Source. It suits input whose
	// records are not lines, such as the JSON array of an HTTP request, and
	// leaves the events' Source as the sender set it.
	RecordNumbers bool
}

// Summary counts what one import did.
type Summary struct {
	Read       int // records read: event records, skipped and rejected ones
	Events     int // valid events the records produced
	Imported   int // events newly stored
	Duplicates int // events already stored (or repeated in the input)
	Skipped    int // records that are not token events
	Rejected   int // records or events that could not be imported

	// SkipReasons counts skipped records by reason, for at most
	// MaxSkipReasons distinct reasons; the records of any further reason are
	// counted under OtherSkipReasons.
	SkipReasons map[string]int

	// Errors holds the first rejections, in input order, at most MaxErrors.
	Errors []*source.RecordError
}

// MaxErrors is how many rejections a Summary keeps; the rest are counted in
// Summary.Rejected only.
const MaxErrors = 100

// MaxSkipReasons bounds Summary.SkipReasons. Importers may name the record
// in a reason, so without a bound the map would grow with the file.
const MaxSkipReasons = 1000

// OtherSkipReasons is the key of Summary.SkipReasons that counts the
// records skipped for reasons past MaxSkipReasons.
const OtherSkipReasons = "(other reasons)"

// Add adds the counts of o to s.
func (s *Summary) Add(o Summary) {
	s.Read += o.Read
	s.Events += o.Events
	s.Imported += o.Imported
	s.Duplicates += o.Duplicates
	s.Skipped += o.Skipped
	s.Rejected += o.Rejected
	for reason, n := range o.SkipReasons {
		s.addSkip(reason, n)
	}
	for _, err := range o.Errors {
		if len(s.Errors) < MaxErrors {
			s.Errors = append(s.Errors, err)
		}
	}
}

// File imports one input with format f into db. Events are written in
// batches, each in its own transaction. An error stops the import but keeps
// every batch already written, and the returned Summary counts them. A
// record that fails validation is rejected and the import goes on.
func File(ctx context.Context, db Appender, f source.Format, in source.Input, opts Options) (Summary, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 50_000
	}
	h := &handler{ctx: ctx, db: db, file: in.Name, opts: opts, batch: make([]audit.Event, 0, opts.BatchSize)}

	err := f.Parse(ctx, in, h)
	// The events read before a broken input (a truncated gzip file, a read
	// error) are written too: nothing accepted is lost.
	if flushErr := h.flush(); err == nil {
		err = flushErr
	}
	if err != nil {
		return h.sum, fmt.Errorf("import %s as %s: %w", in.Name, f.Name, err)
	}
	return h.sum, nil
}

type handler struct {
	ctx        context.Context
	db         Appender
	file       string
	opts       Options
	batch      []audit.Event
	lines      []int // the line or record number of each event of batch
	sum        Summary
	lastSource string

	// countsRecords is true once the Format counts records itself (see
	// source.RecordCounter): Read then counts its Record calls only.
	countsRecords bool
}

func (h *handler) Record() {
	h.countsRecords = true
	h.sum.Read++
}

func (h *handler) Event(e audit.Event) error {
	if !h.countsRecords && e.Source != h.lastSource {
		h.sum.Read++
		h.lastSource = e.Source
	}
	line := lineOf(e.Source)
	if h.opts.RecordNumbers {
		line = h.sum.Read
	}
	// A raw token, invalid UTF-8 or an over-long header in one field must
	// not cost the whole event: an attacker could otherwise keep a use out
	// of the trail by sending a long user agent.
	if err := e.Prepare(); err != nil {
		// The record was counted as read above, so only the rejection counts.
		h.reject(&source.RecordError{File: h.file, Line: line, Reason: eventLabel(e.Kind) + err.Error(), Err: err})
		return nil
	}

	h.sum.Events++
	// NOTE: the observer receives each event before the store decides
	// whether its ID is a duplicate. An event whose ID is stored with other
	// content is therefore observed but not stored, and detection may name
	// it; importers derive IDs from the record and the token to make that
	// rare.
	if h.opts.OnEvent != nil {
		h.opts.OnEvent(e)
	}
	h.batch = append(h.batch, e)
	h.lines = append(h.lines, line)
	if len(h.batch) >= h.opts.BatchSize {
		return h.flush()
	}
	return nil
}

func (h *handler) Skip(line int, why string) {
	if !h.countsRecords {
		h.sum.Read++
	}
	h.sum.Skipped++
	h.sum.addSkip(why, 1)
}

func (s *Summary) addSkip(reason string, n int) {
	if s.SkipReasons == nil {
		s.SkipReasons = map[string]int{}
	}
	if _, known := s.SkipReasons[reason]; !known && len(s.SkipReasons) >= MaxSkipReasons {
		reason = OtherSkipReasons
	}
	s.SkipReasons[reason] += n
}

func (h *handler) Warn(message string) {
	if h.opts.OnWarn != nil {
		h.opts.OnWarn(message)
	}
}

func (h *handler) Reject(err *source.RecordError) {
	if !h.countsRecords {
		h.sum.Read++
	}
	h.reject(err)
}

func (h *handler) reject(err *source.RecordError) {
	h.sum.Rejected++
	if len(h.sum.Errors) < MaxErrors {
		h.sum.Errors = append(h.sum.Errors, err)
	}
	if h.opts.OnReject != nil {
		h.opts.OnReject(err)
	}
}

func (h *handler) flush() error {
	if len(h.batch) == 0 {
		return nil
	}
	res, err := h.db.Append(h.ctx, h.batch)
	if errors.Is(err, audit.ErrInvalidValue) {
		// Every event passed Validate, so the store has a rule the model
		// lacks. Writing the events one by one keeps the good ones and
		// rejects the others at their line, instead of stopping the file.
		return h.flushOneByOne()
	}
	if err != nil {
		return fmt.Errorf("write %d events: %w", len(h.batch), err)
	}
	h.sum.Imported += res.Inserted
	h.sum.Duplicates += res.Duplicates
	h.batch, h.lines = h.batch[:0], h.lines[:0]
	return nil
}

func (h *handler) flushOneByOne() error {
	for i := range h.batch {
		e := h.batch[i : i+1]
		res, err := h.db.Append(h.ctx, e)
		if errors.Is(err, audit.ErrInvalidValue) {
			h.sum.Events--
			h.reject(&source.RecordError{File: h.file, Line: h.lines[i], Reason: eventLabel(e[0].Kind) + "the store rejected it: " + err.Error(), Err: err})
			continue
		}
		if err != nil {
			return fmt.Errorf("write event from %s: %w", e[0].Source, err)
		}
		h.sum.Imported += res.Inserted
		h.sum.Duplicates += res.Duplicates
	}
	h.batch, h.lines = h.batch[:0], h.lines[:0]
	return nil
}

// eventLabel returns "used event: " for an event of kind k, or "" when k
// is invalid, since the rejection then names the kind field itself.
func eventLabel(k audit.Kind) string {
	if !k.Valid() {
		return ""
	}
	return k.String() + " event: "
}

// lineOf returns the line number of a "file:line" source, or 0.
func lineOf(source string) int {
	i := strings.LastIndexByte(source, ':')
	if i < 0 {
		return 0
	}
	n, err := strconv.Atoi(source[i+1:])
	if err != nil {
		return 0
	}
	return n
}
