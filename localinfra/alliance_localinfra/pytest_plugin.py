"""pytest plugin (entry point ``pytest11``): markers and a lazy, session-scoped ``infra``.

The ``infra`` fixture starts Kafka and FerretDB on first use (or reuses
``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URI`` from the environment) and puts both variables
into ``os.environ`` for the rest of the session, so code that builds its Settings from the
environment finds them. Everything is stopped at the end of the session.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from . import ENV_KAFKA, ENV_MONGODB, Infra, local_infra

MARKERS = {
    "unit": "fast, isolated test; no external services",
    "integration": "needs real infrastructure (Kafka / FerretDB via the `infra` fixture)",
    "e2e": "end-to-end test across services",
    "slow": "takes a while; deselect with -m 'not slow'",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, help_text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {help_text}")


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    """Real Kafka + MongoDB-compatible store for the whole session, started lazily."""
    saved = {k: os.environ.get(k) for k in (ENV_KAFKA, ENV_MONGODB)}
    # pytest records a SystemExit raised inside a test as a failure and carries on, so make
    # SIGTERM act like Ctrl-C instead: the session stops and this fixture's teardown runs.
    # (local_infra() only replaces *default* handlers, so it leaves this one in place.)
    old_term = None
    if threading.current_thread() is threading.main_thread():
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            old_term = signal.signal(signal.SIGTERM, _sigterm_as_keyboard_interrupt)
    try:
        yield from _run(saved)
    finally:
        if old_term is not None and signal.getsignal(signal.SIGTERM) is _sigterm_as_keyboard_interrupt:
            signal.signal(signal.SIGTERM, old_term)


def _sigterm_as_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run(saved: dict[str, str | None]) -> Iterator[Infra]:
    with local_infra() as started:
        os.environ[ENV_KAFKA] = started.kafka_bootstrap_servers
        os.environ[ENV_MONGODB] = started.mongodb_uri
        try:
            yield started
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
