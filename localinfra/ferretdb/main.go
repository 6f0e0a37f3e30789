// Command ferretdb is a tiny wrapper around the embeddable FerretDB v1 package
// (github.com/FerretDB/FerretDB/ferretdb) with the PostgreSQL handler.
//
// The upstream cmd/ferretdb binary, when built from the module proxy, panics at
// start-up because build/version/version.txt is not part of the module zip
// (upstream issue #2982). Embedding the package from our own main module skips
// that check, since version info is only read when the main module is FerretDB.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only with --pprof-addr, for diagnosis
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP listen address (host:port)")
	dir := flag.String("run-dir", "", "directory for the private socket between the proxy and FerretDB (required)")
	pgURL := flag.String("postgresql-url", "", "PostgreSQL connection string, e.g. postgres://user@127.0.0.1:5432/ferretdb (required)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	pprofAddr := flag.String("pprof-addr", "", "serve Go's profiler (/debug/pprof/) on this address; empty: off")
	serialize := flag.Bool("serialize", true, "run read-modify-write commands one at a time per collection (single-document atomicity, see serial.go)")
	flag.Parse()

	if *dir == "" || *pgURL == "" {
		fmt.Fprintln(os.Stderr, "--run-dir and --postgresql-url are required")
		os.Exit(2)
	}

	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err = os.MkdirAll(abs, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *pprofAddr != "" {
		l, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		logger.Warn("profiler listening", "addr", "http://"+l.Addr().String()+"/debug/pprof/")
		go func() { _ = http.Serve(l, nil) }()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Telemetry is never started by the embeddable package; New() also
	// disables and locks it explicitly.
	listener := ferretdb.ListenerConfig{TCP: *listen}
	if *serialize {
		// FerretDB listens on a private Unix socket; clients reach it through the serialising proxy.
		socket := filepath.Join(abs, "ferretdb.sock")
		_ = os.Remove(socket)
		listener = ferretdb.ListenerConfig{Unix: socket}
		go func() {
			if err := serveSerialized(ctx, *listen, socket, logger); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}()
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      listener,
		Logger:        logger,
		Handler:       "postgresql",
		PostgreSQLURL: *pgURL,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}

	if err = f.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
