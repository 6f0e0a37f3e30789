package main

// FerretDB v1 executes an update as "query, then write" in two steps, so two concurrent updates of
// one document can both match a condition and an $inc can be lost (measured: 85 of 100 racing
// conditional updates both succeeded, 62 of 100 $inc rounds lost an increment). MongoDB guarantees
// single-document atomicity and the platform relies on it (optimistic versions, outbox pushes,
// counters). This proxy restores it: read-modify-write commands (update, findAndModify, delete) on
// one collection run one at a time; everything else (reads, inserts — atomic in the backend already —,
// index and collection changes, which FerretDB locks itself) passes straight through. A global or
// exclusive lock would let one slow multi-document update stall every client of the store.

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

// collectionLocks serialises read-modify-write commands per "db.collection".
var collectionLocks sync.Map

func lockFor(key string) *sync.Mutex {
	m, _ := collectionLocks.LoadOrStore(key, &sync.Mutex{})
	return m.(*sync.Mutex)
}

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
	if name, collection, db := commandOf(req); readModifyWrite[name] {
		m := lockFor(db + "." + collection)
		m.Lock()
		defer m.Unlock()
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

var readModifyWrite = map[string]bool{"update": true, "findAndModify": true, "findandmodify": true, "delete": true}

// commandOf reads an OP_MSG body (section kind 0): its first key is the command name, a string
// value of it the collection, and "$db" the database. Anything else (legacy OP_QUERY handshakes)
// counts as a free "hello".
func commandOf(msg []byte) (name, collection, db string) {
	op := int32(binary.LittleEndian.Uint32(msg[12:16]))
	if op != opMsg {
		return "hello", "", ""
	}
	if len(msg) < 26 || msg[20] != 0 {
		return "", "", ""
	}
	doc := msg[21:]
	size := int(int32(binary.LittleEndian.Uint32(doc[0:4])))
	if size > len(doc) || size < 5 {
		return "", "", ""
	}
	pos := 4
	first := true
	for pos < size-1 {
		kind := doc[pos]
		pos++
		end := indexByte(doc[pos:size], 0)
		if end < 0 {
			return name, collection, db
		}
		key := string(doc[pos : pos+end])
		pos += end + 1
		value, n, ok := elementValue(kind, doc[pos:size])
		if !ok {
			return name, collection, db
		}
		if first {
			name, collection, first = key, value, false
		} else if key == "$db" {
			db = value
		}
		pos += n
	}
	return name, collection, db
}

// elementValue: the string value (when the element is a string) and the element's length.
func elementValue(kind byte, b []byte) (string, int, bool) {
	fixed := map[byte]int{0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
		0x13: 16, 0x7F: 0, 0xFF: 0}
	if n, ok := fixed[kind]; ok {
		return "", n, n <= len(b)
	}
	if len(b) < 4 {
		return "", 0, false
	}
	l := int(int32(binary.LittleEndian.Uint32(b[0:4])))
	switch kind {
	case 0x02: // string: int32 length (with the trailing NUL), bytes
		if l < 1 || 4+l > len(b) {
			return "", 0, false
		}
		return string(b[4 : 4+l-1]), 4 + l, true
	case 0x03, 0x04: // document, array: int32 total length
		return "", l, l >= 5 && l <= len(b)
	case 0x05: // binary: int32 length, subtype, bytes
		return "", 5 + l, 5+l <= len(b)
	}
	return "", 0, false
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
