"""FerretDB v1 (MongoDB wire protocol) on its PostgreSQL backend, built from the Go module proxy.

The stock ``cmd/ferretdb`` built with ``go install ...@v1.24.2`` panics at start-up (upstream
issue #2982: ``build/version/version.txt`` is not in the module zip), so we build our own tiny
``main.go`` (see ``localinfra/ferretdb/``) that embeds ``github.com/FerretDB/FerretDB/ferretdb``,
against the module's source with the patches in ``localinfra/ferretdb/patches/`` applied (each says
what it fixes and what it measured; ``localinfra/tests/test_store_patches.py`` fails without it).
Its PostgreSQL is a private cluster (`alliance_localinfra.postgres`) started with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import _mongo_wire
from . import postgres as _postgres
from ._cache import cache_root, file_lock
from ._proc import CancelToken, ManagedProcess, await_ready, free_ports, make_data_dir, run, spawn

FERRETDB_VERSION = "v1.24.2"
_SOURCE_FILES = ("main.go", "serial.go", "go.mod", "go.sum")
_MODULE = "github.com/FerretDB/FerretDB"


log = logging.getLogger(__name__)


def source_dir() -> Path:
    """The Go sources: inside the package when installed from a wheel, else the repo's
    ``localinfra/ferretdb`` next to the package (editable installs)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_ferretdb_src", here.parent / "ferretdb"):
        if (candidate / "main.go").exists():
            return candidate
    raise FileNotFoundError("FerretDB wrapper sources (main.go, go.mod, go.sum) not found")


def patches(src: Path | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """The patches applied to FerretDB's source, in order (unified diffs, ``patch -p1``); `only`
    selects some by file name (benchmarks compare builds with and without each)."""
    found = sorted((src or source_dir()).glob("patches/*.patch"))
    return found if only is None else [p for p in found if p.name in only]


def source_hash(src: Path | None = None, only: Sequence[str] | None = None) -> str:
    src = src or source_dir()
    h = hashlib.sha256(FERRETDB_VERSION.encode())
    for path in [src / n for n in _SOURCE_FILES] + patches(src, only):
        h.update(path.name.encode() + b"\0")
        if path.exists():
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def ferretdb_home(only: Sequence[str] | None = None) -> Path:
    """One directory per version and build key (sources and patches), so two checkouts with
    different patches never rebuild over each other's binary."""
    return cache_root() / f"ferretdb-{FERRETDB_VERSION}-{source_hash(only=only)}"


def binary_path(only: Sequence[str] | None = None) -> Path:
    return ferretdb_home(only) / "ferretdb"


def build(*, cancel: CancelToken | None = None, only: Sequence[str] | None = None) -> Path:
    """Build the wrapper binary once into ``<cache>/ferretdb-v1.24.2/ferretdb`` (rebuilt only
    when it is missing or main.go/go.mod/go.sum changed)."""
    src = source_dir()
    key = source_hash(src, only)
    home = ferretdb_home(only)
    binary = binary_path(only)
    key_file = home / "ferretdb.key"

    def fresh() -> bool:
        return binary.exists() and key_file.exists() and key_file.read_text().strip() == key

    if fresh():
        return binary
    with file_lock(home / ".lock"):
        if fresh():
            return binary
        go = shutil.which("go")
        if go is None:
            raise RuntimeError("Go is required to build FerretDB (go build)")
        t0 = time.monotonic()
        log.info(f"building FerretDB {FERRETDB_VERSION} into {binary} (first time: downloads modules) ...")
        build_dir = home / "src"
        shutil.rmtree(build_dir, ignore_errors=True)
        build_dir.mkdir(parents=True)
        for name in _SOURCE_FILES:
            if (src / name).exists():
                shutil.copy2(src / name, build_dir / name)
        env = dict(os.environ)
        env.setdefault("GOFLAGS", "-mod=mod")
        env.setdefault("CGO_ENABLED", "0")
        env.setdefault("GOTOOLCHAIN", "local")
        env.setdefault("GOTELEMETRY", "off")
        _patched_module(go, build_dir, env, cancel, only)
        tmp = home / "ferretdb.partial"
        proc = run(
            [go, "build", "-trimpath", "-buildvcs=false", "-o", str(tmp), "."],
            name="go-build",
            cancel=cancel,
            cwd=build_dir,
            env=env,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"go build failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        key_file.unlink(missing_ok=True)
        os.replace(tmp, binary)
        key_file.write_text(key + "\n")
        log.info(f"built FerretDB in {time.monotonic() - t0:.1f}s")
    return binary


def _patched_module(
    go: str, build_dir: Path, env: dict[str, str], cancel: CancelToken | None, only: Sequence[str] | None
) -> None:
    """Copy the FerretDB module next to the wrapper, apply `PATCHES`, and point go.mod at it."""
    proc = run(
        [go, "mod", "download", "-json", f"{_MODULE}@{FERRETDB_VERSION}"],
        name="go-mod-download",
        cancel=cancel,
        cwd=build_dir,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"go mod download failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    module_dir = Path(json.loads(proc.stdout)["Dir"])
    patched = build_dir / "FerretDB"
    shutil.copytree(module_dir, patched)
    for path in patched.rglob("*"):  # the module cache is read-only
        path.chmod(path.stat().st_mode | 0o200)
    patch_tool = shutil.which("patch")
    if patch_tool is None:
        raise RuntimeError("the 'patch' program is required to build FerretDB (Debian: apt-get install patch)")
    for diff in patches(only=only):
        applied = run(
            [patch_tool, "-p1", "--forward", "--batch", "-i", str(diff)], name="patch", cancel=cancel, cwd=patched
        )
        if applied.returncode != 0:
            raise RuntimeError(f"FerretDB patch {diff.name} no longer applies:\n{applied.stdout[-2000:]}")
    with (build_dir / "go.mod").open("a") as mod:
        mod.write(f"\nreplace {_MODULE} => ./FerretDB\n")


@dataclass
class FerretDB:
    """The embedded store: FerretDB (behind its write-serialising proxy) and its PostgreSQL."""

    mongodb_uri: str
    host: str
    port: int
    process: ManagedProcess
    data_dir: Path
    postgres: _postgres.Postgres
    timings: dict[str, float] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        t0 = time.monotonic()
        try:
            self.process.stop(timeout)
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.timings["ferretdb_stop"] = time.monotonic() - t0
            self.postgres.stop()
            self.timings.update(self.postgres.timings)
            log.info(f"store stopped: FerretDB {self.timings['ferretdb_stop']:.1f}s, "
                     f"PostgreSQL {self.timings['postgres_stop']:.1f}s")


class FerretDBStartError(RuntimeError):
    pass


def start(
    *, ready_timeout: float = 60.0, attempts: int = 3, cancel: CancelToken | None = None, binary: Path | None = None
) -> FerretDB:
    """Build FerretDB if needed, start a private PostgreSQL, then FerretDB on a free port."""
    t0 = time.monotonic()
    binary = binary or build(cancel=cancel)
    built = time.monotonic() - t0
    pg = _postgres.start(ready_timeout=ready_timeout, cancel=cancel)
    try:
        last: Exception | None = None
        for _ in range(attempts):
            data_dir = make_data_dir("alliance-ferretdb-")
            try:
                t1 = time.monotonic()
                db = _start_once(binary, data_dir, pg, ready_timeout, cancel)
                db.timings.update(pg.timings, ferretdb_build=built, ferretdb_start=time.monotonic() - t1)
                log.info(
                    "store up: PostgreSQL initdb {postgres_initdb:.1f}s + start {postgres_start:.1f}s, "
                    "FerretDB start {ferretdb_start:.1f}s".format(**db.timings)
                )
                return db
            except FerretDBStartError as exc:
                shutil.rmtree(data_dir, ignore_errors=True)
                last = exc
                if "address already in use" not in str(exc):
                    raise
                log.info("FerretDB port was taken in the meantime; retrying on a new port")
            except BaseException:
                shutil.rmtree(data_dir, ignore_errors=True)
                raise
        raise FerretDBStartError(f"FerretDB did not start after {attempts} attempts: {last}")
    except BaseException:
        pg.stop()
        raise


# The Go runtime's settings for the store's process (the environment's own values win). A relay-like
# clear of 15,000 members (find the pending, update_many of 200), same machine, FerretDB CPU per
# member: GOGC=200 327–370 µs, GOGC=800 211–232 µs; inserts 98–116 → 67–93 µs.
GO_RUNTIME = {"GOGC": "800", "GOMEMLIMIT": "1GiB"}


def _start_once(
    binary: Path, data_dir: Path, pg: _postgres.Postgres, ready_timeout: float, cancel: CancelToken | None
) -> FerretDB:
    (port,) = free_ports(1)
    host = "127.0.0.1"
    log_file = data_dir / "ferretdb.log"
    env = dict(os.environ)
    # Fewer collections of FerretDB's short-lived per-document garbage (every document it reads is
    # decoded into fresh objects): it holds little live data, so the heap may grow to 9× that before
    # a collection, and GOMEMLIMIT collects sooner should it ever near 1 GiB.
    for key, value in GO_RUNTIME.items():
        env.setdefault(key, value)
    with open(log_file, "wb") as out:
        popen = spawn(
            [
                str(binary),
                f"--listen-addr={host}:{port}",
                f"--run-dir={data_dir}",
                f"--postgresql-url={pg.url}",
                # debug logs every request (filters included) to ferretdb.log: slow, for diagnosis only
                f"--log-level={os.environ.get('ALLIANCE_STORE_LOG_LEVEL', 'warn')}",
                # ALLIANCE_STORE_PPROF=1: Go's profiler on a free port, its address in ferretdb.log
                *(["--pprof-addr=127.0.0.1:0"] if os.environ.get("ALLIANCE_STORE_PPROF") else []),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    proc = ManagedProcess("ferretdb", popen, log_file)
    db = FerretDB(f"mongodb://{host}:{port}/", host, port, proc, data_dir, pg)
    await_ready(proc, lambda: _answers(host, port), timeout=ready_timeout, cancel=cancel,
                error=FerretDBStartError, what="answer ping")
    return db


def _answers(host: str, port: int) -> bool:
    try:
        return bool(_mongo_wire.ping(host, port))
    except (OSError, ValueError, IndexError):
        return False
