package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// logBuffer collects a test server's log lines; the handlers write to it
// while the test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMalformedKeyLogged checks that the server log names the fault of a
// malformed key, without the key, while the client gets the same
// generic error as for an unknown key.
func TestMalformedKeyLogged(t *testing.T) {
	logs := &logBuffer{}
	ts := newTestServer(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.RepeatLogInterval = -1 // each case reads its own line
	})
	secret := ts.keys.read
	id := secret[3:15]
	body := secret[16:]
	_, unknown := ts.do(t, http.MethodGet, "/api/v1/anomalies", "tt_0123456789ab_"+body, nil)

	tests := []struct {
		name   string
		secret string
		want   string
	}{
		{"ID not hex", "tt_" + id[:4] + "zz" + id[6:] + "_" + body, "not a hex digit at position 5"},
		{"ID too long", "tt_" + id + "0_" + body, "has 13 characters, want 12"},
		{"secret cut", secret[:len(secret)-3], "has 40 characters, want 43"},
		{"JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ", "it is a JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := ts.do(t, http.MethodGet, "/api/v1/anomalies", tt.secret, nil)
			if resp.StatusCode != http.StatusUnauthorized || string(data) != string(unknown) {
				t.Errorf("GET with a malformed key = %d %s, want 401 with the body of an unknown key %s", resp.StatusCode, data, unknown)
			}
			line := logLineOf(logs.String(), resp.Header.Get("X-Request-Id"))
			if !strings.Contains(line, tt.want) {
				t.Errorf("log line = %q, want it to contain %q", line, tt.want)
			}
			if !strings.Contains(line, "malformed API key") || strings.Contains(line, "unknown API key") {
				t.Errorf("log line = %q, want it to call the key malformed, not unknown", line)
			}
			if strings.Contains(line, body[:16]) || strings.Contains(line, "eyJ") || strings.Contains(line, "not of the form") {
				t.Errorf("log line = %q, which quotes the key or says only that its form is wrong", line)
			}
		})
	}
}

// TestBearerSchemeCaseInsensitive checks that "bearer" in lowercase is
// accepted, as HTTP auth schemes are case-insensitive.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	ts := newTestServer(t, nil)
	resp, data := ts.do(t, http.MethodGet, "/api/v1/key", "", nil, "Authorization", "bearer "+ts.keys.read)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/key with scheme bearer = %d %s, want 200", resp.StatusCode, data)
	}
}

// logLineOf returns the log line of the request with id, or "".
func logLineOf(logs, id string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "request_id="+id) {
			return line
		}
	}
	return ""
}
