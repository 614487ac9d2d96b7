package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

// signToken returns an EdDSA JWT with the claims jti, sub and exp.
func signToken(tb testing.TB, key ed25519.PrivateKey, jti string) string {
	tb.Helper()
	claims := jwt.RegisteredClaims{ID: jti, Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return signed
}

// TestServeRecordsAndRevokes runs the service on a loopback port over a
// store that already holds one revocation, and reads back what it recorded.
func TestServeRecordsAndRevokes(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "trail.db")
	public, private, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Append(ctx, []audit.Event{revocation.TokenEvent("jti-revoked", "", time.Now())}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serve(serveCtx, ln, dbPath, public) }()

	tests := []struct {
		name          string
		authorization string
		want          int
	}{
		{"valid token", "Bearer " + signToken(t, private, "jti-good"), http.StatusOK},
		{"revoked token", "Bearer " + signToken(t, private, "jti-revoked"), http.StatusUnauthorized},
		{"other issuer's token", "Bearer " + signToken(t, otherKey, "jti-forged"), http.StatusUnauthorized},
		{"no token", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/orders/42", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("GET /orders/42 status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}

	stop()
	if err := <-served; err != nil {
		t.Fatalf("serve = %v, want nil after ctx ends", err)
	}

	st, err = sqlite.Open(ctx, dbPath, sqlite.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	recorded := []struct {
		jti    string
		kind   audit.Kind
		reason audit.RejectReason
	}{
		{"jti-good", audit.KindUsed, ""},
		{"jti-revoked", audit.KindRejected, audit.RejectRevoked},
		{"jti-forged", audit.KindRejected, audit.RejectBadSignature},
	}
	for _, want := range recorded {
		events, err := st.Events(ctx, store.Query{TokenID: want.jti, Kinds: []audit.Kind{want.kind}})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].RejectReason != want.reason || events[0].Source != "orders-api" {
			t.Errorf("%s events of %s = %+v, want one from orders-api with reason %q", want.kind, want.jti, events, want.reason)
		}
	}
}

func TestReadPublicKey(t *testing.T) {
	dir := t.TempDir()
	writePEM := func(name, blockType string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(notPEM, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if key, err := readPublicKey(writePEM("ed25519.pem", "PUBLIC KEY", edDER)); err != nil || !public.Equal(key) {
		t.Errorf("readPublicKey(Ed25519 PEM) = %v, %v; want the key", key, err)
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"no path", "", "missing --key"},
		{"missing file", filepath.Join(dir, "absent.pem"), "read --key"},
		{"not PEM", notPEM, "no PEM block"},
		{"not a public key", writePEM("junk.pem", "PUBLIC KEY", []byte("junk")), "invalid --key"},
		{"ECDSA key", writePEM("ecdsa.pem", "PUBLIC KEY", ecDER), "want an Ed25519 or RSA public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readPublicKey(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readPublicKey(%q) error = %v, want one containing %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestDocQuotesMain checks that docs/middleware.md quotes this program as
// it is, so that the documented wiring compiles and runs.
func TestDocQuotesMain(t *testing.T) {
	doc, err := os.ReadFile("../../docs/middleware.md")
	if err != nil {
		t.Fatal(err)
	}
	program, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}

	const marker = "<!-- quoted from examples/middleware/main.go -->\n```go\n"
	_, quote, found := bytes.Cut(doc, []byte(marker))
	if !found {
		t.Fatalf("docs/middleware.md lacks the line %q before its quote of main.go", strings.SplitN(marker, "\n", 2)[0])
	}
	quote, _, found = bytes.Cut(quote, []byte("\n```\n"))
	if !found {
		t.Fatal("the quote of main.go in docs/middleware.md has no closing ```")
	}
	if !bytes.Equal(append(quote, '\n'), program) {
		t.Error("docs/middleware.md quotes an older main.go: paste examples/middleware/main.go between its marker and the closing ```")
	}
}
