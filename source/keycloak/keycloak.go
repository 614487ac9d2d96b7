// Package keycloak imports Keycloak's user events from its logs and from its
// admin REST API, and turns each event that names a token into audit events,
// and each other event that names a session into a session event.
//
// Token events: CODE_TO_TOKEN, CLIENT_LOGIN and TOKEN_EXCHANGE become issued
// events. A REFRESH_TOKEN becomes a refreshed event for the redeemed refresh
// token and issued events, with that token as parent, for the new ones. A
// *_ERROR that names a token becomes rejected, LOGOUT, TOKEN_REVOKE and
// REVOKE_GRANT with token ids become revoked, and INTROSPECT_TOKEN and
// USER_INFO_REQUEST become used. Every event's Action is the Keycloak event
// type, such as "CODE_TO_TOKEN".
//
// Session events: a user event that names no token but names a session
// becomes one audit.KindSession event. These are logins (LOGIN), failed logins
// (LOGIN_ERROR), logouts without token ids, and the token events above when
// Keycloak logged them without ids. The session is sessionId, else code_id,
// else authSessionParentId. The token events of the same session take the
// same id, so a report joins them. Action is the event type. Reason is
// empty for a success and is the error code of a *_ERROR type, such as
// "invalid_user_credentials". Subject, ClientID, Issuer (the realm name,
// else its id), IP and Source are set as for token events. Scopes are left
// out, because they belong to tokens. A logout without token ids ends its
// session but marks no token revoked, because it names none.
//
// Each event's ID is audit.NewID("keycloak", key, role). An issuance, a
// refresh and a revocation are keyed by their token ids, which Keycloak
// mints once, so the same exchange from the server log and from the admin
// API's event store is stored once. Other events are keyed by their record.
// A text line is keyed by the line, a JSON log record by its time and
// message, and a JSON event by its fields with sorted keys, so the same
// record in another JSON layout gets the same IDs. The role
// distinguishes the events of one record ("access", "refresh", "refreshed",
// "rejected", "revoked-access", "revoked-refresh", "used", "session"), so
// importing a file twice adds no duplicates.
//
// One file may mix these forms, which are recognized line by line:
//
//   - the text log of WildFly (Keycloak up to 16) and Quarkus, where the
//     org.keycloak.events logger writes key=value events, unquoted up to
//     Keycloak 23 and quoted from 24 on: "2021-10-22 22:11:32,131 DEBUG
//     [org.keycloak.events] (default task-3) type=CODE_TO_TOKEN, ...";
//   - the same messages with no log prefix, as log shippers' samples contain
//     them, and with their quotes backslash-escaped once more;
//   - JSON console records ("timestamp", "loggerName", "message") and ECS
//     records ("@timestamp", "log.logger", "message");
//   - lines of JSON event-listener providers, whose JSON object follows a
//     configurable marker: "15:58:08,312 INFO [org.keycloak.events]
//     (default task-7) JSON_EVENT::{...}";
//   - the admin REST API's EventRepresentation ({"time":<ms>,"type":...,
//     "details":{...}}), one object a line or as a JSON array, pretty-printed
//     over many lines as kcadm get events prints it.
//
// Server noise, stack traces, admin events and user events that name
// neither a token nor a session (a LOGIN_ERROR for an unknown redirect URI,
// which Keycloak logs before any session exists) are skipped with a reason.
// A record that should yield events but cannot be read is rejected with its
// file:line and what to do, and the rest of the file is still read. A
// session event needs a time too, so a login whose line lacks one is
// rejected like a token event.
//
// Keycloak events carry token ids (jti) only, never tokens, so nothing this
// package emits or reports can contain a raw token.
package keycloak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// Options configures Format. The zero Options reads times without a zone as
// UTC and takes the date of time-only lines from the file's modification time.
type Options struct {
	// Location is the zone of timestamps written without one, such as the
	// JBoss "2021-10-22 21:01:42,548". Nil means UTC.
	Location *time.Location

	// Date gives the day of lines that carry a time of day only, as JSON
	// event-listener lines do ("16:30:11,662 INFO ..."). Only its year,
	// month and day count, read in Date's own location. The zero Date means
	// the date of the file's modification time in Location. When that is
	// unknown too, such lines are rejected with a reason that names Date.
	// Date is the day of the first such line. Each time the time of day
	// goes back by more than 12 hours, the next day begins.
	Date time.Time
}

// Format returns the "keycloak" source.Format, configured by opts.
func Format(opts Options) source.Format {
	return source.Format{
		Name:   "keycloak",
		Detect: detect,
		Parse: func(ctx context.Context, in source.Input, h source.Handler) error {
			p := &parser{name: in.Name, clock: newClock(opts, in.ModTime), h: h}
			return p.parse(ctx, in)
		},
	}
}

// detect reports whether sample looks like any of the forms Parse reads. The
// first non-blank line must look like a log record (it starts with a date or
// time, a JSON value, or an event message), so that a document that merely
// quotes Keycloak lines, such as a README, is not taken for a log.
func detect(sample []byte) bool {
	first := firstLine(sample)
	if len(first) == 0 || !startsLikeRecord(first) {
		return false
	}
	if bytes.Contains(sample, []byte("[org.keycloak.events]")) ||
		bytes.Contains(sample, []byte(`"org.keycloak.events"`)) {
		return true
	}
	// EventRepresentation JSON, compact or pretty-printed.
	if (first[0] == '{' || first[0] == '[') &&
		bytes.Contains(sample, []byte(`"realmId"`)) && bytes.Contains(sample, []byte(`"type"`)) {
		return true
	}
	// Event messages without a log prefix.
	return bytes.HasPrefix(first, []byte("type=")) || bytes.HasPrefix(first, []byte("operationType="))
}

func firstLine(sample []byte) []byte {
	for len(sample) > 0 {
		line := sample
		if i := bytes.IndexByte(sample, '\n'); i >= 0 {
			line, sample = sample[:i], sample[i+1:]
		} else {
			sample = nil
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			return line
		}
	}
	return nil
}

func startsLikeRecord(line []byte) bool {
	c := line[0]
	return (c >= '0' && c <= '9') || c == '{' || c == '[' ||
		bytes.HasPrefix(line, []byte("type=")) || bytes.HasPrefix(line, []byte("operationType="))
}

// parser reads one file. It is not safe for concurrent use.
type parser struct {
	name  string
	clock clock
	h     source.Handler

	split      jsonSplitter
	json       jsonDecoder
	lastRecord int // line of the latest log record, for the reason of its continuation lines
}

func (p *parser) parse(ctx context.Context, in source.Input) error {
	lr := source.NewLineReader(in, 0)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}

		line, n, readErr := lr.Next()
		switch {
		case readErr == io.EOF:
			if pc, ok := p.split.finish(); ok {
				return p.piece(pc)
			}
			return nil
		case errors.Is(readErr, source.ErrLineTooLong):
			if err := p.interrupt(n); err != nil {
				return err
			}
			p.reject(n, readErr.Error()+"; a Keycloak event is far shorter, so check that the file is a text log")
			continue
		case readErr != nil:
			return fmt.Errorf("keycloak: read %s: %w", p.name, readErr)
		}

		if !utf8.Valid(line) {
			if err := p.interrupt(n); err != nil {
				return err
			}
			p.reject(n, fmt.Sprintf("line is not valid UTF-8 (first invalid byte at column %d); convert the file to UTF-8 and import it again",
				invalidUTF8At(line)+1))
			continue
		}
		if err := p.line(n, string(line)); err != nil {
			return err
		}
	}
}

// line reads one line of text.
func (p *parser) line(n int, text string) error {
	if p.split.active() {
		pieces, again := p.split.feed(n, text)
		if err := p.pieces(pieces); err != nil || !again {
			return err
		}
	}

	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		p.h.Skip(n, "blank line")
		return nil
	}
	// NOTE: a continuation line of a text log record that starts with '{'
	// (a JSON dump inside a server message) is read as a JSON record too, so
	// it is rejected when it is not valid JSON instead of being skipped.
	if looksLikeJSON(trimmed) {
		if record, obj, ok := p.wholeObject(text); ok {
			return p.object(n, record, obj)
		}
		pieces, _ := p.split.feed(n, text)
		return p.pieces(pieces)
	}

	if l, ok := parseLogLine(text); ok {
		p.lastRecord = n
		if l.logger != eventsLogger {
			p.h.Skip(n, "server log line of logger "+l.logger)
			return nil
		}
		return p.message(n, text, l.stamp, l.message)
	}
	if startsWithPair(trimmed) {
		p.lastRecord = n
		return p.message(n, text, "", trimmed)
	}

	switch {
	case p.lastRecord == 0:
		p.h.Skip(n, "not a log line or a Keycloak event")
	case isStackTrace(trimmed):
		p.h.Skip(n, fmt.Sprintf("stack trace of the log record at line %d", p.lastRecord))
	default:
		p.h.Skip(n, fmt.Sprintf("continues the log record at line %d", p.lastRecord))
	}
	return nil
}

// message reads the message of an events-logger line.
func (p *parser) message(n int, raw, stamp, msg string) error {
	fields, millis, err := readMessage(&p.json, msg)
	switch {
	case errors.Is(err, errNotEvent):
		p.h.Skip(n, "message of "+eventsLogger+" is neither key=value pairs nor a JSON event")
		return nil
	case err != nil:
		p.reject(n, err.Error())
		return nil
	}
	return p.record(&record{line: n, raw: raw, fields: fields, stamp: stamp, millis: millis})
}

func (p *parser) pieces(pieces []piece) error {
	for _, pc := range pieces {
		if err := p.piece(pc); err != nil {
			return err
		}
	}
	return nil
}

// piece reads one record cut out by the JSON splitter.
func (p *parser) piece(pc piece) error {
	switch {
	case pc.reject != "":
		p.reject(pc.line, pc.reject)
		return nil
	case pc.skip != "":
		p.h.Skip(pc.line, pc.skip)
		return nil
	}
	obj, err := p.json.object(pc.text)
	if err != nil {
		p.reject(pc.line, err.Error())
		return nil
	}
	return p.object(pc.line, pc.text, obj)
}

// wholeObject returns the JSON object that is all of text but for spaces
// and tabs around it, decoded, when the splitter is idle. Such a line is
// the record the splitter would cut out, so it need not pass through it.
// It reports false for any other line, and for a line that the fast
// decoder leaves to encoding/json, so that the splitter and encoding/json
// find what is wrong with it.
func (p *parser) wholeObject(text string) (string, map[string]any, bool) {
	if p.split.active() {
		return "", nil, false
	}
	record := strings.Trim(text, " \t")
	if len(record) < 2 || record[0] != '{' || record[len(record)-1] != '}' {
		return "", nil, false
	}
	obj, ok := p.json.fastObject(record)
	return record, obj, ok
}

// object reads one decoded JSON record that starts at line: a log record or
// an event.
func (p *parser) object(line int, text string, obj map[string]any) error {
	p.lastRecord = line
	if isLogRecord(obj) {
		lr, err := readLogRecord(obj)
		switch {
		case err != nil:
			p.reject(line, err.Error())
			return nil
		case lr.logger != "" && lr.logger != eventsLogger:
			p.h.Skip(line, "server log record of logger "+lr.logger)
			return nil
		}
		// The time and the message identify the record whatever its
		// layout: the same record re-serialised, or taken out of a JSON
		// array, must get the same event IDs.
		return p.message(line, lr.stamp+"\n"+lr.message, lr.stamp, lr.message)
	}
	if _, ok := obj["type"]; !ok {
		if _, ok := obj["operationType"]; !ok {
			p.h.Skip(line, "JSON object is neither a log record nor a Keycloak event (no message, type or operationType)")
			return nil
		}
	}
	fields, millis, err := eventFields(obj)
	if err != nil {
		p.reject(line, err.Error())
		return nil
	}
	return p.record(&record{line: line, raw: canonicalJSON(obj, text), fields: fields, millis: millis})
}

// canonicalJSON returns obj encoded with sorted keys and no spaces, so one
// event written with other spacing or key order gets the same event IDs. It
// returns text when obj cannot be encoded.
func canonicalJSON(obj map[string]any, text string) string {
	b, err := json.Marshal(obj)
	if err != nil {
		return text
	}
	return string(b)
}

// record maps one event to audit events and hands them over.
func (p *parser) record(r *record) error {
	facts, skip, err := plan(r)
	switch {
	case err != nil:
		p.reject(r.line, err.Error())
		return nil
	case skip != "":
		p.h.Skip(r.line, skip)
		return nil
	}

	dated := p.clock.seenTimeOfDay
	t, err := p.time(r)
	if err != nil {
		p.reject(r.line, err.Error())
		return nil
	}
	if date, assumed := p.clock.assumedDate(); assumed && !dated {
		p.warnDate(r.line, date)
	}
	events := r.events(facts, t, source.Location(p.name, r.line))
	for i := range events {
		if err := events[i].Prepare(); err != nil {
			p.reject(r.line, fmt.Sprintf("the %s is invalid: %v", describe(&events[i]), err))
			return nil
		}
	}
	for _, e := range events {
		if err := p.h.Event(e); err != nil {
			return err
		}
	}
	return nil
}

// describe names an event for the reason of a rejection: "the issued event
// of token t1", "the session event of session s1".
func describe(e *audit.Event) string {
	if e.Kind == audit.KindSession {
		return fmt.Sprintf("%s event of session %s", e.Kind, shorten(e.SessionID))
	}
	return fmt.Sprintf("%s event of token %s", e.Kind, shorten(e.TokenID))
}

// time returns the time of a record: the event's own time when it has one,
// else its log line's timestamp.
func (p *parser) time(r *record) (time.Time, error) {
	switch {
	case r.millis != 0:
		return time.UnixMilli(r.millis).UTC(), nil
	case r.stamp == "":
		return time.Time{}, fmt.Errorf("%w; the line is an event message without the timestamp of its log line, so import the full log lines, which start with the date and time", errNoTime)
	}
	return p.clock.parse(r.stamp)
}

// warnDate warns the Handler that the lines with a time of day only, from
// line on, were dated from the file's modification time. Such a date is a
// guess, and the events keep it if the file is imported again, since their
// IDs come from the records' text.
func (p *parser) warnDate(line int, date time.Time) {
	source.Warn(p.h, fmt.Sprintf("line %d and the later lines carry a time of day but no date, so they are dated %s from "+
		"the file's modification time (%s); if the log is from other days, import it into a new store with the log's first date "+
		"(import --date YYYY-MM-DD), since importing it again keeps the events' first dates",
		line, date.Format(time.DateOnly), p.clock.modTime.UTC().Format("2006-01-02 15:04:05Z")))
}

// interrupt rejects a JSON value left open by a line that cannot be read.
func (p *parser) interrupt(n int) error {
	if pc, ok := p.split.interrupt(n); ok {
		return p.piece(pc)
	}
	return nil
}

func (p *parser) reject(line int, reason string) {
	p.h.Reject(&source.RecordError{File: p.name, Line: line, Reason: reason})
}

// invalidUTF8At returns the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}
