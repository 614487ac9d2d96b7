package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weakKey, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		pem     []byte // nil: no --key
		wantAlg string
		wantErr string
	}{
		{name: "generated", wantAlg: "EdDSA"},
		{name: "ed25519 pkcs8", pem: pkcs8PEM(t, edKey), wantAlg: "EdDSA"},
		{name: "rsa pkcs8", pem: pkcs8PEM(t, rsaKey), wantAlg: "RS256"},
		{name: "rsa pkcs1", pem: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), wantAlg: "RS256"},
		{name: "rsa 1024 bits", pem: pkcs8PEM(t, weakKey), wantErr: "has 1024 bits, want at least 2048"},
		{name: "not a key", pem: []byte("hello\n"), wantErr: "want a PEM Ed25519 private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.pem != nil {
				path = filepath.Join(t.TempDir(), "key.pem")
				if err := os.WriteFile(path, tt.pem, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			key, err := loadKey(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("loadKey = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadKey = %v, want a key", err)
			}
			if key.method.Alg() != tt.wantAlg {
				t.Errorf("loadKey alg = %s, want %s", key.method.Alg(), tt.wantAlg)
			}

			// A token signed with the key verifies with its public half.
			svc := newService(key, "https://issuer.test", nil, nil, nil, nil)
			token, _, err := svc.sign("alice", "s1", "orders:read", apiAudience, accessLifetime)
			if err != nil {
				t.Fatalf("sign = %v", err)
			}
			if _, err := svc.verify(token, apiAudience); err != nil {
				t.Errorf("verify of a token signed with the key = %v, want nil", err)
			}
		})
	}
}

func TestLoadKeyMissingFile(t *testing.T) {
	_, err := loadKey(filepath.Join(t.TempDir(), "absent.pem"))
	if err == nil || !strings.Contains(err.Error(), "read --key") {
		t.Errorf("loadKey of a missing file = %v, want an error naming --key", err)
	}
}

func pkcs8PEM(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
