package jsonrecords

import (
	"context"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/tokentrail/tokentrail/source"
)

// readLines reads JSON lines: one record a line.
func readLines(ctx context.Context, name string, r io.Reader, reject func(int, string), emit func(int, []byte) error) error {
	lr := source.NewLineReader(r, source.MaxLineBytes)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}

		line, number, err := lr.Next()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case errors.Is(err, source.ErrNoLineEnd):
			reject(number, err.Error())
			continue // Next returns io.EOF now
		case errors.Is(err, source.ErrLineTooLong):
			reject(number, fmt.Sprintf("line is longer than the limit of %d MiB", source.MaxLineBytes>>20))
			continue
		case err != nil:
			return fmt.Errorf("read %s: %w", name, err)
		}

		raw, reason := lineRecord(line)
		if reason != "" {
			reject(number, reason)
			continue
		}
		if raw == nil {
			continue
		}
		if err := emit(number, raw); err != nil {
			return err
		}
	}
}

// lineRecord returns the object that line holds without the whitespace
// around it, nil for a blank line, or the reason why line holds no object.
// Offsets in the reason count bytes from the start of the line.
func lineRecord(line []byte) (raw []byte, reason string) {
	start := skipSpace(line, 0)
	if start == len(line) {
		return nil, ""
	}

	raw = line[start:]
	r := scan(raw, atValue, MaxDepth, true, false)
	if r.outcome != scanned {
		r.at += start
		return nil, "not a JSON object: " + describeAt(line, r)
	}
	if rest := skipSpace(raw, r.end); rest < len(raw) {
		return nil, fmt.Sprintf("not a JSON object: invalid character %s after the JSON value at offset %d", quoteByte(raw[rest]), start+rest)
	}
	raw = raw[:r.end]
	if raw[0] != '{' {
		return nil, fmt.Sprintf("not a JSON object but %s", kindOf(raw))
	}
	if !utf8.Valid(raw) {
		return nil, invalidUTF8(line)
	}
	return raw, ""
}

// invalidUTF8 returns the reason for a record that is not valid UTF-8,
// with the offset of the first invalid byte.
func invalidUTF8(b []byte) string {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Sprintf("invalid UTF-8 at offset %d", i)
		}
		i += size
	}
	return "invalid UTF-8"
}
