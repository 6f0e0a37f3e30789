"""``python -m alliance_localinfra up | exec -- CMD... | fetch``"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time

from . import ENV_KAFKA, ENV_MONGODB, fetch, local_infra
from ._proc import install_signal_handlers, spawn


def _env_lines(infra: object) -> list[str]:
    lines = []
    if getattr(infra, "kafka_bootstrap_servers", ""):
        lines.append(f"{ENV_KAFKA}={infra.kafka_bootstrap_servers}")  # type: ignore[attr-defined]
    if getattr(infra, "mongodb_uri", ""):
        lines.append(f"{ENV_MONGODB}={infra.mongodb_uri}")  # type: ignore[attr-defined]
    return lines


def _err(msg: str) -> None:
    print(f"[localinfra] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alliance_localinfra", description=__doc__)
    parser.add_argument("--no-kafka", action="store_true", help="don't start Kafka")
    parser.add_argument("--no-store", action="store_true", help="don't start FerretDB")
    parser.add_argument("-q", "--quiet", action="store_true", help="no timing output")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start, print the env lines, run until Ctrl-C / SIGTERM")
    p_exec = sub.add_parser("exec", help="start, run CMD with the env vars set, stop, exit with CMD's code")
    p_exec.add_argument("cmd", nargs=argparse.REMAINDER)
    sub.add_parser("fetch", help="only download the Kafka jars and build FerretDB")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="[localinfra] %(message)s",
        stream=sys.stderr,
    )
    kafka, store = not args.no_kafka, not args.no_store

    if args.command == "fetch":
        for name, secs in fetch(kafka=kafka, store=store).items():
            _err(f"{name}: {secs:.1f}s")
        return 0

    cmd = list(getattr(args, "cmd", []) or [])
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if args.command == "exec" and not cmd:
        parser.error("exec needs a command: exec -- CMD [ARGS...]")

    # `up` / `exec` are meant to be stopped with Ctrl-C even when started from a script
    # (`cmd &` in a non-interactive shell starts with SIGINT ignored); SIGTERM/SIGHUP unwind
    # the stack from here on, too, not only once local_infra() is entered.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    install_signal_handlers()

    t0 = time.monotonic()
    try:
        with local_infra(kafka=kafka, store=store) as infra:
            if not args.quiet:
                _err(f"ready in {time.monotonic() - t0:.1f}s")
            if args.command == "up":
                for line in _env_lines(infra):
                    print(line, flush=True)
                try:
                    while True:
                        signal.pause()
                except KeyboardInterrupt:
                    pass
                return 0
            env = dict(os.environ)
            if infra.kafka_bootstrap_servers:
                env[ENV_KAFKA] = infra.kafka_bootstrap_servers
            if infra.mongodb_uri:
                env[ENV_MONGODB] = infra.mongodb_uri
            # same process group (terminal Ctrl-C reaches it), but dies with us (PDEATHSIG)
            child = spawn(cmd, new_session=False, env=env)
            try:
                try:
                    return child.wait()
                except KeyboardInterrupt:
                    # from a terminal the child got the SIGINT too: give it a moment to
                    # finish on its own before it is terminated below
                    try:
                        child.wait(5)
                    except (subprocess.TimeoutExpired, KeyboardInterrupt):
                        pass
                    return 130
            finally:
                if child.poll() is None:
                    child.terminate()
                    try:
                        child.wait(10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # SIGTERM / SIGHUP turned into SystemExit by our handler
        return exc.code if isinstance(exc.code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
