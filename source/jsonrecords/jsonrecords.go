// Package jsonrecords reads the records of a JSON log file in any of the
// layouts that identity providers and log pipelines write, so that each
// importer only converts single records.
//
// The layouts are:
//
//   - JSON lines: one object a line, as exports and SIEM forwarders write.
//   - A top-level array of objects, compact or pretty-printed, as the Okta
//     and Auth0 APIs return.
//   - An object that wraps an array of records under the key "records"
//     (Azure diagnostic exports and Event Hub messages), "value" (Microsoft
//     Graph responses) or "items" (lists). Its other keys are ignored.
//   - Objects written one after another, pretty-printed over many lines.
//
// Several arrays or wrappers one after another, such as one wrapper a line,
// are read too. A UTF-8 byte order mark at the start is ignored, and so are
// blank lines and CR before LF.
//
// Read chooses the layout from the first 64 KiB of the file. The file is read
// as JSON lines when it starts with an object that is not a wrapper and ends
// on its first line, or that is invalid before it ends. It is read as a
// document spanning lines when it starts with '[', with a wrapper, with a
// line holding only '{', or with an object that spans lines. Any other
// start, such as a text log or binary data, is read as JSON lines, so each
// of its lines is rejected.
//
// # Validation
//
// Read checks each record before it calls fn: that it is valid JSON (RFC
// 8259), a JSON object, valid UTF-8, no longer than source.MaxLineBytes, and
// nested at most MaxDepth levels. fn therefore needs no error path for
// malformed JSON, and a recursive parser such as fastjson, which the
// importers use, never meets a depth it fails on. Checking costs one pass of
// a non-recursive scanner over the record. In BenchmarkRead that pass, with
// the reading, takes less time than fastjson's parse of the same records.
//
// A record that fails a check is reported with h.Reject as file:line and a
// reason, and reading goes on with the next record. The reason names the
// offending byte and its offset within the line or record but never quotes
// the record, which may hold a token. In JSON lines each line is a record,
// so reading goes on at the next line. In the layouts that span lines, a
// record too long or too deep is skipped by following its brackets, and an
// element that is valid JSON but not an object is skipped. Invalid JSON
// there leaves no boundary to resume from, so Read rejects it at the line of
// the offending byte and stops reading the file. The records before it are
// kept.
//
// # Limits
//
// A record, or a line in JSON lines, may have up to source.MaxLineBytes
// (4 MiB) bytes. Read holds at most about twice that much of a file in
// memory, whatever the file's size. Nesting is bounded by MaxDepth, and the
// scanner keeps its own stack, so no input deepens the call stack.
package jsonrecords

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/tokentrail/tokentrail/source"
)

// headSize is how much of a file Read reads to choose its layout, and the
// size of the sample that Detect functions receive.
const headSize = 64 << 10

// byteOrderMark is UTF-8's byte order mark, which some Windows tools write
// at the start of a file.
var byteOrderMark = []byte{0xEF, 0xBB, 0xBF}

// Read reads in to its end and calls fn once per JSON object record, in file
// order. line is the 1-based line where the record starts, and raw is the
// record's bytes from '{' to '}', valid only during the call.
//
// Records that are not JSON objects, malformed, longer than
// source.MaxLineBytes, nested deeper than MaxDepth, or not valid UTF-8 are
// reported with h.Reject (file:line: reason), and reading goes on where it
// can: see the package documentation. Blank lines are ignored.
//
// Read returns an error only when reading stops early: ctx ended (ctx.Err()),
// the reader failed (wrapped, naming the file), or fn returned an error
// (returned as is).
func Read(ctx context.Context, in source.Input, h source.Handler, fn func(line int, raw []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	head, skipped, readErr := readHead(in.Reader)
	rest := in.Reader
	switch {
	case readErr == nil:
	case errors.Is(readErr, io.EOF):
		rest = nil
	default:
		// Read the head first, then report the error where it happened.
		rest = failedReader{readErr}
	}

	reject := func(line int, reason string) {
		h.Reject(&source.RecordError{File: in.Name, Line: line, Reason: reason})
	}
	if counter, ok := h.(source.RecordCounter); ok {
		// Records of a one-line array share their line, so only the
		// reader can count them.
		rejectRecord, emitRecord := reject, fn
		reject = func(line int, reason string) {
			counter.Record()
			rejectRecord(line, reason)
		}
		fn = func(line int, raw []byte) error {
			counter.Record()
			return emitRecord(line, raw)
		}
	}
	if chooseLayout(head, rest == nil) == jsonLines {
		var r io.Reader = bytes.NewReader(head)
		if rest != nil {
			r = io.MultiReader(r, rest)
		}
		if skipped > 0 {
			reject, fn = shiftLines(skipped, reject, fn)
		}
		return readLines(ctx, in.Name, r, reject, fn)
	}

	s := newStream(ctx, in.Name, head, rest)
	s.line += skipped
	s.reject, s.emit = reject, fn
	if err := s.run(); err != errStop {
		return err
	}
	return nil
}

// First returns the first JSON object record of sample, the start of a file
// (up to 64 KiB, possibly cut inside a record), in any of the layouts that
// Read takes: for a wrapper, the first element of its array. It chooses the
// layout as Read does and passes over what Read would reject, such as a line
// that is not JSON. It returns false when sample holds no complete record,
// including when sample is cut before the first record ends. raw is a
// sub-slice of sample.
func First(sample []byte) (raw []byte, ok bool) {
	sample = bytes.TrimPrefix(sample, byteOrderMark)
	sample = sample[:len(sample):len(sample)]

	if chooseLayout(sample, false) == jsonLines {
		for len(sample) > 0 {
			line := sample
			sample = nil
			if i := bytes.IndexByte(line, '\n'); i >= 0 {
				line, sample = line[:i], line[i+1:]
			}
			if raw, _ := lineRecord(line); raw != nil {
				return raw, true
			}
		}
		return nil, false
	}

	s := newStream(context.Background(), "", sample, nil)
	s.reject = func(int, string) {}
	s.emit = func(_ int, record []byte) error {
		raw = record
		return errStop
	}
	_ = s.run() // errStop once a record is found, or after the reason for none
	return raw, raw != nil
}

// readHead reads the first headSize bytes of r that follow its byte order
// mark and any whitespace in front of the first record, and returns how many
// lines that whitespace ended. err is io.EOF when head is all of r, and
// another error when reading failed after head.
func readHead(r io.Reader) (head []byte, skipped int, err error) {
	head = make([]byte, headSize)
	for first := true; ; first = false {
		n, err := readFull(r, head[:headSize])
		data := head[:n]
		if first {
			data = bytes.TrimPrefix(data, byteOrderMark)
		}
		if err != nil || skipSpace(data, 0) < len(data) {
			return data, skipped, err
		}
		// The head holds only whitespace: count its lines and read on.
		skipped += bytes.Count(data, newline)
	}
}

// readFull reads until buf is full or r fails. Unlike io.ReadFull, it
// returns io.EOF for a short read at the end of r, and passes on every other
// error as r returned it: a gzip stream cut short fails with
// io.ErrUnexpectedEOF, which must not read as a clean end.
func readFull(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// shiftLines returns reject and emit with line numbers moved down by
// skipped lines.
func shiftLines(skipped int, reject func(int, string), emit func(int, []byte) error) (func(int, string), func(int, []byte) error) {
	return func(line int, reason string) { reject(line+skipped, reason) },
		func(line int, raw []byte) error { return emit(line+skipped, raw) }
}

// failedReader returns err on every read.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// layout is how a file's records are laid out.
type layout int

const (
	jsonLines layout = iota // one record a line
	spanning                // arrays, wrappers or objects over many lines
)

// chooseLayout chooses the layout of a file from head, its first bytes
// after any byte order mark. whole reports that head is the whole file.
func chooseLayout(head []byte, whole bool) layout {
	i := skipSpace(head, 0)
	if i == len(head) {
		return jsonLines
	}
	switch head[i] {
	case '[':
		return spanning
	case '{':
	default:
		return jsonLines
	}

	b := head[i:]
	firstLine := b
	if j := bytes.IndexByte(b, '\n'); j >= 0 {
		firstLine = b[:j]
	}
	if len(bytes.TrimSpace(firstLine)) == 1 {
		return spanning // "{" alone on its line, as pretty-printers write
	}

	r := scan(b, atValue, MaxDepth, whole, true)
	switch r.outcome {
	case wrapperKey:
		return spanning
	case scanned:
		if bytes.IndexByte(b[:r.end], '\n') >= 0 {
			return spanning
		}
	case incomplete:
		// Valid up to the end of head: a newline before there is
		// whitespace inside the object, since a string cannot hold one.
		if bytes.IndexByte(b, '\n') >= 0 {
			return spanning
		}
	}
	return jsonLines
}
