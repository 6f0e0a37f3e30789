"""FerretDB v1 (MongoDB wire protocol on SQLite) built from the Go module proxy.

The stock ``cmd/ferretdb`` built with ``go install ...@v1.24.2`` panics at start-up (upstream
issue #2982: ``build/version/version.txt`` is not in the module zip), so we build our own tiny
``main.go`` (see ``localinfra/ferretdb/``) that embeds ``github.com/FerretDB/FerretDB/ferretdb``,
against the module's source with `PATCHES` applied (the `_id` index was never used).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import _mongo_wire
from ._cache import cache_root, file_lock
from ._proc import CancelToken, ManagedProcess, free_ports, make_data_dir, run, spawn

FERRETDB_VERSION = "v1.24.2"
_SOURCE_FILES = ("main.go", "serial.go", "go.mod", "go.sum")
_MODULE = "github.com/FerretDB/FerretDB"

# One-line fixes applied to the module's source before the build: (file, exact text, replacement).
#
# `_id` lookups: FerretDB 1.24 creates each collection's unique `_id` index on the expression
# `_ferretdb_sjson->"_id"` but filters by `_ferretdb_sjson->'$._id'`. SQLite matches expression
# indexes by their form, so it never used the index: every find, update and delete by `_id` read
# the whole table (a find_one by `_id` took 1 ms for the 10th of 30,000 documents and 243 ms for
# the 29,990th; EXPLAIN QUERY PLAN said SCAN). The same label written as `->'_id'` (same meaning in
# SQLite's JSON operators) is the index's expression: SEARCH USING INDEX.
PATCHES = (
    (
        "internal/backends/sqlite/metadata/metadata.go",
        '''IDColumn = DefaultColumn + "->'$._id'"''',
        '''IDColumn = DefaultColumn + "->'_id'"''',
    ),
)


log = logging.getLogger(__name__)


def source_dir() -> Path:
    """The Go sources: inside the package when installed from a wheel, else the repo's
    ``localinfra/ferretdb`` next to the package (editable installs)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_ferretdb_src", here.parent / "ferretdb"):
        if (candidate / "main.go").exists():
            return candidate
    raise FileNotFoundError("FerretDB wrapper sources (main.go, go.mod, go.sum) not found")


def source_hash(src: Path | None = None) -> str:
    src = src or source_dir()
    h = hashlib.sha256(FERRETDB_VERSION.encode())
    h.update(repr(PATCHES).encode())
    for name in _SOURCE_FILES:
        p = src / name
        h.update(name.encode() + b"\0")
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def ferretdb_home() -> Path:
    """One directory per version and build key (sources and patches), so two checkouts with
    different patches never rebuild over each other's binary."""
    return cache_root() / f"ferretdb-{FERRETDB_VERSION}-{source_hash()}"


def binary_path() -> Path:
    return ferretdb_home() / "ferretdb"


def build(*, cancel: CancelToken | None = None) -> Path:
    """Build the wrapper binary once into ``<cache>/ferretdb-v1.24.2/ferretdb`` (rebuilt only
    when it is missing or main.go/go.mod/go.sum changed)."""
    src = source_dir()
    key = source_hash(src)
    home = ferretdb_home()
    binary = binary_path()
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
        env.setdefault("CGO_ENABLED", "0")  # modernc.org/sqlite is pure Go
        env.setdefault("GOTOOLCHAIN", "local")
        env.setdefault("GOTELEMETRY", "off")
        _patched_module(go, build_dir, env, cancel)
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


def _patched_module(go: str, build_dir: Path, env: dict[str, str], cancel: CancelToken | None) -> None:
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
    for rel, old, new in PATCHES:
        target = patched / rel
        text = target.read_text()
        if text.count(old) != 1:
            raise RuntimeError(f"FerretDB patch no longer applies to {rel}: {old!r}")
        target.write_text(text.replace(old, new))
    with (build_dir / "go.mod").open("a") as mod:
        mod.write(f"\nreplace {_MODULE} => ./FerretDB\n")


@dataclass
class FerretDB:
    mongodb_uri: str
    host: str
    port: int
    process: ManagedProcess
    data_dir: Path

    def stop(self, timeout: float = 10.0) -> None:
        try:
            self.process.stop(timeout)
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class FerretDBStartError(RuntimeError):
    pass


def start(*, ready_timeout: float = 60.0, attempts: int = 3, cancel: CancelToken | None = None) -> FerretDB:
    binary = build(cancel=cancel)
    last: Exception | None = None
    for _ in range(attempts):
        data_dir = make_data_dir("alliance-ferretdb-")
        try:
            return _start_once(binary, data_dir, ready_timeout, cancel)
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


def _start_once(binary: Path, data_dir: Path, ready_timeout: float, cancel: CancelToken | None) -> FerretDB:
    (port,) = free_ports(1)
    host = "127.0.0.1"
    log_file = data_dir / "ferretdb.log"
    with open(log_file, "wb") as out:
        popen = spawn(
            [
                str(binary),
                f"--listen-addr={host}:{port}",
                f"--sqlite-dir={data_dir / 'sqlite'}",
                "--log-level=warn",
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    proc = ManagedProcess("ferretdb", popen, log_file)
    db = FerretDB(f"mongodb://{host}:{port}/", host, port, proc, data_dir)
    deadline = time.monotonic() + ready_timeout
    try:
        if cancel is not None:
            cancel.track(proc)
        while True:
            if cancel is not None:
                cancel.check()
            if not proc.alive():
                raise FerretDBStartError(
                    f"FerretDB exited with {popen.returncode} during start-up:\n{proc.log_tail()}"
                )
            try:
                if _mongo_wire.ping(host, port):
                    return db
            except (OSError, ValueError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise FerretDBStartError(
                    f"FerretDB did not answer ping in {ready_timeout}s:\n{proc.log_tail()}"
                )
            time.sleep(0.05)
    except BaseException:
        proc.stop(5)
        raise
    finally:
        if cancel is not None:
            cancel.untrack(proc)
