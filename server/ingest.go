package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/tokentrail/tokentrail/apikey"
	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/ingest"
	"github.com/tokentrail/tokentrail/source"
)

// ingestResult is the response of POST /api/v1/events.
type ingestResult struct {
	Accepted   int         `json:"accepted"`   // events newly stored
	Duplicates int         `json:"duplicates"` // events whose ID was stored already
	Rejected   []rejection `json:"rejected"`   // records not stored, in body order
}

// rejection names one record of the body that was not stored.
type rejection struct {
	Index int    `json:"index"` // 0-based position of the record in the body
	Error string `json:"error"`
}

// ingest stores the events of the body through package ingest, as
// tokentrail import stores those of a file. Each event is sanitized and
// validated. The valid ones are stored in one transaction, and each
// invalid one is rejected by its index. Then the stored events go to live
// detection.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	ndjson, err := isNDJSON(r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	records, err := readRecords(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), ndjson, s.cfg.MaxRecords, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}

	key := keyOf(r.Context())
	res := ingestResult{Rejected: []rejection{}}
	var observed []audit.Event
	revoked := false
	format := source.Format{Name: "api", Parse: func(ctx context.Context, _ source.Input, h source.Handler) error {
		counter, _ := h.(source.RecordCounter)
		for i, raw := range records {
			if counter != nil {
				counter.Record()
			}
			e, err := decodeEvent(raw)
			if err != nil {
				h.Reject(&source.RecordError{File: "request", Line: i + 1, Reason: err.Error(), Err: err})
				continue
			}
			if e.Kind == audit.KindRevoked && !key.Can(apikey.RoleRevoke) {
				// Middleware enforces what the feed serves, so a revocation
				// from any ingest key could lock out any subject.
				h.Reject(&source.RecordError{File: "request", Line: i + 1,
					Reason: "a revoked event needs a key with the revoke role: send it with a key that has both the ingest and revoke roles, or record it with POST /api/v1/revocations"})
				continue
			}
			if e.Source == "" {
				e.Source = "api key " + key.Name
			}
			if err := h.Event(e); err != nil {
				return err
			}
		}
		return nil
	}}
	opts := ingest.Options{
		BatchSize:     len(records),
		RecordNumbers: true,
		OnReject: func(re *source.RecordError) {
			index := re.Line - 1
			res.Rejected = append(res.Rejected, rejection{Index: index, Error: rejectionMessage(index, records[index], re)})
		},
		OnEvent: func(e audit.Event) {
			observed = append(observed, e)
			revoked = revoked || e.Kind == audit.KindRevoked
		},
	}
	sum, err := ingest.File(r.Context(), s.appender, format, source.Input{Name: "request"}, opts)
	s.metrics.events.WithLabelValues("accepted").Add(float64(sum.Imported))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(sum.Duplicates))
	s.metrics.events.WithLabelValues("rejected").Add(float64(sum.Rejected))
	if err != nil {
		return fmt.Errorf("ingest %d records: %w", len(records), err)
	}

	if s.detection != nil {
		s.detection.add(r.Context(), observed)
	}
	if revoked {
		s.feed.notify()
	}
	res.Accepted, res.Duplicates = sum.Imported, sum.Duplicates
	writeJSON(w, http.StatusOK, res)
	return nil
}

// isNDJSON reports whether the Content-Type names newline-delimited JSON,
// and rejects types that are neither it nor JSON.
func isNDJSON(contentType string) (bool, error) {
	if contentType == "" {
		return false, nil
	}
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, badRequest(fmt.Sprintf("invalid Content-Type %q: send application/json or application/x-ndjson", contentType))
	}
	if charset := params["charset"]; charset != "" && !strings.EqualFold(charset, "utf-8") {
		return false, badRequest(fmt.Sprintf("unsupported charset %q: send the events in UTF-8", charset))
	}
	switch media {
	case "application/json":
		return false, nil
	case "application/x-ndjson", "application/jsonl", "application/jsonlines":
		return true, nil
	case "application/x-www-form-urlencoded":
		// curl -d sends this type when no Content-Type is given.
		return false, badRequest(fmt.Sprintf("unsupported Content-Type %q, which curl -d sends by default: "+
			"send a JSON array with Content-Type: application/json, or one event per line with Content-Type: application/x-ndjson", media))
	}
	return false, badRequest(fmt.Sprintf("unsupported Content-Type %q: send a JSON array as application/json, or one event per line as application/x-ndjson", media))
}

// readRecords splits the body into the raw JSON of its records: the
// elements of a JSON array, or the non-blank lines of NDJSON. A body over
// maxBytes or with more than maxRecords records is too_large, and a body
// that is empty, not UTF-8 or a JSON array that does not parse is
// bad_request. A bad NDJSON line is left to the record's own rejection. A
// UTF-8 byte order mark at the start is skipped, as RFC 8259 allows.
func readRecords(body io.Reader, ndjson bool, maxRecords int, maxBytes int64) ([]json.RawMessage, error) {
	in := bufio.NewReader(body)
	if err := skipByteOrderMark(in); err != nil {
		return nil, err
	}
	if ndjson {
		return readLines(in, maxRecords, maxBytes)
	}
	return readArray(in, maxRecords, maxBytes)
}

// skipByteOrderMark skips a UTF-8 byte order mark, and rejects a UTF-16
// or UTF-32 one, whose text JSON must not carry.
func skipByteOrderMark(in *bufio.Reader) error {
	start, _ := in.Peek(4) // a shorter body has no mark, and reading it reports the error
	switch {
	case bytes.HasPrefix(start, []byte{0xEF, 0xBB, 0xBF}):
		_, err := in.Discard(3)
		return err
	case bytes.HasPrefix(start, []byte{0xFE, 0xFF}), bytes.HasPrefix(start, []byte{0xFF, 0xFE}),
		bytes.HasPrefix(start, []byte{0, 0, 0xFE, 0xFF}):
		return badRequest("the body is UTF-16 or UTF-32 text (it starts with that byte order mark): send the events in UTF-8")
	}
	return nil
}

func tooManyRecords(maxRecords int) *apiError {
	return &apiError{code: CodeTooLarge, message: fmt.Sprintf("too many records: send at most %d events in one request", maxRecords)}
}

// readLines returns the non-blank lines of an NDJSON body.
func readLines(in io.Reader, maxRecords int, maxBytes int64) ([]json.RawMessage, error) {
	var records []json.RawMessage
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 0, 64<<10), int(min(maxBytes, 1<<30))+1)
	for lines.Scan() {
		line := bytes.TrimSpace(lines.Bytes())
		if len(line) == 0 {
			continue
		}
		if len(records) == maxRecords {
			return nil, tooManyRecords(maxRecords)
		}
		records = append(records, json.RawMessage(bytes.Clone(line)))
	}
	if err := lines.Err(); err != nil {
		return nil, bodyError(err, maxBytes)
	}
	if len(records) == 0 {
		return nil, badRequest(`empty body: send one event per line, each a JSON object such as {"id":"...","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"..."}`)
	}
	return records, nil
}

// readArray returns the elements of a JSON array body.
func readArray(in io.Reader, maxRecords int, maxBytes int64) ([]json.RawMessage, error) {
	var records []json.RawMessage
	dec := json.NewDecoder(in)
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil, badRequest(`empty body: send a JSON array of events, such as [{"id":"...","time":"2026-11-20T10:00:00Z","kind":"used","token_id":"..."}]`)
	case err != nil:
		return nil, bodyError(err, maxBytes)
	}
	switch tok {
	case json.Delim('['):
	case json.Delim('{'):
		return nil, badRequest("the body is a JSON object, but ingest takes a JSON array of events: " +
			"put one event in [ ], or send one event per line with Content-Type: application/x-ndjson")
	default:
		return nil, badRequest(fmt.Sprintf("the body is %s, but ingest takes a JSON array of events, or one event per line with Content-Type: application/x-ndjson", tokenKind(tok)))
	}
	for dec.More() {
		if len(records) == maxRecords {
			return nil, tooManyRecords(maxRecords)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, arrayError(err, maxBytes, len(records))
		}
		records = append(records, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, arrayError(err, maxBytes, len(records))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid body: data after the JSON array: send one array of events")
	}
	if len(records) == 0 {
		return nil, badRequest("empty array: send at least one event")
	}
	return records, nil
}

// tokenKind names the JSON type of a value that json.Decoder.Token
// returned.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case string:
		return "a JSON string"
	case bool:
		return "a JSON boolean"
	case nil:
		return "null"
	}
	return "a JSON number"
}

// arrayError words an error reading the array after its complete
// records.
func arrayError(err error, maxBytes int64, complete int) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		events := "events"
		if complete == 1 {
			events = "event"
		}
		return badRequest(fmt.Sprintf("the body ends inside the JSON array, after %d complete %s, as if it was cut short: send the whole array", complete, events))
	}
	return bodyError(err, maxBytes)
}

// bodyError turns an error reading the body into the client's error.
func bodyError(err error, maxBytes int64) error {
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &tooLarge), errors.Is(err, bufio.ErrTooLong):
		return &apiError{code: CodeTooLarge, message: fmt.Sprintf("body too large: send at most %d bytes in one request", maxBytes)}
	case errors.As(err, &syntax):
		return badRequest(fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, syntax))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest("invalid JSON: the body ends inside a JSON value, as if it was cut short: send the whole body")
	}
	return badRequest("invalid body: " + err.Error())
}
