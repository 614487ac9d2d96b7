package grpcmw_test

import (
	"context"
	"fmt"
	"net/netip"

	"google.golang.org/grpc"

	"github.com/tokentrail/tokentrail/audit"
	"github.com/tokentrail/tokentrail/grpcmw"
	"github.com/tokentrail/tokentrail/recorder"
	"github.com/tokentrail/tokentrail/store"
)

// discardWriter takes the place of a store such as *sqlite.Store.
type discardWriter struct{}

func (discardWriter) Append(_ context.Context, events []audit.Event) (store.Appended, error) {
	return store.Appended{Inserted: len(events)}, nil
}

func Example() {
	rec := recorder.New(discardWriter{}, recorder.Options{})
	defer func() { _ = rec.Close(context.Background()) }()

	interceptors, err := grpcmw.New(grpcmw.Options{
		Recorder:       rec,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		FailClosed:     true,
		Source:         "orders-grpc",
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Register the services on srv, then srv.Serve(listener).
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(interceptors.Unary),
		grpc.ChainStreamInterceptor(interceptors.Stream),
	)
	defer srv.Stop()
	fmt.Println("services:", len(srv.GetServiceInfo()))
	// Output: services: 0
}
