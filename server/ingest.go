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
			var e audit.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				h.Reject(&source.RecordError{File: "request", Line: i + 1, Reason: "invalid event: " + err.Error()})
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
			// A sender may have put a raw token where it did not belong, and
			// the error can quote the value.
			res.Rejected = append(res.Rejected, rejection{Index: re.Line - 1, Error: audit.RedactTokens(re.Reason)})
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
	media, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, badRequest(fmt.Sprintf("invalid Content-Type %q: send application/json or application/x-ndjson", contentType))
	}
	switch media {
	case "application/json":
		return false, nil
	case "application/x-ndjson", "application/jsonl", "application/jsonlines":
		return true, nil
	}
	return false, badRequest(fmt.Sprintf("unsupported Content-Type %q: send a JSON array as application/json, or one event per line as application/x-ndjson", media))
}

// readRecords splits the body into the raw JSON of its records: the
// elements of a JSON array, or the non-blank lines of NDJSON. A body over
// maxBytes or with more than maxRecords records is too_large, and a JSON
// array that does not parse is bad_request. A bad NDJSON line is left to
// the record's own rejection.
func readRecords(body io.Reader, ndjson bool, maxRecords int, maxBytes int64) ([]json.RawMessage, error) {
	var records []json.RawMessage
	tooMany := &apiError{code: CodeTooLarge, message: fmt.Sprintf("too many records: send at most %d events in one request", maxRecords)}

	if ndjson {
		lines := bufio.NewScanner(body)
		lines.Buffer(make([]byte, 0, 64<<10), int(min(maxBytes, 1<<30))+1)
		for lines.Scan() {
			line := bytes.TrimSpace(lines.Bytes())
			if len(line) == 0 {
				continue
			}
			if len(records) == maxRecords {
				return nil, tooMany
			}
			records = append(records, json.RawMessage(bytes.Clone(line)))
		}
		if err := lines.Err(); err != nil {
			return nil, bodyError(err, maxBytes)
		}
		if len(records) == 0 {
			return nil, badRequest("empty body: send one event per line")
		}
		return records, nil
	}

	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	if err != nil {
		return nil, bodyError(err, maxBytes)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, badRequest("invalid body: send a JSON array of events, or one event per line as application/x-ndjson")
	}
	for dec.More() {
		if len(records) == maxRecords {
			return nil, tooMany
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bodyError(err, maxBytes)
		}
		records = append(records, raw)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bodyError(err, maxBytes)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("invalid body: data after the JSON array")
	}
	if len(records) == 0 {
		return nil, badRequest("empty array: send at least one event")
	}
	return records, nil
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
		return badRequest("invalid JSON: the body ends inside the array")
	}
	return badRequest("invalid body: " + err.Error())
}
