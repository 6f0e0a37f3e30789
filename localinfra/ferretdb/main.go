// Command ferretdb is a tiny wrapper around the embeddable FerretDB v1 package
// (github.com/FerretDB/FerretDB/ferretdb) with the SQLite handler.
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
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP listen address (host:port)")
	dir := flag.String("sqlite-dir", "", "directory for SQLite database files (required)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	synchronous := flag.String("sqlite-synchronous", "normal",
		"SQLite's synchronous pragma: normal (with WAL: no fsync per commit; a machine crash may lose the last commits, never corrupts) or full (fsync per commit)")
	serialize := flag.Bool("serialize", true, "run one command at a time (single-document atomicity, see serial.go)")
	flag.Parse()

	if *dir == "" {
		fmt.Fprintln(os.Stderr, "--sqlite-dir is required")
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

	switch *synchronous {
	case "normal", "full", "extra":
	default:
		fmt.Fprintln(os.Stderr, "--sqlite-synchronous must be normal, full or extra")
		os.Exit(2)
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

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
		Listener:  listener,
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(" + *synchronous + ")",
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
