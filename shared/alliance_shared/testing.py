"""Helpers for tests that use the real broker and store: isolated namespaces, waiting, and reading
what landed on a topic. Used by every service's integration and end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from .contracts.envelope import CloudEvent

T = TypeVar("T")


def at(year: int, month: int, day: int, hour: int = 2) -> datetime:
    """A moment by its UTC date and hour, the tests' way of standing on a day: 02:00 UTC is 10:00
    in Shanghai, well inside the working day on either side of any deadline."""
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def running_job(kind: str, key: str, *, owner: str, at: Any, requested_by: str,
                beat_at: Any = None) -> dict[str, Any]:
    """A job document as `alliance_shared.jobs` writes it while `owner` runs it (started `at`, last
    heartbeat `beat_at`, default `at`): another replica's job to join, or a stopped one to adopt."""
    return {"_id": uuid.uuid4().hex, "kind": kind, "key": key, "running_key": f"{kind}:{key}", "state": "running",
            "owner": owner, "heartbeat_at": at if beat_at is None else beat_at, "created_at": at, "started_at": at,
            "requested_by": requested_by, "attempts": 1}


def namespace(label: str = "t") -> str:
    """A fresh prefix for topic and database names, so tests sharing a broker never meet."""
    return f"{label}-{uuid.uuid4().hex[:10]}"


async def wait_for(probe: Callable[[], Awaitable[T | None]], *, timeout_s: float = 20.0, interval_s: float = 0.1,
                   what: str = "condition") -> T:
    """Await `probe()` until it returns something truthy; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


@contextlib.asynccontextmanager
async def serving(app: Any, *, what: str, timeout_s: float = 60.0, **config: Any) -> AsyncIterator[int]:
    """Serve an ASGI `app` with uvicorn on a free 127.0.0.1 port for the block (benches and UI
    tests that drive a service in-process over real HTTP); yields the port. `config` goes to
    `uvicorn.Config` (e.g. `lifespan="off"`)."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config.setdefault("log_level", "warning")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **config))
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():  # failed to start: its error, not a timeout
            task.result()
        return bool(server.started)

    try:
        await wait_for(started, timeout_s=timeout_s, what=what)
        yield port
    finally:
        server.should_exit = True
        await task


class TopicReader:
    """Reads a topic from the beginning and keeps every decoded message, for assertions."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.topic = topic
        self.records: list[Any] = []
        self._consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap_servers, group_id=None,
                                          auto_offset_reset="earliest", enable_auto_commit=False)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._consumer.stop()

    async def _pump(self) -> None:
        async for record in self._consumer:
            self.records.append(record)

    def events(self) -> list[CloudEvent]:
        """The records that decode as CloudEvents, in arrival order."""
        out = []
        for record in self.records:
            try:
                out.append(CloudEvent.from_kafka(record.headers, record.value))
            except ValueError:
                continue
        return out

    async def wait_for_events(self, count: int, *, timeout_s: float = 20.0,
                              where: Callable[[CloudEvent], bool] = lambda e: True) -> list[CloudEvent]:
        async def enough() -> list[CloudEvent] | None:
            matching = [e for e in self.events() if where(e)]
            return matching if len(matching) >= count else None

        return await wait_for(enough, timeout_s=timeout_s, what=f"{count} events on {self.topic}")


class OutageProxy:
    """A TCP forwarder to `host:port` that a test takes down and brings back on the same port:
    what a client sees when the server behind it restarts (connections reset, then refused)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._links |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.transport.abort()
                self._links.discard(dst)

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
