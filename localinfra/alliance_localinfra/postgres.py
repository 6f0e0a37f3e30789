"""A private PostgreSQL cluster on 127.0.0.1 for the embedded store (FerretDB's backend).

Debian's PostgreSQL 15 (`/usr/lib/postgresql/15/bin`, not on PATH); `scripts/ensure-postgres.sh`
installs it where it is missing. `initdb` and `postgres` refuse to run as root, so under root (CI)
both run as the `postgres` user. Each start gets a fresh cluster in a temporary directory, on a free
port, listening on 127.0.0.1 and a private socket directory only, trusting local connections (nothing
else can reach it), and is removed at stop.

Durability is `ALLIANCE_STORE_DURABILITY`: `relaxed` (the default) runs with
`synchronous_commit=off`: a crash of PostgreSQL or the machine may lose the commits of the last
~0.6 s (3 × `wal_writer_delay`), and never corrupts anything (`fsync` and full-page writes stay on).
`full` waits for every commit's WAL flush, as a production PostgreSQL would.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._proc import CancelToken, ManagedProcess, await_ready, free_ports, make_data_dir, run, spawn

log = logging.getLogger(__name__)

PG_MAJOR = "15"
ENV_BIN = "ALLIANCE_PG_BIN"
ENV_DURABILITY = "ALLIANCE_STORE_DURABILITY"
# ALLIANCE_STORE_STATS=1: the cluster loads pg_stat_statements, and `Postgres.statements()` says
# which statements the store spent its time on (for diagnosis: bench/city.py prints them)
ENV_STATS = "ALLIANCE_STORE_STATS"
# extra server settings, `name=value` separated by spaces (an experiment: `default_toast_compression=pglz`)
ENV_SETTINGS = "ALLIANCE_PG_SETTINGS"
DURABILITY = {"relaxed": "off", "full": "on"}
DATABASE = "postgres"
SUPERUSER = "postgres"
_READY = "database system is ready to accept connections"


class PostgresStartError(RuntimeError):
    pass


def ensure_script() -> Path:
    """`ensure-postgres.sh`: inside the package when installed from a wheel, else the repo's copy."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_scripts", here.parent / "scripts"):
        if (candidate / "ensure-postgres.sh").exists():
            return candidate / "ensure-postgres.sh"
    raise FileNotFoundError("ensure-postgres.sh not found")


def ensure_installed(cancel: CancelToken | None = None) -> Path:
    """PostgreSQL's binaries, installed by the project's script where they are missing."""
    try:
        return bin_dir()
    except PostgresStartError:
        log.info("PostgreSQL not found: installing it with ensure-postgres.sh ...")
    proc = run(["bash", str(ensure_script())], name="ensure-postgres", cancel=cancel)
    if proc.returncode != 0:
        raise PostgresStartError(f"ensure-postgres.sh failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return bin_dir()


def bin_dir() -> Path:
    """Where `initdb` and `postgres` are: `$ALLIANCE_PG_BIN`, Debian's versioned directory, or PATH."""
    explicit = os.environ.get(ENV_BIN)
    candidates = [Path(explicit)] if explicit else []
    candidates.append(Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).parent)
    for d in candidates:
        if (d / "postgres").exists() and (d / "initdb").exists():
            return d
    raise PostgresStartError(
        f"PostgreSQL {PG_MAJOR} not found (looked in {', '.join(map(str, candidates))}); "
        "run scripts/ensure-postgres.sh (Debian: apt-get install postgresql-15) or set ALLIANCE_PG_BIN"
    )


def durability() -> str:
    value = os.environ.get(ENV_DURABILITY, "relaxed")
    if value not in DURABILITY:
        raise PostgresStartError(f"{ENV_DURABILITY} must be one of {', '.join(DURABILITY)}, not {value!r}")
    return value


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs as: `postgres` under root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise PostgresStartError(
            "PostgreSQL will not run as root and there is no 'postgres' user: run scripts/ensure-postgres.sh"
        ) from exc


@dataclass
class Postgres:
    host: str
    port: int
    process: ManagedProcess
    data_dir: Path
    timings: dict[str, float] = field(default_factory=dict)
    # how to run a client program as the server's account (psql, for `statements`)
    binaries: Path | None = None
    as_user: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"postgres://{SUPERUSER}@{self.host}:{self.port}/{DATABASE}"

    def psql(self, sql: str) -> str:
        """`sql` run by psql as the superuser; its unaligned, tab-separated output."""
        assert self.binaries is not None
        proc = run(
            [str(self.binaries / "psql"), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", DATABASE,
             "-XAtq", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            name="psql", env=self.env, **self.as_user,
        )
        if proc.returncode != 0:
            raise PostgresStartError(f"psql failed ({proc.returncode}): {proc.stderr[-1000:]}")
        return proc.stdout

    def statements(self, limit: int = 12) -> list[dict[str, Any]]:
        """The statements the server spent most time executing (pg_stat_statements, loaded only
        with ALLIANCE_STORE_STATS=1; else []): calls, total and mean ms, rows, the query's text."""
        if not os.environ.get(ENV_STATS):
            return []
        out = self.psql(
            "SELECT calls, round(total_exec_time), round(mean_exec_time::numeric, 2), rows,"
            " regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements"
            f" ORDER BY total_exec_time DESC LIMIT {int(limit)}"
        )
        rows = []
        for line in out.splitlines():
            calls, total, mean, n, query = line.split("\t", 4)
            rows.append({"calls": int(calls), "total_ms": float(total), "mean_ms": float(mean), "rows": int(n),
                         "query": query})
        return rows

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: sessions are ended, the WAL is flushed), then the cluster is deleted."""
        t0 = time.monotonic()
        try:
            self.process.stop(timeout)
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.timings["postgres_stop"] = time.monotonic() - t0
            log.debug(f"PostgreSQL stopped in {self.timings['postgres_stop']:.2f}s")


def start(*, ready_timeout: float = 60.0, cancel: CancelToken | None = None) -> Postgres:
    """A fresh cluster, initialised and started; returns once it accepts connections."""
    binaries = ensure_installed(cancel)
    mode = durability()
    account = _run_as()
    data_dir = make_data_dir("alliance-postgres-")
    try:
        return _start(binaries, data_dir, account, mode, ready_timeout, cancel)
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise


def _start(
    binaries: Path,
    data_dir: Path,
    account: pwd.struct_passwd | None,
    mode: str,
    ready_timeout: float,
    cancel: CancelToken | None,
) -> Postgres:
    cluster = data_dir / "cluster"
    as_user: dict[str, Any] = {}
    if account is not None:
        os.chown(data_dir, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    if account is not None:
        env["HOME"] = account.pw_dir

    t0 = time.monotonic()
    proc = run(
        [str(binaries / "initdb"), "-D", str(cluster), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
         "--locale=C.UTF-8", "--no-sync"],
        name="initdb", cancel=cancel, env=env, **as_user,
    )
    if proc.returncode != 0:
        raise PostgresStartError(f"initdb failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    timings = {"postgres_initdb": time.monotonic() - t0}

    t1 = time.monotonic()
    (port,) = free_ports(1)
    host = "127.0.0.1"
    log_file = data_dir / "postgres.log"
    settings = {
        "listen_addresses": host,
        "port": str(port),
        "unix_socket_directories": str(data_dir),
        "synchronous_commit": DURABILITY[mode],
        "shared_buffers": "256MB",
        "max_connections": "200",
        "max_wal_size": "2GB",
        "jit": "off",
        # FerretDB sends every key as a parameter (`_jsonb->$1 @> $2`), and a generic plan cannot
        # match a parameter to an index's expression: a statement PostgreSQL switched to its generic
        # plan (decided on small tables, kept as they grew) scanned the table. Activity's learning
        # check ran 43 ms with its own plan and up to 125 s on the generic one, during the demo.
        "plan_cache_mode": "force_custom_plan",
        "log_min_messages": "warning",
        "log_checkpoints": "off",
        # documents over ~2 kB (a stored submission is ~3.4 kB of jsonb) are compressed: LZ4 instead
        # of the default pglz. 20,000 submissions, same run: insert 1.75–2.6 s → 0.86–1.77 s.
        "default_toast_compression": "lz4",
    }
    settings |= dict(item.split("=", 1) for item in os.environ.get(ENV_SETTINGS, "").split() if "=" in item)
    if os.environ.get(ENV_STATS):
        settings |= {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track": "all"}
    args = [str(binaries / "postgres"), "-D", str(cluster)]
    for key, value in settings.items():
        args += ["-c", f"{key}={value}"]
    with open(log_file, "wb") as out:
        popen = spawn(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, **as_user)
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) would wait for every client to leave.
    server = ManagedProcess("postgres", popen, log_file, stop_signal=signal.SIGINT)
    pg = Postgres(host, port, server, data_dir, timings, binaries, as_user, env)
    await_ready(server, lambda: _READY in _read(log_file) and _accepts(host, port), timeout=ready_timeout,
                cancel=cancel, error=PostgresStartError, what="accept connections")
    timings["postgres_start"] = time.monotonic() - t1
    pg.psql(CATALOG_TUNING)
    if os.environ.get(ENV_STATS):
        pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    log.debug(f"PostgreSQL {binaries} on {host}:{port} ({mode} durability): "
              f"initdb {timings['postgres_initdb']:.2f}s, start {timings['postgres_start']:.2f}s")
    return pg


# What `_jsonb->'k'` costs the planner. FerretDB reads every key of a document with `->`, and a
# document past ~2 kB (a score card is 3.7 kB) is stored out of line: `->` then fetches and
# decompresses all of it, ~3.7 µs a row where the planner counts one operator (cpu_operator_cost,
# 0.0025). Small heap pages made a sequential scan look cheap: evaluation's `_id $in` of a chunk's
# 1,100 score cards over 33,000 was a scan of every card (160 ms alone, 550 ms a call in the city
# rescore, 33 s of PostgreSQL). At the cost of ~100 operators an index is used where it serves:
# 160 → 74 ms; a filter that matches most of a table still scans it.
CATALOG_TUNING = "ALTER FUNCTION jsonb_object_field(jsonb, text) COST 100"


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
