"""Real local infrastructure for tests and development, without Docker.

* Apache Kafka 4.x: a single KRaft broker+controller from Maven Central jars (needs Java 17+
  and Maven on the first run).
* FerretDB v1 (MongoDB wire protocol) built from the Go module proxy with the project's patches
  (needs Go on the first run), on a private PostgreSQL 15 cluster (Debian's, installed by
  ``scripts/ensure-postgres.sh`` where it is missing).

If ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` are set, those are used and nothing is started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from . import ferretdb as _ferretdb
from . import kafka as _kafka
from . import postgres as _postgres
from ._kafka_wire import create_topics, delete_topics
from ._proc import CancelToken, StartCancelled, install_signal_handlers, restore_signal_handlers

__all__ = ["Infra", "StartCancelled", "create_topics", "delete_topics", "fetch", "local_infra"]

log = logging.getLogger(__name__)

ENV_KAFKA = "KAFKA_BOOTSTRAP_SERVERS"
ENV_MONGODB = "MONGODB_URI"


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    store: Any = None  # the FerretDB this started (None: given by MONGODB_URI), for diagnosis


def fetch(*, kafka: bool = True, store: bool = True) -> dict[str, float]:
    """Only download the Kafka jars and build FerretDB (in parallel); returns seconds taken."""
    jobs: dict[str, Callable[[CancelToken], Any]] = {}
    if kafka:
        jobs["kafka_fetch"] = lambda c: _kafka.fetch(cancel=c)
    if store:
        jobs["ferretdb_build"] = lambda c: _ferretdb.build(cancel=c)
        jobs["postgres_install"] = lambda c: _postgres.ensure_installed(c)
    _, timings = _run_parallel(jobs)
    return timings


def _run_parallel(jobs: dict[str, Callable[[CancelToken], Any]]) -> tuple[dict[str, Any], dict[str, float]]:
    """Run jobs on threads; if one fails or the caller is interrupted, cancel the others
    (their child processes are killed) and stop whatever did come up."""
    cancel = CancelToken()
    results: dict[str, Any] = {}
    errors: dict[str, BaseException] = {}
    timings: dict[str, float] = {}

    def runner(name: str, fn: Callable[[CancelToken], Any]) -> None:
        t0 = time.monotonic()
        try:
            results[name] = fn(cancel)
        except BaseException as exc:
            errors[name] = exc
            cancel.cancel()
        finally:
            timings[name] = time.monotonic() - t0

    threads = [
        threading.Thread(target=runner, args=(n, f), name=f"localinfra-{n}", daemon=True)
        for n, f in jobs.items()
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.1)
    except BaseException:
        cancel.cancel()
        for t in threads:
            t.join(30)
        _stop_all(results.values())
        raise
    if errors:
        _stop_all(results.values())
        real = [e for e in errors.values() if not isinstance(e, StartCancelled)]
        raise (real or list(errors.values()))[0]
    return results, timings


def _stop_all(servers: Any) -> None:
    """Stop servers in parallel (FerretDB may linger ~3 s while clients are connected)."""
    servers = [s for s in servers if hasattr(s, "stop")]
    threads = [threading.Thread(target=s.stop, daemon=True) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


@contextlib.contextmanager
def local_infra(*, kafka: bool = True, store: bool = True) -> Iterator[Infra]:
    """Start (or reuse from env) Kafka and FerretDB and yield their addresses.

    ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` in the environment win: nothing is started
    for them. Otherwise both servers start in parallel on free 127.0.0.1 ports; this returns
    once Kafka can create a topic and FerretDB answers ``ping``. On exit they are stopped
    (SIGTERM, then SIGKILL) and their temporary data is deleted. A disabled service yields "".
    """
    bootstrap = os.environ.get(ENV_KAFKA, "") if kafka else ""
    mongodb_uri = os.environ.get(ENV_MONGODB, "") if store else ""
    jobs: dict[str, Callable[[CancelToken], Any]] = {}
    if kafka and not bootstrap:
        jobs["kafka"] = lambda c: _kafka.start(cancel=c)
    if store and not mongodb_uri:
        jobs["ferretdb"] = lambda c: _ferretdb.start(cancel=c)

    install_signal_handlers()
    try:
        servers: dict[str, Any] = {}
        if jobs:
            servers, timings = _run_parallel(jobs)
            for name, secs in timings.items():
                log.info("%s ready in %.1fs", name, secs)
        try:
            if "kafka" in servers:
                bootstrap = servers["kafka"].bootstrap_servers
            if "ferretdb" in servers:
                mongodb_uri = servers["ferretdb"].mongodb_uri
            yield Infra(kafka_bootstrap_servers=bootstrap, mongodb_uri=mongodb_uri, store=servers.get("ferretdb"))
        finally:
            t0 = time.monotonic()
            _stop_all(servers.values())
            if servers:
                log.info("stopped %s in %.1fs", ", ".join(servers), time.monotonic() - t0)
    finally:
        restore_signal_handlers()
