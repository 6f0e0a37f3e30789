"""A minimal, stdlib-only MongoDB wire-protocol ``ping`` (OP_MSG) for readiness checks."""

from __future__ import annotations

import socket
import struct

_OP_MSG = 2013


def _cstring(s: str) -> bytes:
    return s.encode() + b"\x00"


def _bson(doc: dict[str, int | str]) -> bytes:
    body = b""
    for key, value in doc.items():
        if isinstance(value, int):
            body += b"\x10" + _cstring(key) + struct.pack("<i", value)
        else:
            raw = value.encode() + b"\x00"
            body += b"\x02" + _cstring(key) + struct.pack("<i", len(raw)) + raw
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _read_ok(doc: bytes) -> float | None:
    """Value of the top-level ``ok`` field of a BSON document (None if absent/unparseable)."""
    pos = 4
    end = struct.unpack_from("<i", doc, 0)[0] - 1
    fixed = {
        0x01: 8,
        0x07: 12,
        0x08: 1,
        0x09: 8,
        0x0A: 0,
        0x10: 4,
        0x11: 8,
        0x12: 8,
        0x13: 16,
        0x7F: 0,
        0xFF: 0,
    }
    while pos < end:
        etype = doc[pos]
        pos += 1
        name_end = doc.index(b"\x00", pos)
        name = doc[pos:name_end].decode(errors="replace")
        pos = name_end + 1
        if name == "ok":
            if etype == 0x01:
                return float(struct.unpack_from("<d", doc, pos)[0])
            if etype == 0x10:
                return float(struct.unpack_from("<i", doc, pos)[0])
            if etype == 0x12:
                return float(struct.unpack_from("<q", doc, pos)[0])
            if etype == 0x08:
                return float(doc[pos])
            return None
        if etype in fixed:
            pos += fixed[etype]
        elif etype in (0x02, 0x0D, 0x0E):  # string, js code, symbol
            pos += 4 + struct.unpack_from("<i", doc, pos)[0]
        elif etype in (0x03, 0x04, 0x0F):  # document, array, code w/ scope
            pos += struct.unpack_from("<i", doc, pos)[0]
        elif etype == 0x05:  # binary
            pos += 5 + struct.unpack_from("<i", doc, pos)[0]
        elif etype == 0x0B:  # regex: two cstrings
            pos = doc.index(b"\x00", doc.index(b"\x00", pos) + 1) + 1
        else:
            return None
    return None


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by server")
        buf += chunk
    return bytes(buf)


def ping(host: str, port: int, timeout: float = 2.0) -> bool:
    """Send ``{ping: 1, $db: "admin"}`` as OP_MSG and return whether ``ok == 1``."""
    payload = struct.pack("<I", 0) + b"\x00" + _bson({"ping": 1, "$db": "admin"})
    header = struct.pack("<iiii", 16 + len(payload), 1, 0, _OP_MSG)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(header + payload)
        (length,) = struct.unpack("<i", _recv_exact(sock, 4))
        rest = _recv_exact(sock, length - 4)
    _req_id, _resp_to, opcode = struct.unpack_from("<iii", rest, 0)
    if opcode != _OP_MSG:
        return False
    pos = 12 + 4  # header rest + flagBits
    if rest[pos] != 0:  # section kind 0 (body) expected first
        return False
    doc_len = struct.unpack_from("<i", rest, pos + 1)[0]
    return _read_ok(rest[pos + 1 : pos + 1 + doc_len]) == 1.0
