"""A minimal, stdlib-only Kafka protocol client: just enough for readiness checks and for
creating/deleting topics and granting ACLs (ApiVersions v0, Metadata v1, CreateTopics v2-v4,
DeleteTopics v1-v3, CreateAcls v1, DescribeAcls v1, all non-flexible encodings, which Kafka 4.x still serves)."""

from __future__ import annotations

import itertools
import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

API_METADATA = 3
API_VERSIONS = 18
API_CREATE_TOPICS = 19
API_DELETE_TOPICS = 20
API_DESCRIBE_ACLS = 29
API_CREATE_ACLS = 30

# the protocol's enums for CreateAcls (org.apache.kafka.common.resource / .acl)
RESOURCE_TYPES = {"topic": 2, "group": 3, "cluster": 4, "transactionalId": 5}
PATTERN_TYPES = {"literal": 3, "prefix": 4}
OPERATIONS = {"All": 2, "Read": 3, "Write": 4, "Create": 5, "Delete": 6, "Alter": 7, "Describe": 8,
              "ClusterAction": 9, "DescribeConfigs": 10, "AlterConfigs": 11, "IdempotentWrite": 12}
PERMISSIONS = {"deny": 2, "allow": 3}

ERR_NONE = 0
ERR_UNKNOWN_TOPIC_OR_PARTITION = 3
ERR_LEADER_NOT_AVAILABLE = 5
ERR_REQUEST_TIMED_OUT = 7
ERR_TOPIC_ALREADY_EXISTS = 36
ERR_INVALID_REPLICATION_FACTOR = 38  # also: "only 0 broker(s) are registered" while starting
ERR_NOT_CONTROLLER = 41
_RETRIABLE_CREATE = {ERR_REQUEST_TIMED_OUT, ERR_INVALID_REPLICATION_FACTOR, ERR_NOT_CONTROLLER, 51}

CLIENT_ID = "alliance-localinfra"


class KafkaWireError(Exception):
    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def _s(value: str) -> bytes:
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, fmt: str) -> int:
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(v)

    def i8(self) -> int:
        return self._take(">b")

    def i16(self) -> int:
        return self._take(">h")

    def i32(self) -> int:
        return self._take(">i")

    def string(self) -> str | None:
        n = self.i16()
        if n < 0:
            return None
        v = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return v


def parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    out = []
    for item in bootstrap.split(","):
        item = item.strip()
        if not item:
            continue
        if "://" in item:
            item = item.split("://", 1)[1]
        host, _, port = item.rpartition(":")
        out.append((host.strip("[]") or "127.0.0.1", int(port)))
    if not out:
        raise ValueError(f"empty bootstrap servers: {bootstrap!r}")
    return out


class KafkaConnection:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._ids = itertools.count(1)
        self._versions: dict[int, tuple[int, int]] | None = None

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> KafkaConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by broker")
            buf += chunk
        return bytes(buf)

    def request(self, api_key: int, version: int, body: bytes) -> _Reader:
        corr = next(self._ids)
        msg = struct.pack(">hhi", api_key, version, corr) + _s(CLIENT_ID) + body
        self.sock.sendall(struct.pack(">i", len(msg)) + msg)
        (size,) = struct.unpack(">i", self._recv_exact(4))
        r = _Reader(self._recv_exact(size))
        if r.i32() != corr:
            raise KafkaWireError("correlation id mismatch")
        return r

    def api_versions(self) -> dict[int, tuple[int, int]]:
        if self._versions is None:
            r = self.request(API_VERSIONS, 0, b"")
            err = r.i16()
            if err:
                raise KafkaWireError(f"ApiVersions error {err}", err)
            versions = {}
            for _ in range(r.i32()):
                key, lo, hi = r.i16(), r.i16(), r.i16()
                versions[key] = (lo, hi)
            self._versions = versions
        return self._versions

    def _pick(self, api_key: int, lo: int, hi: int) -> int:
        have = self.api_versions().get(api_key)
        if have is None or have[1] < lo or have[0] > hi:
            raise KafkaWireError(f"broker supports api {api_key} versions {have}, need {lo}..{hi}")
        return min(hi, have[1])

    def metadata(self, topics: Sequence[str] | None) -> dict[str, dict[int, int]]:
        """Topic -> {partition: leader id}; missing/erroring topics are omitted."""
        self._pick(API_METADATA, 1, 1)
        if topics is None:
            body = struct.pack(">i", -1)
        else:
            body = struct.pack(">i", len(topics)) + b"".join(_s(t) for t in topics)
        r = self.request(API_METADATA, 1, body)
        for _ in range(r.i32()):  # brokers
            r.i32(), r.string(), r.i32(), r.string()
        r.i32()  # controller id
        out: dict[str, dict[int, int]] = {}
        for _ in range(r.i32()):
            terr, name, _internal = r.i16(), r.string(), r.i8()
            parts: dict[int, int] = {}
            for _ in range(r.i32()):
                _perr, idx, leader = r.i16(), r.i32(), r.i32()
                for _ in range(r.i32()):
                    r.i32()
                for _ in range(r.i32()):
                    r.i32()
                parts[idx] = leader
            if terr == ERR_NONE and name is not None:
                out[name] = parts
        return out

    def create_topics(
        self,
        names: Iterable[str],
        partitions: int,
        replication_factor: int = 1,
        configs: dict[str, str] | None = None,
        timeout_ms: int = 30000,
    ) -> dict[str, tuple[int, str | None]]:
        version = self._pick(API_CREATE_TOPICS, 2, 4)
        names = list(names)
        cfg = configs or {}
        body = struct.pack(">i", len(names))
        for n in names:
            body += _s(n) + struct.pack(">ihi", partitions, replication_factor, 0)
            body += struct.pack(">i", len(cfg)) + b"".join(_s(k) + _s(v) for k, v in cfg.items())
        body += struct.pack(">ib", timeout_ms, 0)
        r = self.request(API_CREATE_TOPICS, version, body)
        r.i32()  # throttle
        out = {}
        for _ in range(r.i32()):
            name, err, msg = r.string(), r.i16(), r.string()
            out[name or ""] = (err, msg)
        return out

    def delete_topics(self, names: Iterable[str], timeout_ms: int = 30000) -> dict[str, int]:
        version = self._pick(API_DELETE_TOPICS, 1, 3)
        names = list(names)
        body = struct.pack(">i", len(names)) + b"".join(_s(n) for n in names) + struct.pack(">i", timeout_ms)
        r = self.request(API_DELETE_TOPICS, version, body)
        r.i32()  # throttle
        return {(r.string() or ""): r.i16() for _ in range(r.i32())}

    def create_acls(self, bindings: Sequence[AclBinding]) -> list[tuple[int, str | None]]:
        """(error code, message) per binding, in order."""
        self._pick(API_CREATE_ACLS, 1, 1)
        body = struct.pack(">i", len(bindings))
        for b in bindings:
            body += struct.pack(">b", RESOURCE_TYPES[b.resource_type]) + _s(b.resource_name)
            body += struct.pack(">b", PATTERN_TYPES[b.pattern_type]) + _s(b.principal) + _s(b.host)
            body += struct.pack(">bb", OPERATIONS[b.operation], PERMISSIONS[b.permission])
        r = self.request(API_CREATE_ACLS, 1, body)
        r.i32()  # throttle
        return [(r.i16(), r.string()) for _ in range(r.i32())]

    def count_acls(self) -> int:
        """How many ACLs the broker's authorizer holds (DescribeAcls, every filter "any")."""
        self._pick(API_DESCRIBE_ACLS, 1, 1)
        any_ = 1
        body = struct.pack(">bh", any_, -1) + struct.pack(">bhh", any_, -1, -1) + struct.pack(">bb", any_, any_)
        r = self.request(API_DESCRIBE_ACLS, 1, body)
        r.i32()  # throttle
        err, msg = r.i16(), r.string()
        if err:
            raise KafkaWireError(f"DescribeAcls error {err}: {msg}", err)
        total = 0
        for _ in range(r.i32()):
            r.i8(), r.string(), r.i8()
            n = r.i32()
            for _ in range(n):
                r.string(), r.string(), r.i8(), r.i8()
            total += n
        return total


@dataclass(frozen=True)
class AclBinding:
    """One ACL: `principal` (``User:<name>``) may (or may not) do `operation` on a resource, named
    literally or by prefix, the way Strimzi's `simple` authorization names them."""

    principal: str
    resource_type: str  # a key of RESOURCE_TYPES
    resource_name: str
    operation: str  # a key of OPERATIONS
    pattern_type: str = "literal"
    permission: str = "allow"
    host: str = "*"


def create_acls(bootstrap: str, bindings: Sequence[AclBinding], timeout: float = 10.0) -> None:
    """Grant `bindings` (the connection's principal must be allowed to: a super user) and wait until
    the broker's authorizer holds them: the answer comes once they are in the metadata log, and the
    broker applies that a moment later (a client right after it was refused)."""
    deadline = time.monotonic() + timeout
    with connect(bootstrap, timeout) as conn:
        before = conn.count_acls()
        results = conn.create_acls(bindings)
        bad = [(b, code, msg) for b, (code, msg) in zip(bindings, results, strict=True) if code != ERR_NONE]
        if bad:
            raise KafkaWireError(f"creating ACLs failed: {bad}", bad[0][1])
        while conn.count_acls() < before + len(set(bindings)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the broker did not apply {len(bindings)} ACLs in {timeout}s")
            time.sleep(0.05)


def connect(bootstrap: str, timeout: float = 5.0) -> KafkaConnection:
    last: Exception | None = None
    for host, port in parse_bootstrap(bootstrap):
        try:
            return KafkaConnection(host, port, timeout)
        except OSError as exc:
            last = exc
    raise ConnectionError(f"cannot connect to any of {bootstrap}: {last}")


def create_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 3,
    *,
    replication_factor: int = 1,
    configs: dict[str, str] | None = None,
    timeout: float = 30.0,
    wait_for_leaders: bool = True,
) -> None:
    """Create topics (idempotent: existing topics are fine), retrying while the cluster is
    still starting, and by default wait until every partition has a leader."""
    pending = list(dict.fromkeys(names))
    if not pending:
        return
    all_names = list(pending)
    deadline = time.monotonic() + timeout
    last_err = ""
    while True:
        try:
            with connect(bootstrap) as conn:
                while pending:
                    result = conn.create_topics(pending, partitions, replication_factor, configs)
                    retry = []
                    for name in pending:
                        err, msg = result.get(name, (-1, "no result"))
                        if err in (ERR_NONE, ERR_TOPIC_ALREADY_EXISTS):
                            continue
                        if err in _RETRIABLE_CREATE:
                            retry.append(name)
                            last_err = f"{name}: error {err} {msg or ''}"
                            continue
                        raise KafkaWireError(f"creating topic {name!r} failed: error {err} {msg or ''}", err)
                    pending = retry
                    if pending:
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"topics not created in {timeout}s: {last_err}")
                        time.sleep(0.2)
                if wait_for_leaders:
                    while True:
                        md = conn.metadata(all_names)
                        if all(
                            md.get(n) and all(leader >= 0 for leader in md[n].values()) for n in all_names
                        ):
                            break
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"topics {all_names} have no leaders after {timeout}s")
                        time.sleep(0.1)
                return
        except (OSError, ConnectionError) as exc:
            last_err = str(exc)
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not created in {timeout}s: {last_err}") from exc
            time.sleep(0.2)


def delete_topics(bootstrap: str, names: Iterable[str], timeout: float = 30.0) -> None:
    names = list(names)
    with connect(bootstrap, timeout) as conn:
        result = conn.delete_topics(names, int(timeout * 1000))
    bad = {n: e for n, e in result.items() if e not in (ERR_NONE, ERR_UNKNOWN_TOPIC_OR_PARTITION)}
    if bad:
        raise KafkaWireError(f"deleting topics failed: {bad}")
