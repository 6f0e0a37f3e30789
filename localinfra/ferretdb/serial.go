package main

// FerretDB v1 executes an update as "query, then write" in two steps, so two concurrent updates of
// one document can both match a condition and an $inc can be lost (measured: 85 of 100 racing
// conditional updates both succeeded, 62 of 100 $inc rounds lost an increment). MongoDB guarantees
// single-document atomicity and the platform relies on it (optimistic versions, outbox pushes,
// counters). This proxy restores it by forwarding one wire-protocol request at a time, across all
// client connections, and holding the lock until its reply has been read.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

const (
	opMsg       = 2013
	moreToCome  = 1 << 1
	headerBytes = 16
	maxMessage  = 48 * 1024 * 1024
)

var global sync.Mutex

func serveSerialized(ctx context.Context, listen, socket string, l *slog.Logger) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		client, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go proxyConn(client, socket, l)
	}
}

func proxyConn(client net.Conn, socket string, l *slog.Logger) {
	defer client.Close()
	var backend net.Conn
	var err error
	for i := 0; i < 100; i++ { // FerretDB may still be creating its socket at start-up
		if backend, err = net.Dial("unix", socket); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		l.Warn("backend unreachable", "err", err)
		return
	}
	defer backend.Close()
	for {
		req, err := readMessage(client)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				l.Debug("client read", "err", err)
			}
			return
		}
		if err := roundTrip(req, client, backend); err != nil {
			l.Debug("round trip", "err", err)
			return
		}
	}
}

func roundTrip(req []byte, client, backend net.Conn) error {
	// Server monitoring (an awaitable or streamed "hello") may wait for seconds or stream forever:
	// it touches no data, so it never takes the lock.
	if !isHandshake(req) {
		global.Lock()
		defer global.Unlock()
	}
	if _, err := backend.Write(req); err != nil {
		return err
	}
	if !expectsReply(req) {
		return nil
	}
	for {
		reply, err := readMessage(backend)
		if err != nil {
			return err
		}
		if _, err := client.Write(reply); err != nil {
			return err
		}
		if expectsReply(reply) { // a reply with moreToCome set (exhaust) is followed by another
			return nil
		}
	}
}

// expectsReply: an OP_MSG with moreToCome set gets no reply (or, as a reply, announces another).
func expectsReply(msg []byte) bool {
	if int32(binary.LittleEndian.Uint32(msg[12:16])) != opMsg || len(msg) < headerBytes+4 {
		return true
	}
	return binary.LittleEndian.Uint32(msg[16:20])&moreToCome == 0
}

// isHandshake: the first key of an OP_MSG body (the command name) is hello or isMaster, or the
// message is a legacy OP_QUERY (only used for the initial handshake).
func isHandshake(msg []byte) bool {
	op := int32(binary.LittleEndian.Uint32(msg[12:16]))
	if op == 2004 {
		return true
	}
	// OP_MSG: header(16) flagBits(4) kind(1) bsonLength(4) elementType(1) name...
	if op != opMsg || len(msg) < 27 || msg[20] != 0 {
		return false
	}
	name := msg[26:]
	if end := indexByte(name, 0); end >= 0 {
		name = name[:end]
	}
	switch string(name) {
	case "hello", "isMaster", "ismaster":
		return true
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i, v := range b {
		if v == c {
			return i
		}
	}
	return -1
}

func readMessage(r io.Reader) ([]byte, error) {
	header := make([]byte, headerBytes)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	size := int(int32(binary.LittleEndian.Uint32(header[0:4])))
	if size < headerBytes || size > maxMessage {
		return nil, fmt.Errorf("bad message length %d", size)
	}
	msg := make([]byte, size)
	copy(msg, header)
	if _, err := io.ReadFull(r, msg[headerBytes:]); err != nil {
		return nil, err
	}
	return msg, nil
}
