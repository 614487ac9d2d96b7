package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is the key the service signs tokens with and the public half
// it verifies them with.
type signingKey struct {
	method  jwt.SigningMethod
	private crypto.PrivateKey
	public  crypto.PublicKey
}

// loadKey reads an Ed25519 or RSA private key from the PEM file at path, or
// generates an Ed25519 key when path is empty. A generated key lives as long
// as the process, so tokens issued before a restart no longer verify.
func loadKey(path string) (signingKey, error) {
	if path == "" {
		public, private, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return signingKey{}, fmt.Errorf("generate an Ed25519 key: %w", err)
		}
		return signingKey{method: jwt.SigningMethodEdDSA, private: private, public: public}, nil
	}

	data, err := os.ReadFile(path)
	if err != nil {
		return signingKey{}, fmt.Errorf("read --key: %w", err)
	}
	if key, err := jwt.ParseEdPrivateKeyFromPEM(data); err == nil {
		if private, ok := key.(ed25519.PrivateKey); ok {
			return signingKey{method: jwt.SigningMethodEdDSA, private: private, public: private.Public()}, nil
		}
	}
	if private, err := jwt.ParseRSAPrivateKeyFromPEM(data); err == nil {
		if private.N.BitLen() < 2048 {
			return signingKey{}, fmt.Errorf("invalid --key %s: the RSA key has %d bits, want at least 2048", path, private.N.BitLen())
		}
		return signingKey{method: jwt.SigningMethodRS256, private: private, public: &private.PublicKey}, nil
	}
	return signingKey{}, fmt.Errorf("invalid --key %s: want a PEM Ed25519 private key (openssl genpkey -algorithm ed25519) or an RSA one (openssl genpkey -algorithm rsa)", path)
}
