package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/transport/natsjs"
)

// natsURL returns TOKENTRAIL_NATS_URL, and skips the test when it is
// unset.
func natsURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("TOKENTRAIL_NATS_URL")
	if url == "" {
		t.Skip("TOKENTRAIL_NATS_URL is unset: run a NATS server with JetStream (nats-server -js) and set TOKENTRAIL_NATS_URL=nats://127.0.0.1:4222 to run this test")
	}
	return url
}

func TestServeConsumesNATS(t *testing.T) {
	url := natsURL(t)
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to TOKENTRAIL_NATS_URL %s: %v", url, err)
	}
	t.Cleanup(nc.Close) // after the stream is deleted
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	stream := "TT_SERVE_" + hex.EncodeToString(suffix[:])
	prefix := "tt_serve_" + hex.EncodeToString(suffix[:]) + ".events"
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// serve creates the stream; the test deletes it.
	t.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), stream); err != nil {
			t.Errorf("delete stream %s: %v", stream, err)
		}
	})

	dir := t.TempDir()
	f := serveTestFlags(filepath.Join(dir, "trail.db"))
	// Detection checks each event as it arrives, so the anomaly is stored
	// without a wait for the reorder window.
	f.rules = writeFile(t, dir, "rules.yaml", "reorder_window: -1s\n")
	f.nats = natsFlags{url: url, stream: stream, subject: prefix + ".>", durable: "serve-test"}
	base, stderr, stopServe := startServe(t, f, true)
	stop := sync.OnceValue(stopServe)
	defer stop()
	secret := adminSecret.FindStringSubmatch(stderr.String())[1]
	if !strings.Contains(stderr.String(), "created the NATS stream") {
		t.Errorf("serve did not log that it created the stream:\n%s", stderr)
	}

	// A service publishes a token's life, with a use after its revocation.
	p, err := natsjs.NewPublisher(nc, natsjs.PublisherOptions{SubjectPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	r := recorder.New(p, recorder.Options{Logger: slog.New(slog.DiscardHandler)})
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	token := audit.Event{TokenID: "jti-nats-e2e", Subject: "user-nats", IP: netip.MustParseAddr("198.51.100.9"), Source: "orders-1"}
	issued := token
	issued.Time, issued.ExpiresAt = start, start.Add(time.Hour)
	r.RecordIssued(issued)
	for i := range 3 {
		used := token
		used.Time, used.Method, used.Path, used.Status = start.Add(time.Duration(i+1)*time.Minute), "GET", fmt.Sprintf("/orders/%d", i), 200
		r.RecordUsed(used)
	}
	revoked := token
	revoked.Time, revoked.Actor, revoked.RevocationMethod = start.Add(10*time.Minute), "admin@example.com", audit.RevokedByAdmin
	r.RecordRevoked(revoked)
	late := token
	late.Time, late.Method, late.Path, late.Status = start.Add(15*time.Minute), "GET", "/orders/late", 200
	r.RecordUsed(late)
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("recorder Close() = %v", err)
	}

	var report forensics.TokenReport
	waitForServe(t, "the token report to show 6 events", func() bool {
		return getIfFound(t, base+"/api/v1/tokens/jti-nats-e2e", secret, &report) && len(report.Events) == 6
	})
	if report.Usage.Total != 4 || report.Status != forensics.StatusRevoked {
		t.Errorf("token report: %d uses, status %s, want 4 uses, revoked", report.Usage.Total, report.Status)
	}
	// Live detection saw the consumed events and stored what it found.
	var page struct {
		Anomalies []audit.Anomaly `json:"anomalies"`
	}
	waitForServe(t, "a stored revoked_token_use anomaly", func() bool {
		getJSON(t, base+"/api/v1/anomalies?token=jti-nats-e2e", secret, &page)
		for _, a := range page.Anomalies {
			if a.Rule == "revoked_token_use" {
				return true
			}
		}
		return false
	})

	if err := stop(); err != nil {
		t.Errorf("serve after cancel = %v, want nil", err)
	}
	if !strings.Contains(stderr.String(), "natsjs consumer stopped") {
		t.Errorf("serve did not stop its consumer:\n%s", stderr)
	}
}

// getIfFound sends a GET with the key and decodes a 200 response into v.
// It reports false on a 404, since the events may not be stored yet.
func getIfFound(t *testing.T, url, secret string, v any) bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return false
	default:
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return true
}

// waitForServe polls cond until it holds, and fails the test when it does
// not within 30 seconds, which no passing run comes near.
func waitForServe(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestServeRejectsBadNATSFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"stream without url", []string{"--nats-stream", "EVENTS"}, "--nats-stream needs --nats-url"},
		{"password in url", []string{"--nats-url", "nats://collector:s3cret@127.0.0.1:4222"}, "--nats-creds"},
		{"token in url", []string{"--nats-url", "nats://s3cret@127.0.0.1:4222"}, "--nats-creds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--db", filepath.Join(t.TempDir(), "trail.db"), "serve", "--addr", "127.0.0.1:0"}, tt.args...)
			_, stderr, err := run(t, "", args...)
			if err == nil || !strings.Contains(err.Error()+stderr, tt.want) {
				t.Errorf("serve %s = %v, %q, want an error naming %q", strings.Join(tt.args, " "), err, stderr, tt.want)
			}
			if strings.Contains(err.Error()+stderr, "s3cret") {
				t.Errorf("serve printed the password of --nats-url: %v", err)
			}
		})
	}
}
