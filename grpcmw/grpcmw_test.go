package grpcmw_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/grpcmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/revocation"
	"github.com/tokentrail/tokentrail/store"
	"github.com/tokentrail/tokentrail/store/sqlite"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

var (
	signingKey = []byte("test key, not a secret")
	otherKey   = []byte("an attacker's key")
)

type trail struct {
	store *sqlite.Store
	rec   *recorder.Recorder
}

func newTrail(t *testing.T) *trail {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trail.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open(%s) = %v", path, err)
	}
	tr := &trail{store: st, rec: recorder.New(st, recorder.Options{Logger: slog.New(slog.DiscardHandler)})}
	t.Cleanup(func() {
		_ = tr.rec.Close(context.Background()) // a test may have closed it already
		_ = st.Close()
	})
	return tr
}

func (tr *trail) one(t *testing.T, q store.Query) audit.Event {
	t.Helper()
	ctx := context.Background()
	if err := tr.rec.Flush(ctx); err != nil {
		t.Fatalf("Flush() = %v", err)
	}
	events, err := tr.store.Events(ctx, q)
	if err != nil {
		t.Fatalf("Events(%+v) = %v", q, err)
	}
	if len(events) != 1 {
		t.Fatalf("stored events for %+v = %d, want 1: %+v", q, len(events), events)
	}
	return events[0]
}

func sign(t *testing.T, key []byte, jti, sub string) string {
	t.Helper()
	now := time.Now()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"jti": jti, "sub": sub, "iss": "https://idp.example", "azp": "mobile-app",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

type claimsKey struct{}

// authenticate is the service's own authentication interceptor.
func authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	if len(values) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	raw, _ := strings.CutPrefix(values[0], "Bearer ")
	var claims jwt.MapClaims
	if _, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return signingKey, nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return context.WithValue(ctx, claimsKey{}, claims), nil
}

func authUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

type authStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *authStream) Context() context.Context { return s.ctx }

func authStreamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := authenticate(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, &authStream{ServerStream: ss, ctx: ctx})
}

func claimsFromContext(ctx context.Context) (grpcmw.Claims, bool) {
	claims, ok := ctx.Value(claimsKey{}).(jwt.MapClaims)
	if !ok {
		return grpcmw.Claims{}, false
	}
	var c grpcmw.Claims
	c.TokenID, _ = claims["jti"].(string)
	c.Subject, _ = claims["sub"].(string)
	c.ClientID, _ = claims["azp"].(string)
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		c.IssuedAt = iat.Time
	}
	return c, true
}

// server starts a gRPC server on 127.0.0.1 with the health service and
// the interceptors in order, and returns a client of it.
func server(t *testing.T, unary []grpc.UnaryServerInterceptor, stream []grpc.StreamServerInterceptor) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func interceptor(t *testing.T, opts grpcmw.Options) *grpcmw.Interceptor {
	t.Helper()
	i, err := grpcmw.New(opts)
	if err != nil {
		t.Fatalf("grpcmw.New() = %v", err)
	}
	return i
}

// withToken returns a context that sends token and the metadata kv, and
// ends with the test.
func withToken(t *testing.T, token string, kv ...string) context.Context {
	pairs := append([]string{"authorization", "Bearer " + token}, kv...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, pairs...)
}

// counting counts the calls that reach the handler.
func counting(n *atomic.Int32) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		n.Add(1)
		return handler(ctx, req)
	}
}

func TestUnaryUseRecorded(t *testing.T) {
	tr := newTrail(t)
	i := interceptor(t, grpcmw.Options{Recorder: tr.rec, Claims: claimsFromContext, Source: "orders-grpc"})
	client := server(t, []grpc.UnaryServerInterceptor{authUnary, i.Unary}, nil)

	_, err := client.Check(withToken(t, sign(t, signingKey, "jti-grpc-1", "alice"), "traceparent", traceparent), &healthpb.HealthCheckRequest{})

	if err != nil {
		t.Fatalf("Check() = %v", err)
	}
	e := tr.one(t, store.Query{TokenID: "jti-grpc-1"})
	checks := []struct{ field, got, want string }{
		{"Kind", e.Kind.String(), "used"},
		{"Subject", e.Subject, "alice"},
		{"ClientID", e.ClientID, "mobile-app"},
		{"Method", e.Method, "POST"},
		{"Path", e.Path, "/grpc.health.v1.Health/Check"},
		{"IP", e.IP.String(), "127.0.0.1"},
		{"TraceID", e.TraceID, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"Source", e.Source, "orders-grpc"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("event %s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if e.Status != 200 {
		t.Errorf("event Status = %d, want 200", e.Status)
	}
	if !strings.HasPrefix(e.UserAgent, "grpc-go/") {
		t.Errorf("event UserAgent = %q, want grpc-go's", e.UserAgent)
	}
}

func TestUnaryRevoked(t *testing.T) {
	tr := newTrail(t)
	var set revocation.Set
	if err := set.Add(audit.Event{ID: "r", Time: time.Now(), Kind: audit.KindRevoked, TokenID: "jti-grpc-stolen"}); err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	i := interceptor(t, grpcmw.Options{Recorder: tr.rec, Revocations: &set})
	client := server(t, []grpc.UnaryServerInterceptor{i.Unary, authUnary, counting(&reached)}, nil)

	var trailer metadata.MD
	_, err := client.Check(withToken(t, sign(t, signingKey, "jti-grpc-stolen", "alice")), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))

	st := status.Convert(err)
	if st.Code() != codes.Unauthenticated || st.Message() != "The access token has been revoked" {
		t.Fatalf("Check() = %v, want Unauthenticated: The access token has been revoked", err)
	}
	want := `Bearer error="invalid_token", error_description="The access token has been revoked"`
	if got := trailer.Get("www-authenticate"); len(got) != 1 || got[0] != want {
		t.Errorf("www-authenticate trailer = %q, want %q", got, want)
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("handler reached %d times, want 0", n)
	}
	e := tr.one(t, store.Query{TokenID: "jti-grpc-stolen"})
	if e.Kind != audit.KindRejected || e.RejectReason != audit.RejectRevoked || e.Status != 401 {
		t.Errorf("event = %v %q %d, want rejected revoked 401", e.Kind, e.RejectReason, e.Status)
	}
}

func TestUnaryAppRejection(t *testing.T) {
	tr := newTrail(t)
	i := interceptor(t, grpcmw.Options{Recorder: tr.rec})
	client := server(t, []grpc.UnaryServerInterceptor{i.Unary, authUnary}, nil)

	_, err := client.Check(withToken(t, sign(t, otherKey, "jti-grpc-forged", "alice")), &healthpb.HealthCheckRequest{})

	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Check() = %v, want Unauthenticated", err)
	}
	e := tr.one(t, store.Query{TokenID: "jti-grpc-forged"})
	if e.Kind != audit.KindRejected || e.RejectReason != audit.RejectBadSignature || e.Status != 401 {
		t.Errorf("event = %v %q %d, want rejected bad_signature 401", e.Kind, e.RejectReason, e.Status)
	}
}

func TestForwardedForFromTrustedProxyOnly(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"untrusted peer", nil, "127.0.0.1"},
		{"trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9"},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTrail(t)
			i := interceptor(t, grpcmw.Options{Recorder: tr.rec, TrustedProxies: tt.trusted})
			client := server(t, []grpc.UnaryServerInterceptor{i.Unary, authUnary}, nil)
			jti := "jti-grpc-xff-" + string(rune('a'+n))

			_, err := client.Check(withToken(t, sign(t, signingKey, jti, "alice"), "x-forwarded-for", "198.51.100.1, 203.0.113.9"), &healthpb.HealthCheckRequest{})

			if err != nil {
				t.Fatal(err)
			}
			if e := tr.one(t, store.Query{TokenID: jti}); e.IP.String() != tt.want {
				t.Errorf("event IP = %s, want %s", e.IP, tt.want)
			}
		})
	}
}

func TestFailClosedUnavailable(t *testing.T) {
	tr := newTrail(t)
	i := interceptor(t, grpcmw.Options{Recorder: tr.rec, FailClosed: true, RetryAfter: 1500 * time.Millisecond})
	client := server(t, []grpc.UnaryServerInterceptor{i.Unary, authUnary}, nil)
	token := sign(t, signingKey, "jti-grpc-closed", "alice")
	// A closed recorder refuses every event, as a saturated one does.
	if err := tr.rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	if _, err := client.Check(withToken(t, token), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("first Check() = %v, want nil: the refusal is known only after the call", err)
	}
	var trailer metadata.MD
	_, err := client.Check(withToken(t, token), &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))

	if status.Code(err) != codes.Unavailable {
		t.Fatalf("second Check() = %v, want Unavailable", err)
	}
	if got := trailer.Get("grpc-retry-pushback-ms"); len(got) != 1 || got[0] != "1500" {
		t.Errorf("grpc-retry-pushback-ms = %q, want 1500", got)
	}
}

func TestStreamRecorded(t *testing.T) {
	tr := newTrail(t)
	var set revocation.Set
	if err := set.Add(audit.Event{ID: "r", Time: time.Now(), Kind: audit.KindRevoked, TokenID: "jti-watch-revoked"}); err != nil {
		t.Fatal(err)
	}
	i := interceptor(t, grpcmw.Options{Recorder: tr.rec, Claims: claimsFromContext, Revocations: &set})
	client := server(t, nil, []grpc.StreamServerInterceptor{authStreamInterceptor, i.Stream})

	// A watch that the client ends after the first message.
	ctx, cancel := context.WithCancel(withToken(t, sign(t, signingKey, "jti-watch", "alice")))
	stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first Recv() = %v", err)
	}
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("Recv() after cancel = %v, want Canceled", err)
	}
	// The server learns of the cancellation asynchronously: wait for the
	// event instead of asserting on a time.
	e := waitForEvent(t, tr, store.Query{TokenID: "jti-watch"})
	if e.Kind != audit.KindUsed || e.Path != "/grpc.health.v1.Health/Watch" {
		t.Errorf("event = %v %q, want used /grpc.health.v1.Health/Watch", e.Kind, e.Path)
	}

	// A revoked token fails the stream.
	stream, err = client.Watch(withToken(t, sign(t, signingKey, "jti-watch-revoked", "alice")), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Recv() with a revoked token = %v, want Unauthenticated", err)
	}
	if e := tr.one(t, store.Query{TokenID: "jti-watch-revoked"}); e.RejectReason != audit.RejectRevoked {
		t.Errorf("event RejectReason = %q, want revoked", e.RejectReason)
	}
}

// waitForEvent flushes until the event of q is stored, for at most 10
// seconds.
func waitForEvent(t *testing.T, tr *trail, q store.Query) audit.Event {
	t.Helper()
	ctx := context.Background()
	for range 200 {
		if err := tr.rec.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		events, err := tr.store.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) > 0 {
			return events[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no event stored for %+v", q)
	return audit.Event{}
}

func TestNewRejectsMissingRecorder(t *testing.T) {
	if _, err := grpcmw.New(grpcmw.Options{}); err == nil || !strings.Contains(err.Error(), "Recorder") {
		t.Errorf("New(no recorder) = %v, want an error naming Recorder", err)
	}
}

// TestTokenNeverStored sends tokens down every path of the interceptor and
// searches the database files for any part of them.
func TestTokenNeverStored(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trail.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	rec := recorder.New(st, recorder.Options{Logger: slog.New(slog.DiscardHandler)})
	var set revocation.Set
	if err := set.Add(audit.Event{ID: "r", Time: time.Now(), Kind: audit.KindRevoked, TokenID: "jti-secret-revoked"}); err != nil {
		t.Fatal(err)
	}
	i := interceptor(t, grpcmw.Options{Recorder: rec, Revocations: &set})
	client := server(t, []grpc.UnaryServerInterceptor{i.Unary, authUnary}, nil)

	tokens := []string{
		sign(t, signingKey, "jti-secret-used", "alice"),
		sign(t, otherKey, "jti-secret-forged", "alice"),
		sign(t, signingKey, "jti-secret-revoked", "alice"),
		"opaque.grpc-not-a-jwt.value",
	}
	for _, token := range tokens {
		_, _ = client.Check(withToken(t, token), &healthpb.HealthCheckRequest{})
	}
	if err := rec.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(context.Background()); err != nil || n != int64(len(tokens)) {
		t.Fatalf("stored events = %d, %v, want %d, or the test proves nothing", n, err, len(tokens))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	var db []byte
	matches, _ := filepath.Glob(path + "*")
	for _, name := range matches {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	for n, token := range tokens {
		for _, part := range append([]string{token}, strings.Split(token, ".")...) {
			if len(part) >= 12 && bytes.Contains(db, []byte(part)) {
				t.Errorf("token %d: the database contains %q", n, part)
			}
		}
	}
}
