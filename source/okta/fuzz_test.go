package okta

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/source"
)

// validatingHandler fails the test on an event that does not validate, and
// checks the location of every report.
type validatingHandler struct {
	tb    testing.TB
	lines int // the input's number of lines, at least 1
}

func (h *validatingHandler) Event(e audit.Event) error {
	if err := e.Validate(); err != nil {
		h.tb.Errorf("event from %s is invalid: %v", e.Source, err)
	}
	return nil
}

func (h *validatingHandler) Skip(line int, reason string) {
	if line < 1 || line > h.lines || reason == "" {
		h.tb.Errorf("Skip(%d, %q) outside the input's %d lines or without reason", line, reason, h.lines)
	}
}

func (h *validatingHandler) Reject(err *source.RecordError) {
	if err.File != "fuzz.json" || err.Line < 1 || err.Line > h.lines || err.Reason == "" {
		h.tb.Errorf("Reject(%v) outside the input's %d lines or without reason", err, h.lines)
	}
}

func FuzzParse(f *testing.F) {
	// Each record is a seed of its own: whole files as seeds make the
	// fuzzer spend most of its time minimizing inputs of tens of KiB.
	lines, err := os.ReadFile("testdata/oauth-token-events.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for l := range bytes.SplitSeq(lines, []byte("\n")) {
		f.Add(l)
	}
	array, err := os.ReadFile("testdata/system-log-array.json")
	if err != nil {
		f.Fatal(err)
	}
	firstRecord, _, _ := bytes.Cut(array, []byte("\n  },\n"))
	f.Add(append(firstRecord, "\n  }\n]\n"...))
	bridges, err := os.ReadFile("testdata/eventbridge-events.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	for l := range bytes.SplitSeq(bridges, []byte("\n")) {
		f.Add(l)
	}
	hooks, err := os.ReadFile("testdata/event-hook-deliveries.json")
	if err != nil {
		f.Fatal(err)
	}
	// The last delivery, whose events array is empty, and the start of the
	// first, cut inside its first event.
	f.Add(hooks[bytes.LastIndex(hooks, []byte("\n{")):])
	f.Add(hooks[:1024])
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[{"eventType":"app.oauth2.token.revoke","uuid":"u","published":"2024-01-01T00:00:00Z","target":[{"type":"access_token","id":"AT.1"}]},7,null]}}`))
	f.Add([]byte(`{"records":[{"eventType":"app.oauth2.token.revoke","uuid":"u","published":"2024-01-01T00:00:00Z","target":[{"type":"refresh_token","id":"RT.1"}]}]}`))
	f.Add([]byte(`[{"eventType":"app.oauth2.as.token.detect_reuse","uuid":"u","published":"2024-01-01T00:00:00","debugContext":{"debugData":{"refreshTokenId":"RT.1"}}}]`))
	f.Add([]byte(`{"eventType":"user.session.start","uuid":"u","published":"2024-01-01 00:00:00","authenticationContext":{"rootSessionId":"s"},"client":{"ipAddress":"::ffff:192.0.2.1","geographicalContext":{"geolocation":{"lat":1e400,"lon":-0}}}}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		_ = Detect(data)

		h := &validatingHandler{tb: t, lines: bytes.Count(data, []byte("\n")) + 1}
		in := source.Input{Reader: bytes.NewReader(data), Name: "fuzz.json"}
		if err := Format().Parse(context.Background(), in, h); err != nil {
			t.Errorf("Parse = %v, want nil", err)
		}
	})
}
