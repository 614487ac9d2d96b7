// Package k8saudit imports Kubernetes API server audit logs as token events.
//
// The input is what the log backend and the webhook backend of the API server
// write: audit.k8s.io/v1 Event records, one JSON object a line (older records
// without apiVersion and kind are accepted too), or EventList objects whose
// items are such records, either one a line or as one pretty-printed document.
//
// Two kinds of record become events:
//
//   - A request made with a service-account token. Since Kubernetes 1.29 (the
//     ServiceAccountTokenJTI feature, on by default from 1.30) the API server
//     writes the token's jti into user.extra as the credential id "JTI=<jti>",
//     so the request becomes a "used" event of that jti.
//   - A TokenRequest (create on serviceaccounts/token) that succeeded and
//     whose annotations carry the issued credential id "JTI=<jti>": an
//     "issued" event for the new token. The token itself, which the response
//     body holds at RequestResponse level, is never decoded.
//
// Requests authenticated otherwise (an X.509 client certificate, a static
// token, anonymous) are skipped with the reason. A GUID in place of the
// client address, as anonymized exports write it, leaves the event without
// an IP.
//
// The API server writes one record per stage of a request (RequestReceived,
// ResponseStarted, ResponseComplete, Panic), all with the same auditID.
// Format emits one event per request: see the Format documentation.
package k8saudit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tokentrail/tokentrail/source"
)

// Issuer is the audit.Event Issuer of every event that Format emits. An audit
// record does not contain the token's iss claim (the API server's
// --service-account-issuer), so events name the cluster's token issuer by
// this constant.
const Issuer = "kubernetes"

// PendingWindow is how many records Format waits for the final stage of a
// request before it emits the request from an earlier stage.
const PendingWindow = 1000

// Format returns the importer of Kubernetes audit logs, named "k8saudit".
//
// Each request yields one event, with ID audit.NewID("k8saudit", auditID), and
// a TokenRequest also yields an "issued" event with ID
// audit.NewID("k8saudit", auditID, "issued"). The event is built from the
// ResponseComplete or Panic record, which carries the response status. A
// RequestReceived or ResponseStarted record is held until a later stage of
// the same request arrives, and is emitted only when none arrives within the
// next PendingWindow records or before the end of the file. The records that
// a later stage supersedes, and later stages of a request already emitted,
// are reported with Handler.Skip.
//
// Events are emitted when their request is settled: a final stage at once,
// a held stage when its window ends, and the remaining held stages at the
// end of the file in the order of their last record. The order is therefore
// deterministic but not strictly that of the file.
//
// These are rejected with file:line and the reason: a line that is not valid
// JSON or not valid UTF-8, a field of the wrong JSON type, a record without
// auditID or stage, a token record without any timestamp, and a line longer
// than source.MaxLineBytes. Parse then reads the next line.
func Format() source.Format {
	return source.Format{
		Name:   "k8saudit",
		Detect: Detect,
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			return newParser(in.Name, h, PendingWindow).parse(ctx, in.Reader)
		},
	}
}

// parser holds the state of one Parse call.
type parser struct {
	file    string
	h       source.Handler
	stages  stageTracker
	decoder recordDecoder

	// handlerFailed is set when the Handler returned an error, after which
	// nothing more is handed to it.
	handlerFailed bool

	// counter is the Handler when it counts records. It gets a call for
	// each record, because an EventList or array on one line holds many.
	counter source.RecordCounter
}

func newParser(file string, h source.Handler, window int) *parser {
	counter, _ := h.(source.RecordCounter)
	return &parser{file: file, h: h, stages: newStageTracker(window), counter: counter}
}

// count reports one more record read to a Handler that counts records.
func (p *parser) count() {
	if p.counter != nil {
		p.counter.Record()
	}
}

// utf8BOM is stripped from the start of the input, because some Windows
// tools write it in front of JSON.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parse reads in as JSON lines, or as one JSON document when the first
// non-blank line is a lone "{" or "[" (the output of a pretty-printer).
func (p *parser) parse(ctx context.Context, in io.Reader) error {
	br := bufio.NewReaderSize(in, 64<<10)
	if head, _ := br.Peek(len(utf8BOM)); bytes.Equal(head, utf8BOM) {
		_, _ = br.Discard(len(utf8BOM)) // Peek has buffered the bytes, so Discard cannot fail
	}

	var err error
	if startsDocument(br) {
		err = p.parseDocument(ctx, br)
	} else {
		err = p.parseLines(ctx, br)
	}
	if err != nil && ctx.Err() == nil && !p.handlerFailed {
		// The input broke off (a truncated gzip file, a read error): the
		// requests held for their later stages are still whole events.
		if flushErr := p.stages.flush(p.emit); flushErr != nil {
			return flushErr
		}
		return err
	}
	if err != nil {
		return err
	}
	return p.stages.flush(p.emit)
}

// startsDocument reports whether the first non-blank line of br, within its
// buffer, contains only "{" or "[".
func startsDocument(br *bufio.Reader) bool {
	head, _ := br.Peek(br.Size())
	rest := bytes.TrimLeft(head, " \t\r\n")
	if len(rest) == 0 || (rest[0] != '{' && rest[0] != '[') {
		return false
	}
	line, _, found := bytes.Cut(rest[1:], []byte("\n"))
	return found && len(bytes.TrimSpace(line)) == 0
}

func (p *parser) parseLines(ctx context.Context, r io.Reader) error {
	lr := source.NewLineReader(r, 0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}

		line, number, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, source.ErrLineTooLong) {
			p.count()
			if errors.Is(err, source.ErrNoLineEnd) {
				p.reject(number, -1, "%v; check that the file is a text log", err)
			} else {
				p.reject(number, -1, "%v: the line was not read, so split the record or drop it", err)
			}
			if err := p.stages.advance(p.emit); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", p.file, err)
		}

		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if err := p.value(line, number); err != nil {
			return err
		}
	}
}

// value handles one JSON value found at line: an Event, an EventList or an
// array of events. It returns only the Handler's errors.
func (p *parser) value(raw []byte, line int) error {
	if raw[0] == '[' {
		items, err := decodeItems(raw)
		if err != nil {
			p.count()
			p.reject(line, -1, "%v", err)
			return p.stages.advance(p.emit)
		}
		return p.items(items, line)
	}

	r, err := p.decoder.decode(raw)
	if err != nil {
		p.count()
		p.reject(line, -1, "%v", err)
		return p.stages.advance(p.emit)
	}
	if r.isList() {
		if len(r.Items) == 0 {
			p.count()
			p.skip(line, -1, "%s has no items", r.listName())
			return nil
		}
		return p.items(r.Items, line)
	}
	p.count()
	return p.record(r, line, -1)
}

func (p *parser) items(items []json.RawMessage, line int) error {
	for i, raw := range items {
		if err := p.item(raw, line, i); err != nil {
			return err
		}
	}
	return nil
}

// item handles one element of a list: an audit event, or a rejection. index
// is the element's position, which reasons name when the list has no line
// of its own for each element, or -1.
func (p *parser) item(raw []byte, line, index int) error {
	p.count()
	r, err := p.decoder.decode(raw)
	if err == nil && r.isList() {
		err = errNestedList
	}
	if err != nil {
		p.reject(line, index, "%v", err)
		return p.stages.advance(p.emit)
	}
	return p.record(r, line, index)
}

// record turns one audit record into events, holds it for a later stage, or
// reports why it is not an event. item is the record's index in an EventList
// or array on the line, or -1 when the record is the whole line.
func (p *parser) record(r *record, line, item int) error {
	if err := p.stages.advance(p.emit); err != nil {
		return err
	}

	req := p.stages.newRequest()
	skipReason, err := buildRequest(req, r, p.file, line)
	if err != nil {
		p.stages.release(req)
		p.reject(line, item, "%v", err)
		return nil
	}
	if skipReason != "" {
		p.stages.release(req)
		p.skipReason(line, item, skipReason)
		return nil
	}
	req.item = item

	return p.stages.add(req, p.emit, p.skipReason)
}

// emit sends the events of one settled request to the Handler.
func (p *parser) emit(req *request) error {
	for _, e := range req.events {
		if err := p.h.Event(e); err != nil {
			p.handlerFailed = true
			return err
		}
	}
	return nil
}

func (p *parser) reject(line, item int, format string, args ...any) {
	p.h.Reject(&source.RecordError{File: p.file, Line: line, Reason: itemPrefix(item) + fmt.Sprintf(format, args...)})
}

func (p *parser) skip(line, item int, format string, args ...any) {
	p.h.Skip(line, itemPrefix(item)+fmt.Sprintf(format, args...))
}

func (p *parser) skipReason(line, item int, reason string) {
	p.h.Skip(line, itemPrefix(item)+reason)
}

func itemPrefix(item int) string {
	if item < 0 {
		return ""
	}
	return fmt.Sprintf("items[%d]: ", item)
}
