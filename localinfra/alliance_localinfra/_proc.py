"""Child-process management: no orphans, ever.

Every child is started with ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` so the kernel kills it
when its parent goes away, even on ``kill -9`` of the Python process. Servers also get
their own session/process group so that a whole tree (e.g. a JVM and anything it forks)
is stopped with one ``killpg``.

Gotcha: PDEATHSIG fires when the *thread* that forked the child exits, not only when the
process exits. Servers are therefore forked from one long-lived daemon "spawner" thread
(which only dies with the process), never from short-lived worker threads.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)

try:  # resolved eagerly: nothing may be loaded or allocated between fork and exec
    _prctl: Any = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):  # pragma: no cover - non-glibc oddities
    _prctl = None


def _make_preexec(parent_pid: int) -> Callable[[], None]:
    def _preexec() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
        # The parent may have died between fork() and prctl(): then nobody will ever
        # deliver the death signal, so give up right away.
        if os.getppid() != parent_pid:
            os._exit(1)

    return _preexec


class _Spawner:
    """Runs every ``Popen`` on one daemon thread that lives as long as the process."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def _ensure_thread(self) -> None:
        with self._lock:
            # after os.fork() in a child process the old thread does not exist any more
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="alliance-localinfra-spawner", daemon=True
                )
                self._thread.start()

    @staticmethod
    def _run(q: queue.SimpleQueue[Any]) -> None:
        while True:
            fut, args, kwargs = q.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)

    def popen(self, args: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        self._ensure_thread()
        fut: concurrent.futures.Future[subprocess.Popen[Any]] = concurrent.futures.Future()
        self._queue.put((fut, args, kwargs))
        return fut.result()


_spawner = _Spawner()


def spawn(
    args: Sequence[str],
    *,
    new_session: bool = True,
    **kwargs: Any,
) -> subprocess.Popen[Any]:
    """Start a child that dies with this process (PDEATHSIG) and, by default, leads its own
    session / process group."""
    return _spawner.popen(
        list(args),
        preexec_fn=_make_preexec(os.getpid()),
        start_new_session=new_session,
        close_fds=True,
        **kwargs,
    )


class ManagedProcess:
    """A server process started by us, stopped with SIGTERM to its group (or its own stop signal to
    the leader alone), then SIGKILL to the group."""

    def __init__(
        self,
        name: str,
        popen: subprocess.Popen[Any],
        log_path: Path | None = None,
        *,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._stopped = False
        _register(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def stop(self, timeout: float = 15.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.popen.poll() is None:
                if self.stop_signal == signal.SIGTERM:
                    _killpg(self.popen.pid, signal.SIGTERM)
                else:  # to the leader alone: its children are its to stop (PostgreSQL's backends)
                    os.kill(self.popen.pid, self.stop_signal)
                try:
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    _killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait()
            # anything the leader left behind in its group
            _killpg(self.popen.pid, signal.SIGKILL)
        finally:
            _unregister(self)


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


_live: list[ManagedProcess] = []
_live_lock = threading.Lock()


def _register(p: ManagedProcess) -> None:
    with _live_lock:
        _live.append(p)


def _unregister(p: ManagedProcess) -> None:
    with _live_lock:
        if p in _live:
            _live.remove(p)


def stop_all(timeout: float = 10.0) -> None:
    with _live_lock:
        procs = list(reversed(_live))
    for p in procs:
        try:
            p.stop(timeout)
        except Exception:
            pass


atexit.register(stop_all)


# --- signals -----------------------------------------------------------------------------

_installed: dict[int, Any] = {}
_install_count = 0
_install_lock = threading.Lock()


def _raise_exit(signum: int, _frame: Any) -> None:
    # Turn SIGTERM/SIGHUP into SystemExit so context managers unwind and servers stop
    # cleanly; atexit + PDEATHSIG are the backstops.
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Make SIGTERM/SIGHUP unwind the stack (SystemExit) instead of killing the interpreter
    outright. Only replaces default handlers, only from the main thread. SIGINT already
    raises KeyboardInterrupt by default."""
    global _install_count
    if threading.current_thread() is not threading.main_thread():
        return
    with _install_lock:
        _install_count += 1
        if _install_count > 1:
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                if signal.getsignal(sig) is signal.SIG_DFL:
                    _installed[sig] = signal.signal(sig, _raise_exit)
            except (ValueError, OSError):  # pragma: no cover
                pass


def restore_signal_handlers() -> None:
    global _install_count
    if threading.current_thread() is not threading.main_thread():
        return
    with _install_lock:
        if _install_count == 0:
            return
        _install_count -= 1
        if _install_count:
            return
        for sig, old in list(_installed.items()):
            try:
                if signal.getsignal(sig) is _raise_exit:
                    signal.signal(sig, old)
            except (ValueError, OSError):  # pragma: no cover
                pass
        _installed.clear()


# --- misc --------------------------------------------------------------------------------


def free_ports(n: int = 1) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def await_ready(
    proc: ManagedProcess,
    ready: Callable[[], bool],
    *,
    timeout: float,
    cancel: CancelToken | None,
    error: type[Exception],
    what: str,
) -> None:
    """Poll `ready` until it holds; raise `error` with the log's tail if `proc` exits or `timeout`
    passes first, and stop `proc` on any failure (cancellation included)."""
    deadline = time.monotonic() + timeout
    try:
        if cancel is not None:
            cancel.track(proc)
        while not ready():
            if cancel is not None:
                cancel.check()
            if not proc.alive():
                raise error(f"{proc.name} exited with {proc.popen.returncode} during start-up:\n{proc.log_tail()}")
            if time.monotonic() > deadline:
                raise error(f"{proc.name} did not {what} in {timeout}s:\n{proc.log_tail()}")
            time.sleep(0.05)
    except BaseException:
        proc.stop(5)
        raise
    finally:
        if cancel is not None:
            cancel.untrack(proc)


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


class StartCancelled(Exception):
    """Start-up was abandoned (Ctrl-C, SIGTERM, or the other server failed)."""


class CancelToken:
    """Lets the thread that coordinates a parallel start abandon it: processes tracked here
    are killed on cancel, and poll loops call :meth:`check`."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._procs: list[ManagedProcess] = []
        self._lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            procs = list(self._procs)
        for p in procs:
            p.stop(2.0)

    def check(self) -> None:
        if self._event.is_set():
            raise StartCancelled("start-up cancelled")

    def track(self, proc: ManagedProcess) -> None:
        with self._lock:
            self._procs.append(proc)
            cancelled = self._event.is_set()
        if cancelled:
            proc.stop(2.0)
            raise StartCancelled("start-up cancelled")

    def untrack(self, proc: ManagedProcess) -> None:
        with self._lock:
            if proc in self._procs:
                self._procs.remove(proc)


def run(
    args: Sequence[str],
    *,
    name: str,
    cancel: CancelToken | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(capture_output=True, text=True)`` for helper commands (mvn, go build,
    Kafka's StorageTool) with the same no-orphan guarantees as the servers: PDEATHSIG, own
    process group (so e.g. go's compiler children go too), killed on cancel or interrupt."""
    if cancel is not None:
        cancel.check()
    popen = spawn(
        args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )
    proc = ManagedProcess(name, popen)
    try:
        if cancel is not None:
            cancel.track(proc)
        out, err = popen.communicate()
    except BaseException:
        proc.stop(2.0)
        raise
    finally:
        if cancel is not None:
            cancel.untrack(proc)
        proc.stop(0)
    if cancel is not None:
        cancel.check()
    return subprocess.CompletedProcess(list(args), popen.returncode, out, err)


# --- temporary data dirs -------------------------------------------------------------------

_OWNER_FILE = ".owner"


def _start_time(pid: int) -> str | None:
    """Process start time (clock ticks since boot): with the pid, identifies a process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


def sweep_stale_dirs(prefix: str) -> None:
    """Remove data dirs left behind by processes that were SIGKILLed (nothing could clean up
    then). A dir is stale when its owner process is gone; one without an owner file only once
    it is older than 10 minutes."""
    import shutil
    import tempfile

    for d in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = (d / _OWNER_FILE).read_text().split()
            pid, started = int(owner[0]), owner[1]
            stale = _start_time(pid) != started
        except (OSError, ValueError, IndexError):
            try:
                stale = time.time() - d.stat().st_mtime > 600
            except OSError:
                continue
        if stale:
            shutil.rmtree(d, ignore_errors=True)


def make_data_dir(prefix: str) -> Path:
    import tempfile

    sweep_stale_dirs(prefix)
    d = Path(tempfile.mkdtemp(prefix=prefix))
    (d / _OWNER_FILE).write_text(f"{os.getpid()} {_start_time(os.getpid())}\n")
    return d
