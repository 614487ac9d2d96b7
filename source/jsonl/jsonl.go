// Package jsonl imports any JSON-lines log, such as an API gateway's access
// log. A Mapping names, for each event field, the path of the record that
// holds it.
//
// A record becomes one event. Its token is known by the jti, by a SHA-256
// fingerprint, or by the raw token in the record (a compact JWT or an
// Authorization header value), from which the importer derives the jti, the
// fingerprint and the claims with audit.ParseToken. The raw token itself is
// never kept.
//
// The format never detects itself (its Detect returns false), because no
// mapping can be guessed from a sample: the caller names it and passes a
// Mapping.
package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Format returns the importer of JSON-lines logs mapped by m, named "jsonl".
//
// Parse reads one JSON object a line and ignores blank lines. For each
// record it emits one event whose ID is audit.NewID over the id and the
// token's jti, fingerprint and session when the id field is mapped and
// present, else audit.NewID("jsonl", line) of the
// raw line. A line identical to an earlier one of the same file (a client
// repeating a request within the log's time resolution) is a second event:
// its ID also counts the occurrence. Values are read as follows:
//
//   - A missing key, null, "", "-" and "null" are absent values, as are a
//     status, an ASN or an epoch time of 0.
//   - Numbers may be JSON numbers or numeric strings. Text fields also take
//     numbers, as their literal text.
//   - ip takes the first address of a comma-separated list and drops a port.
//     A GUID there, which anonymized exports write in place of the
//     address, is an absent value too.
//   - aud and scope take an array of strings or a string, which scope splits
//     at white space.
//   - Where a field and the token's claims both give a value, the field wins.
//
// A record in which every mapped token field (jti, fingerprint, token) is
// missing, or whose token field holds another authentication scheme such as
// Basic, is a request made without a token (a health check, an anonymous
// call). It is skipped with the reason "no token: " and the missing fields.
//
// These records are rejected with file:line and the reason, and reading goes
// on with the next line:
//
//   - a line that is not valid JSON, or longer than source.MaxLineBytes;
//   - a record without time, named by field and path;
//   - a mapped value, or a value on a mapped path, of the wrong JSON type,
//     named by field, path and type;
//   - an invalid value, such as an address that is not an IP address or a
//     mapped string that is not valid UTF-8.
//
// Parse returns an error wrapping ErrIncompleteMapping or ErrInvalidMapping
// before it reads anything when m fails Mapping.Validate.
func Format(m Mapping) source.Format {
	return source.Format{
		Name:   "jsonl",
		Detect: func([]byte) bool { return false },
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			if err := m.Validate(); err != nil {
				return err
			}
			p := &parser{file: in.Name, h: h, reader: recordReader{m: &m, x: newExtractor(&m)}}
			return p.parse(ctx, in.Reader)
		},
	}
}

// parser holds the state of one Parse call.
type parser struct {
	file   string
	h      source.Handler
	reader recordReader

	// seen counts the occurrences of recent lines without an id, by the
	// ID of their first occurrence. It is cleared when it reaches
	// maxSeenLines, which bounds its memory; identical requests are logged
	// close together, so little is missed.
	seen map[string]int
}

// maxSeenLines bounds parser.seen: about 6 MiB.
const maxSeenLines = 1 << 16

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

func (p *parser) parse(ctx context.Context, r io.Reader) error {
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
			if errors.Is(err, source.ErrNoLineEnd) {
				p.reject(number, fmt.Sprintf("%v; check that the file is a text log", err))
			} else {
				p.reject(number, fmt.Sprintf("%v: the line was not read, so split the record or drop it", err))
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", p.file, err)
		}

		if number == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}

		e, err := p.event(line, number)
		var noToken *noTokenError
		switch {
		case errors.As(err, &noToken):
			p.h.Skip(number, noToken.Error())
			continue
		case err != nil:
			p.reject(number, err.Error())
			continue
		}
		if err := p.h.Event(e); err != nil {
			return err
		}
	}
}

func (p *parser) reject(line int, reason string) {
	p.h.Reject(&source.RecordError{File: p.file, Line: line, Reason: reason})
}

// event builds the event of one record.
func (p *parser) event(line []byte, number int) (audit.Event, error) {
	r := &p.reader
	r.err = nil
	r.otherScheme = ""
	if !r.x.extract(line) {
		return audit.Event{}, syntaxError(line)
	}
	if k := kindAt(line, 0); k != kindObject && k != kindArray {
		return audit.Event{}, fmt.Errorf("record is a JSON %s, want an object", kindName(k))
	}

	claims := r.token()
	status := int(r.integer(fieldStatus, 100, 599))
	e := audit.Event{
		Time:          r.timeValue(fieldTime, false),
		Kind:          r.kind(status),
		TokenID:       r.text(fieldJTI),
		Fingerprint:   r.fingerprint(),
		Issuer:        r.text(fieldIss),
		Subject:       r.text(fieldSub),
		Audience:      r.list(fieldAud, false),
		ClientID:      r.text(fieldClient),
		SessionID:     r.text(fieldSession),
		ParentTokenID: r.text(fieldParent),
		Scopes:        r.list(fieldScope, true),
		IssuedAt:      r.timeValue(fieldIat, true),
		NotBefore:     r.timeValue(fieldNbf, true),
		ExpiresAt:     r.timeValue(fieldExp, true),

		IP:        r.ip(fieldIP),
		UserAgent: r.text(fieldUA),
		Method:    r.text(fieldMethod),
		Path:      r.text(fieldPath),
		Status:    status,
		TraceID:   r.text(fieldTrace),
		Geo: audit.Geo{
			Country:   r.text(fieldCountry),
			City:      r.text(fieldCity),
			Latitude:  r.float(fieldLat, -90, 90),
			Longitude: r.float(fieldLon, -180, 180),
			// Half the Earth's circumference, 20,037 km, bounds a radius.
			AccuracyKM: r.float(fieldAccuracy, 0, 20_037),
			ASN:        uint32(r.integer(fieldASN, 1, math.MaxUint32)),
			Org:        r.text(fieldOrg),
		},

		Actor:            r.text(fieldActor),
		Reason:           r.text(fieldReason),
		RevocationMethod: r.revocationMethod(),
		RejectReason:     r.rejectReason(),

		// The form of source.Location, built without fmt, which took 6%
		// of the CPU profile of BenchmarkParseClaims.
		Source: p.file + ":" + strconv.Itoa(number),
	}
	id := r.text(fieldID)
	if r.err != nil {
		return audit.Event{}, r.err
	}
	fillFromClaims(&e, claims)
	if e.Reason == "" {
		e.Reason = r.rejectText
	}

	if e.Time.IsZero() {
		return audit.Event{}, fmt.Errorf("field time (path %s) is missing, so the event has no time", r.m.paths[fieldTime].text)
	}
	switch {
	case e.TokenID != "" || e.Fingerprint != "":
	case e.Kind == audit.KindSession && e.SessionID != "":
		// A sign-in fact of a session names no token.
	case r.otherScheme != "":
		return audit.Event{}, &noTokenError{fmt.Sprintf("field token (path %s) contains %s credentials, not a token", r.m.paths[fieldToken].text, r.otherScheme)}
	default:
		return audit.Event{}, missingIdentity(r.m)
	}

	if id != "" {
		// The id of a gateway or a service is unique within its own log
		// only: two gateways that number their requests 1, 2, 3 must not
		// make one token's use a duplicate of another's.
		e.ID = audit.NewID("jsonl", id, e.TokenID, e.Fingerprint, e.SessionID)
	} else {
		e.ID = p.lineID(line)
	}
	if err := e.Prepare(); err != nil {
		return audit.Event{}, fmt.Errorf("event is invalid: %w", err)
	}
	return e, nil
}

// fillFromClaims sets the fields of e that the record left empty from the
// claims of its token.
func fillFromClaims(e *audit.Event, c audit.Claims) {
	setIfEmpty(&e.TokenID, c.TokenID)
	setIfEmpty(&e.Fingerprint, c.Fingerprint)
	setIfEmpty(&e.Issuer, c.Issuer)
	setIfEmpty(&e.Subject, c.Subject)
	setIfEmpty(&e.ClientID, c.ClientID)
	setIfEmpty(&e.SessionID, c.SessionID)
	if len(e.Audience) == 0 {
		e.Audience = c.Audience
	}
	if len(e.Scopes) == 0 {
		e.Scopes = c.Scopes
	}
	if e.IssuedAt.IsZero() {
		e.IssuedAt = c.IssuedAt
	}
	if e.NotBefore.IsZero() {
		e.NotBefore = c.NotBefore
	}
	if e.ExpiresAt.IsZero() {
		e.ExpiresAt = c.ExpiresAt
	}
}

func setIfEmpty(dst *string, s string) {
	if *dst == "" {
		*dst = s
	}
}

// noTokenError is a record that names no token: a request made without one
// (a health check, an anonymous call) is not a token event, so it is
// skipped rather than rejected.
type noTokenError struct{ missing string }

func (e *noTokenError) Error() string { return "no token: " + e.missing }

// missingIdentity names the identity fields that are mapped and missing.
func missingIdentity(m *Mapping) error {
	var missing []string
	for _, f := range []field{fieldJTI, fieldFingerprint, fieldToken} {
		if p := m.paths[f]; p != nil {
			missing = append(missing, fmt.Sprintf("field %s (path %s)", f, p.text))
		}
	}
	if len(missing) == 1 {
		return &noTokenError{missing[0] + " is missing"}
	}
	return &noTokenError{strings.Join(missing, ", ") + " are all missing"}
}

// syntaxError describes why line is not valid JSON. It runs only on the
// lines that the extractor found invalid, to get encoding/json's message.
func syntaxError(line []byte) error {
	var raw json.RawMessage
	err := json.Unmarshal(line, &raw)
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return fmt.Errorf("invalid JSON at byte %d (%v): the line must hold one whole JSON record", syntaxErr.Offset, err)
	}
	return fmt.Errorf("invalid JSON: the line must hold one whole JSON record")
}

// lineID returns the ID of a record without an id field: the hash of the
// line, and for a repeat of an earlier identical line, of its occurrence
// number too. Importing the same file again yields the same IDs.
func (p *parser) lineID(line []byte) string {
	id := audit.NewID("jsonl", string(line))
	if p.seen == nil {
		p.seen = make(map[string]int)
	}
	if len(p.seen) >= maxSeenLines {
		clear(p.seen)
	}
	p.seen[id]++
	if n := p.seen[id]; n > 1 {
		return audit.NewID("jsonl", string(line), strconv.Itoa(n))
	}
	return id
}
