// Command middleware is a whole service behind the httpmw middleware. It
// records every request that presents a bearer token in a tokentrail
// SQLite store, and rejects the tokens that `tokentrail revoke` revoked in
// that store. It accepts the JWTs signed by the issuer whose public key
// --key names.
//
//	go run ./examples/middleware --key issuer-public.pem --db tokentrail.db
//
// docs/middleware.md quotes this file, and a test checks that the quote
// matches it.
package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tokentrail/tokentrail/httpmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

func main() {
	dbPath := flag.String("db", "tokentrail.db", "SQLite file of the trail, shared with the tokentrail CLI")
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	keyFile := flag.String("key", "", "PEM file of the token issuer's public key, Ed25519 or RSA (required)")
	flag.Parse()

	if err := start(*addr, *dbPath, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "middleware:", err)
		os.Exit(1)
	}
}

// start reads the key, listens on addr and serves until an interrupt or
// SIGTERM.
func start(addr, dbPath, keyFile string) error {
	key, err := readPublicKey(keyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, ln, dbPath, key)
}

// serve serves the API on ln until ctx ends. It then shuts the server down,
// stops the revocation refresher, writes the events still queued and closes
// the store.
func serve(ctx context.Context, ln net.Listener, dbPath string, key crypto.PublicKey) (err error) {
	// One store receives the recorded events and holds the revocations
	// that `tokentrail revoke` writes from another process.
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return fmt.Errorf("open the store: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()

	// The default overflow policy, DropNewest, never makes a request wait:
	// when the queue is full, the recorder counts and logs the dropped event.
	rec := recorder.New(st, recorder.Options{})
	defer func() {
		// ctx has ended by now, so writing the queue gets its own deadline.
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, rec.Close(closeCtx))
	}()

	var revoked revocation.Set
	refresher := revocation.NewRefresher(&revoked, revocation.NewStoreSource(st, 0), revocation.RefresherOptions{})
	if err := refresher.Refresh(ctx); err != nil { // every revocation stored so far, before serving
		return fmt.Errorf("read the revocations: %w", err)
	}
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	var refreshing sync.WaitGroup
	refreshing.Go(func() { _ = refresher.Run(refreshCtx) }) // polls every 2 s until stopped
	defer func() {
		stopRefresh()
		refreshing.Wait()
	}()

	mw, err := httpmw.New(httpmw.Options{
		Recorder:         rec,
		Revocations:      &revoked,
		RevocationMaxAge: 10 * time.Second, // warn when no poll has succeeded for that long
		Source:           "orders-api",
	})
	if err != nil {
		return fmt.Errorf("create the middleware: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", getOrder)
	// httpmw wraps the authentication, so it also records the tokens that
	// authenticate rejects, with the reason its WWW-Authenticate header names.
	srv := &http.Server{Handler: mw(authenticate(key, mux)), ReadHeaderTimeout: 10 * time.Second}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	<-served // http.ErrServerClosed, once Shutdown has closed ln
	return nil
}

// subjectKey is the context key of the verified token's subject.
type subjectKey struct{}

// authenticate verifies the request's bearer token with key and responds
// 401 when the token is missing or invalid. The error_description of its
// WWW-Authenticate header is golang-jwt's message, from which httpmw takes
// the recorded reason, such as an invalid signature or an expired token.
func authenticate(key crypto.PublicKey, next http.Handler) http.Handler {
	methods := []string{"EdDSA"}
	if _, ok := key.(*rsa.PublicKey); ok {
		methods = []string{"RS256"}
	}
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "missing bearer token", http.StatusUnauthorized)
			return
		}
		var claims jwt.RegisteredClaims
		if _, err := jwt.ParseWithClaims(raw, &claims, keyFunc, jwt.WithValidMethods(methods), jwt.WithExpirationRequired()); err != nil {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer error=\"invalid_token\", error_description=%q", err.Error()))
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), subjectKey{}, claims.Subject)))
	})
}

func getOrder(w http.ResponseWriter, r *http.Request) {
	subject, _ := r.Context().Value(subjectKey{}).(string)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"order": r.PathValue("id"), "subject": subject}) // a write error means the client left
}

// readPublicKey reads an Ed25519 or RSA public key from a PEM "PUBLIC KEY"
// block, the form that `openssl pkey -pubout` writes.
func readPublicKey(path string) (crypto.PublicKey, error) {
	if path == "" {
		return nil, errors.New("missing --key: name the PEM file of the token issuer's public key")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("invalid --key %s: no PEM block found, want a PUBLIC KEY block as openssl pkey -pubout writes it", path)
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("invalid --key %s: %w", path, err)
	}
	switch key.(type) {
	case ed25519.PublicKey, *rsa.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("invalid --key %s: the key is a %T, want an Ed25519 or RSA public key", path, key)
}
