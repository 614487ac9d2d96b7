// Package grpcmw holds gRPC server interceptors that do for gRPC what
// httpmw does for net/http: record every use of a bearer token, record the
// tokens the service rejects, and enforce revocations.
//
// The token comes from the "authorization" metadata ("Bearer <token>"),
// unless Options.Claims finds claims that the service's own authentication
// verified. A revoked token fails the call with codes.Unauthenticated, the
// message "The access token has been revoked" and a "www-authenticate"
// trailer in the form of RFC 6750, before the handler runs. A call that
// the handler fails with codes.Unauthenticated or codes.PermissionDenied
// is recorded as a rejection, with the reason read from the status message
// (see httpmw for the words it recognizes). Every other call is recorded
// as a use. Calls without a bearer token pass through untouched.
//
// A recorded event's Method is "POST", the method of every gRPC call, and
// its Path is the full method name ("/package.Service/Method"). Its Status
// is the HTTP status that google.rpc.Code documents for the call's code,
// such as 200 for OK, 401 for Unauthenticated and 499 for Canceled.
package grpcmw

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/internal/clientip"
	"github.com/tokentrail/tokentrail/internal/tokenuse"
	"github.com/tokentrail/tokentrail/revocation"
)

// Claims is the identity of the token a call presents; see httpmw.Claims,
// which is the same type.
type Claims = tokenuse.Claims

// Recorder queues an event without blocking and reports whether it was
// accepted. *recorder.Recorder satisfies it.
type Recorder interface {
	Record(e audit.Event) bool
}

// ProxyHeader is the forwarding metadata key that trusted proxies write.
type ProxyHeader = clientip.Header

// The forwarding headers, read from the metadata keys "x-forwarded-for"
// and "forwarded".
const (
	XForwardedFor = clientip.XForwardedFor
	Forwarded     = clientip.Forwarded
)

// Options configures the interceptors. Only Recorder is required; the
// fields mean what the fields of httpmw.Options of the same name mean.
type Options struct {
	Recorder Recorder

	// Claims returns the claims that the service's authentication
	// verified and stored in the call's context, and false when it has
	// none. The interceptor must then run after that authentication.
	// When Claims is nil or returns false, the interceptor reads the
	// bearer token of the "authorization" metadata without verifying it.
	Claims func(ctx context.Context) (Claims, bool)

	Revocations      *revocation.Set
	RevocationMaxAge time.Duration
	TrustedProxies   []netip.Prefix
	ProxyHeader      ProxyHeader

	// FailClosed fails calls with codes.Unavailable when the recorder is
	// saturated or Revocations is stale, as httpmw.Options.FailClosed
	// describes. The "grpc-retry-pushback-ms" trailer tells gRPC clients
	// with a retry policy when to retry.
	FailClosed bool
	RetryAfter time.Duration

	Source string
	Logger *slog.Logger
	Clock  func() time.Time // default: the system clock, as httpmw.Options.Clock describes
}

// Interceptor holds a unary and a stream server interceptor that share one
// state, such as the fail-closed switch. It is safe for concurrent use.
type Interceptor struct {
	tracker       *tokenuse.Tracker
	claims        func(context.Context) (Claims, bool)
	forwardingKey string
	pushback      string
}

// New returns the interceptors that opts describe. Install both:
//
//	grpc.NewServer(grpc.ChainUnaryInterceptor(i.Unary), grpc.ChainStreamInterceptor(i.Stream))
//
// It returns an error when opts.Recorder is missing, a trusted proxy prefix
// is invalid or ProxyHeader is unknown.
func New(opts Options) (*Interceptor, error) {
	tracker, err := tokenuse.New(tokenuse.Config{
		Recorder:       opts.Recorder,
		Revocations:    opts.Revocations,
		MaxStaleness:   opts.RevocationMaxAge,
		TrustedProxies: opts.TrustedProxies,
		ProxyHeader:    opts.ProxyHeader,
		FailClosed:     opts.FailClosed,
		RetryAfter:     opts.RetryAfter,
		Source:         opts.Source,
		Logger:         opts.Logger,
		Clock:          opts.Clock,
	}, "grpcmw")
	if err != nil {
		return nil, err
	}
	key := "x-forwarded-for"
	if opts.ProxyHeader == Forwarded {
		key = "forwarded"
	}
	return &Interceptor{
		tracker:       tracker,
		claims:        opts.Claims,
		forwardingKey: key,
		pushback:      strconv.FormatInt(tracker.RetryAfterDuration().Milliseconds(), 10),
	}, nil
}

// Unary is a grpc.UnaryServerInterceptor.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	use, ok := i.begin(ctx, info.FullMethod)
	if !ok {
		return handler(ctx, req)
	}
	// SetTrailer fails only once the call has ended, and the handler has
	// not run yet.
	if err := i.admit(&use, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }); err != nil {
		return nil, err
	}

	resp, err := handler(ctx, req)
	i.finish(&use, err)
	return resp, err
}

// Stream is a grpc.StreamServerInterceptor. The event's time is the start
// of the stream, and its status the code the stream ended with.
func (i *Interceptor) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	use, ok := i.begin(ss.Context(), info.FullMethod)
	if !ok {
		return handler(srv, ss)
	}
	if err := i.admit(&use, ss.SetTrailer); err != nil {
		return err
	}

	err := handler(srv, ss)
	i.finish(&use, err)
	return err
}

// begin finds the call's token and describes the call, and returns false
// when the call presents no token.
func (i *Interceptor) begin(ctx context.Context, fullMethod string) (tokenuse.Use, bool) {
	start := i.tracker.Now()
	md, _ := metadata.FromIncomingContext(ctx)

	c, ok := i.findClaims(ctx, md)
	if !ok {
		return tokenuse.Use{}, false
	}
	use := tokenuse.Use{
		Start:     start,
		Claims:    c,
		IP:        i.clientAddr(ctx, md),
		UserAgent: first(md, "user-agent"),
		Method:    http.MethodPost,
		Path:      fullMethod,
		TraceID:   tokenuse.TraceID(first(md, "traceparent")),
	}
	return use, true
}

func (i *Interceptor) findClaims(ctx context.Context, md metadata.MD) (Claims, bool) {
	token, hasToken := tokenuse.BearerToken(first(md, "authorization"))
	if i.claims != nil {
		if c, ok := i.claims(ctx); ok {
			if hasToken && i.tracker.NeedsFingerprint(&c) {
				c.Fingerprint = audit.Fingerprint(token)
			}
			return c, c.Identified()
		}
	}
	if !hasToken {
		return Claims{}, false
	}
	return i.tracker.ReadToken(token), true
}

// admit applies the revocations and the fail-closed switch, and returns
// the status error that fails the call, or nil. setTrailer sends trailer
// metadata with the error.
func (i *Interceptor) admit(use *tokenuse.Use, setTrailer func(metadata.MD)) error {
	switch decision, _ := i.tracker.Admit(use.Start, &use.Claims); decision {
	case tokenuse.Revoked:
		setTrailer(metadata.Pairs("www-authenticate", tokenuse.RevokedChallenge))
		use.Status = http.StatusUnauthorized
		i.tracker.Record(use, audit.KindRejected, audit.RejectRevoked)
		return status.Error(codes.Unauthenticated, tokenuse.RevokedDescription)
	case tokenuse.Unavailable:
		setTrailer(metadata.Pairs("grpc-retry-pushback-ms", i.pushback))
		return status.Error(codes.Unavailable, "service unavailable: this service rejects bearer tokens while it cannot record their use or check them against revocations; retry later")
	}
	return nil
}

// finish records the call's use or rejection once the handler returned
// err.
func (i *Interceptor) finish(use *tokenuse.Use, err error) {
	st := status.Convert(err)
	use.Status = httpStatus(st.Code())
	switch st.Code() {
	case codes.Unauthenticated, codes.PermissionDenied:
		i.tracker.Record(use, audit.KindRejected, tokenuse.TextReason(st.Message()))
	default:
		i.tracker.Record(use, audit.KindUsed, "")
	}
}

// clientAddr returns the peer's address, or the client's behind trusted
// proxies.
func (i *Interceptor) clientAddr(ctx context.Context, md metadata.MD) netip.Addr {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return netip.Addr{}
	}
	var addr netip.Addr
	if tcp, ok := p.Addr.(*net.TCPAddr); ok {
		addr = tcp.AddrPort().Addr().Unmap()
	} else {
		addr = clientip.PeerAddr(p.Addr.String())
	}
	resolver := i.tracker.Resolver()
	if !resolver.Trusts(addr) {
		return addr
	}
	return resolver.Client(addr, md.Get(i.forwardingKey))
}

func first(md metadata.MD, key string) string {
	if values := md.Get(key); len(values) > 0 {
		return values[0]
	}
	return ""
}

// httpStatus maps a gRPC code to the HTTP status that the documentation of
// google.rpc.Code gives for it.
func httpStatus(code codes.Code) int {
	switch code {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return 499 // "Client Closed Request", as google.rpc.Code documents
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	default: // Unknown, Internal, DataLoss and codes this table does not know
		return http.StatusInternalServerError
	}
}
