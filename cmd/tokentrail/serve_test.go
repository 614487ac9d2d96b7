package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokentrail/tokentrail/forensics"
	"github.com/tokentrail/tokentrail/server"
)

// syncBuffer is a bytes.Buffer that the server goroutine writes while the
// test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	listeningURL = regexp.MustCompile(`url=(https?://127\.0\.0\.1:\d+)`)
	adminSecret  = regexp.MustCompile(`\n    (tt_[A-Za-z0-9_-]+)\n`)
)

// startServe runs serve until the returned stop is called, and returns
// its URL and standard error so far.
func startServe(t *testing.T, f serveFlags, explicit bool) (url string, stderr *syncBuffer, stop func() error) {
	t.Helper()
	stderr = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, stderr, f, explicit) }()

	for url == "" {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended before listening: %v\n%s", err, stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if m := listeningURL.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
	}
	return url, stderr, func() error {
		cancel()
		return <-done
	}
}

func serveTestFlags(store string) serveFlags {
	return serveFlags{addr: "127.0.0.1:0", store: store, maxBodyBytes: 1 << 20, maxRecords: 100, rate: 100, burst: 100}
}

func TestServeFirstStart(t *testing.T) {
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	f.demo = true
	url, stderr, stop := startServe(t, f, true)

	m := adminSecret.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("serve printed no admin key:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "importing the demo data set") {
		t.Errorf("serve --demo did not say it imports the demo data:\n%s", stderr)
	}
	story, err := loadDemoStory()
	if err != nil {
		t.Fatal(err)
	}
	if want := "search for token " + story.Token + ", which the demo's story replays, or its subject "; !strings.Contains(stderr.String(), want) {
		t.Errorf("serve --demo did not name a demo token to try, want %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr.String(), "If it was lost") {
		t.Errorf("first start printed how to replace a lost admin key, though it printed one:\n%s", stderr)
	}

	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/anomalies", nil)
	req.Header.Set("Authorization", "Bearer "+m[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"rule":`) {
		t.Errorf("GET anomalies with the admin key = %d %s, want 200 with the demo's anomalies", resp.StatusCode, body)
	}

	if err := stop(); err != nil {
		t.Errorf("serve after cancel = %v, want nil", err)
	}
	if !strings.Contains(stderr.String(), "tokentrail server stopped") {
		t.Errorf("serve did not log its stop:\n%s", stderr)
	}

	// A second start finds the admin key and prints none.
	_, stderr, stop = startServe(t, f, true)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if adminSecret.MatchString(stderr.String()) || strings.Contains(stderr.String(), "importing the demo") {
		t.Errorf("second start printed a key or imported the demo again:\n%s", stderr)
	}
	if want := "If it was lost, create another: tokentrail --db " + shellWord(f.store) + " keys create --name NAME --role admin\n"; strings.Count(stderr.String(), want) != 1 {
		t.Errorf("second start did not say once how to replace a lost admin key, want %q:\n%s", want, stderr)
	}
	if strings.Contains(stderr.String(), "the demo's story replays") {
		t.Errorf("second start named the demo token, though it imported nothing:\n%s", stderr)
	}
}

func TestShellWord(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/tokentrail/trail.db", "/var/lib/tokentrail/trail.db"},
		{"my trail.db", "'my trail.db'"},
		{"it's.db", `'it'\''s.db'`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellWord(tt.in); got != tt.want {
			t.Errorf("shellWord(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestServeExplicitStoreGetsNoDemo(t *testing.T) {
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	_, stderr, stop := startServe(t, f, true)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stderr.String(), "demo") {
		t.Errorf("serve --store imported the demo data:\n%s", stderr)
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	store := filepath.Join(t.TempDir(), "trail.db")
	tests := []struct {
		name   string
		change func(*serveFlags)
		want   string
	}{
		{"cert without key", func(f *serveFlags) { f.tlsCert = "cert.pem" }, "--tls-cert and --tls-key go together"},
		{"demo and no-demo", func(f *serveFlags) { f.demo, f.noDemo = true, true }, "choose one"},
		{"zero rate", func(f *serveFlags) { f.rate = 0 }, "invalid limits"},
		{"missing cert file", func(f *serveFlags) { f.tlsCert, f.tlsKey = "missing.pem", "missing.key" }, "load --tls-cert"},
		{"invalid trusted proxy", func(f *serveFlags) { f.trustedProxies = []string{"10.0.0.0/8", "proxy.internal", "10.1/16"} },
			`invalid --trusted-proxies entry "proxy.internal", "10.1/16": want a CIDR prefix`},
		{"unknown proxy header", func(f *serveFlags) { f.proxyHeader = "x-real-ip" }, `invalid --proxy-header "x-real-ip": want x-forwarded-for or forwarded`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := serveTestFlags(store)
			tt.change(&f)
			err := runServe(context.Background(), io.Discard, f, true)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runServe = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestServeTrustedProxies starts serve with loopback as its trusted proxy,
// and the test client plays that proxy for two clients. One client that
// keeps failing to authenticate must not lock out the other.
func TestServeTrustedProxies(t *testing.T) {
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	f.trustedProxies = []string{"127.0.0.1", "::1"}
	url, stderr, stop := startServe(t, f, true)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	m := adminSecret.FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("serve printed no admin key:\n%s", stderr)
	}
	get := func(secret, forwardedFor string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url+"/api/v1/key", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	const attacker, other = "203.0.113.7", "198.51.100.9"
	limited := false
	for range server.DefaultAuthFailureBurst + 1 {
		if get("tt_unknown", attacker) == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatalf("%d failures from %s got no 429", server.DefaultAuthFailureBurst+1, attacker)
	}
	if status := get(m[1], other); status != http.StatusOK {
		t.Errorf("GET with the admin key from %s behind the same proxy = %d, want 200", other, status)
	}
	if !strings.Contains(stderr.String(), "trusted_proxies=") {
		t.Errorf("serve did not log its trusted proxies at start:\n%s", stderr)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir, and returns their paths and the certificate.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "tokentrail test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	f := serveTestFlags(filepath.Join(dir, "trail.db"))
	var cert *x509.Certificate
	f.tlsCert, f.tlsKey, cert = writeTestCert(t, dir)
	url, _, stop := startServe(t, f, true)
	defer stop()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("serve with --tls-cert listens at %s, want https", url)
	}

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(url + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET /healthz = %d, TLS %v, want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
}

func TestServeTokenReportMatchesCLI(t *testing.T) {
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	f.demo = true
	url, stderr, stop := startServe(t, f, true)
	defer stop()
	secret := adminSecret.FindStringSubmatch(stderr.String())[1]

	var story demoStory
	raw, err := demoData.ReadFile("demodata/story.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &story); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/tokens/"+story.Token, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET token = %d %s", resp.StatusCode, served)
	}
	printed, _, err := run(t, "", "--db", f.store, "investigate", "--json", story.Token)
	if err != nil {
		t.Fatal(err)
	}

	// The two reports differ only in their report time.
	generated := regexp.MustCompile(`"generated_at": "[^"]*"`)
	a, b := generated.ReplaceAllString(string(served), ""), generated.ReplaceAllString(printed, "")
	if a != b {
		t.Errorf("GET /api/v1/tokens/%s differs from investigate --json:\nserver:\n%s\nCLI:\n%s", story.Token, a, b)
	}
}

// getJSON sends a GET with the key and decodes the JSON response into v.
func getJSON(t *testing.T, url, secret string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestServeAcceptsIncidentPlanRequests(t *testing.T) {
	f := serveTestFlags(filepath.Join(t.TempDir(), "trail.db"))
	f.demo = true
	base, stderr, stop := startServe(t, f, true)
	defer stop()
	secret := adminSecret.FindStringSubmatch(stderr.String())[1]

	var story demoStory
	raw, err := demoData.ReadFile("demodata/story.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &story); err != nil {
		t.Fatal(err)
	}
	var token forensics.TokenReport
	getJSON(t, base+"/api/v1/tokens/"+story.Token, secret, &token)
	if len(token.Events) == 0 || token.Events[0].Subject == "" {
		t.Fatalf("the demo token's report has no event with a subject")
	}
	at := token.Events[len(token.Events)-1].Time.Format(time.RFC3339)
	var incident forensics.IncidentReport
	getJSON(t, base+"/api/v1/incidents?subject="+token.Events[0].Subject+"&at="+at, secret, &incident)

	sent := 0
	for _, step := range incident.Plan {
		// An API request reads "METHOD PATH BODY".
		method, rest, ok := strings.Cut(step.API, " ")
		if !ok {
			continue
		}
		path, body, _ := strings.Cut(rest, " ")
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Errorf("plan step %s: %s = %d %s, want 201 or 200", step.Action, step.API, resp.StatusCode, reply)
		}
		sent++
	}
	if sent == 0 {
		t.Fatal("the demo incident's plan has no API request, so the test checks nothing")
	}

	// The HTML report shows each request as a curl command; it must run as
	// printed. The revocations exist by now, so the server responds 200.
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed, so the plan's curl commands are not run")
	}
	for _, step := range incident.Plan {
		command := forensics.CurlCommand(step.API)
		if command == "" {
			continue
		}
		cmd := exec.Command("sh", "-c", command+" -o /dev/null -w '%{http_code}'")
		cmd.Env = append(os.Environ(), "TOKENTRAIL_URL="+base, "TOKENTRAIL_KEY="+secret)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Errorf("plan step %s: %s = %q, %v, want status 200", step.Action, command, out, err)
		}
	}
}
