package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokentrail/tokentrail/transport/natsjs"
)

// natsFlags are serve's flags of the NATS JetStream consumer.
type natsFlags struct {
	url     string
	creds   string
	stream  string
	subject string
	durable string
}

// check rejects NATS flags given without --nats-url, and a URL that
// carries credentials, which the process list and logs would show.
func (f natsFlags) check(changed func(name string) bool) error {
	if f.url == "" {
		for _, name := range []string{"nats-creds", "nats-stream", "nats-subject", "nats-durable"} {
			if changed(name) {
				return fmt.Errorf("--%s needs --nats-url: name the NATS server to consume events from, such as --nats-url nats://127.0.0.1:4222", name)
			}
		}
		return nil
	}
	for _, u := range strings.Split(f.url, ",") {
		parsed, err := url.Parse(strings.TrimSpace(u))
		if err != nil {
			return fmt.Errorf("invalid --nats-url: %v: want a URL such as nats://127.0.0.1:4222", err)
		}
		// NATS reads a user and password, or a token, from the user
		// information of the URL.
		if parsed.User != nil {
			return errors.New("--nats-url carries credentials, which the process list would show: give them with --nats-creds FILE instead")
		}
	}
	if f.stream == "" || f.subject == "" || f.durable == "" {
		return errors.New("--nats-stream, --nats-subject and --nats-durable must not be empty")
	}
	return nil
}

// startNATS connects to --nats-url, creates the stream when it does not
// exist, and starts the consumer that appends to dst. The caller closes
// the consumer, then the connection.
func startNATS(ctx context.Context, f natsFlags, dst natsjs.Appender, log *slog.Logger) (*nats.Conn, *natsjs.Consumer, error) {
	log = log.With(slog.String("component", "nats"))
	opts := []nats.Option{
		nats.Name("tokentrail serve"),
		nats.Timeout(10 * time.Second),
		// A collector outlives restarts of the NATS server.
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn("disconnected from NATS, reconnecting", slog.Any("error", err))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
	}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	nc, err := nats.Connect(f.url, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to --nats-url %s: %w", f.url, err)
	}

	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("open JetStream on --nats-url %s: %w", f.url, err)
	}
	cfg := natsjs.StreamConfig(f.stream, natsjs.DefaultSubjectPrefix)
	cfg.Subjects = []string{f.subject}
	created, err := natsjs.EnsureStream(ctx, js, cfg)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w: check that the server runs JetStream (nats-server -js)", err)
	}
	if created {
		log.Info("created the NATS stream", slog.String("stream", f.stream), slog.String("subject", f.subject),
			slog.String("storage", "file"), slog.Duration("max_age", cfg.MaxAge), slog.Duration("duplicate_window", cfg.Duplicates))
	}

	consumer, err := natsjs.StartConsumer(ctx, nc, dst, natsjs.ConsumerOptions{
		Stream: f.stream, Durable: f.durable, FilterSubject: f.subject, Logger: log,
	})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, consumer, nil
}
