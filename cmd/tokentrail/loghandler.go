package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/tokentrail/tokentrail/audit"
)

// messageHandler is a slog.Handler that prints warnings and errors of the
// libraries the CLI runs as one line each, in the form of the CLI's other
// messages: "warning: threats.txt:3: list line skipped: reason (name ...)".
// Records below slog.LevelWarn are dropped: a command that runs for
// seconds needs no progress log.
type messageHandler struct {
	w     io.Writer
	mu    *sync.Mutex // shared by the handlers WithAttrs derives
	attrs []slog.Attr
}

func newMessageHandler(w io.Writer) *messageHandler {
	return &messageHandler{w: w, mu: &sync.Mutex{}}
}

func (h *messageHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

// Handle writes the record as "LEVEL: LOCATION: MESSAGE: REASON (k v, ...)".
// The location (a "file:line" or a path) and the reason or error lead,
// because the reader acts on them. The component is left out.
func (h *messageHandler) Handle(_ context.Context, r slog.Record) error {
	var location, reason string
	var rest []string
	visit := func(a slog.Attr) bool {
		value := a.Value.Resolve().String()
		switch a.Key {
		case "component":
		case "location":
			location = value
		case "path":
			if location == "" {
				location = value
			} else {
				rest = append(rest, "path "+value)
			}
		case "reason", "error":
			reason = value
		default:
			rest = append(rest, fmt.Sprintf("%s %q", strings.ReplaceAll(a.Key, "_", " "), value))
		}
		return true
	}
	for _, a := range h.attrs {
		visit(a)
	}
	r.Attrs(visit)

	var b strings.Builder
	b.WriteString("warning: ")
	if r.Level >= slog.LevelError {
		b.Reset()
		b.WriteString("error: ")
	}
	if location != "" {
		b.WriteString(location + ": ")
	}
	b.WriteString(r.Message)
	if reason != "" {
		b.WriteString(": " + reason)
	}
	if len(rest) > 0 {
		b.WriteString(" (" + strings.Join(rest, ", ") + ")")
	}
	b.WriteString("\n")

	h.mu.Lock()
	defer h.mu.Unlock()
	// A list line or an error can quote a token pasted in the wrong place.
	_, err := io.WriteString(h.w, audit.RedactTokens(b.String()))
	return err
}

func (h *messageHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &messageHandler{w: h.w, mu: h.mu, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], attrs...)}
}

// WithGroup returns h: the one-line form has no place for groups, and the
// libraries the CLI runs use none.
func (h *messageHandler) WithGroup(string) slog.Handler { return h }
