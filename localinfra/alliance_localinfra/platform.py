"""`make run`: the whole platform on this machine — Kafka, the store, the topics, a development mail
inbox and the four services, each its own process — until Ctrl-C. Also used by the end-to-end tests
to start the services as real processes.

    python -m alliance_localinfra.platform [--ports 8001,8002,8003,8004] [--services registry,activity]
                                           [--namespace demo1]  # own topics and databases on a shared broker
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

from . import create_topics, local_infra
from ._cache import cache_root
from ._proc import ManagedProcess, free_ports, install_signal_handlers, restore_signal_handlers, spawn

SERVICES: dict[str, int] = {"registry": 8001, "activity": 8002, "evaluation": 8003, "notification": 8004}


@dataclass
class RunningService:
    name: str
    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False


class DevMailbox:
    """A development SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message as an .eml file."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_ports(1)[0]
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.directory.mkdir(parents=True, exist_ok=True)
        directory = self.directory

        class Keep:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                name = f"{time.time_ns()}.eml"
                (directory / name).write_bytes(envelope.original_content or envelope.content)
                return "250 OK"

        self._controller = Controller(Keep(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def subjects(self) -> list[str]:
        out = []
        for path in sorted(self.directory.glob("*.eml")):
            msg = message_from_bytes(path.read_bytes())
            out.append(str(make_header(decode_header(msg.get("Subject", "")))))
        return out


def service_env(infra_env: Mapping[str, str], name: str, port: int, extra: Mapping[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(infra_env)
    env.update({"HOST": "127.0.0.1", "PORT": str(port), "ENVIRONMENT": env.get("ENVIRONMENT", "development"),
                "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


def start_services(infra_env: Mapping[str, str], *, ports: Mapping[str, int], log_dir: Path,
                   extra_env: Mapping[str, str] | None = None,
                   per_service_env: Mapping[str, Mapping[str, str]] | None = None) -> list[RunningService]:
    """Start each named service as `python -m alliance_<name>`; they die with this process."""
    log_dir.mkdir(parents=True, exist_ok=True)
    running = []
    for name, port in ports.items():
        env = service_env(infra_env, name, port, {**(extra_env or {}), **((per_service_env or {}).get(name, {}))})
        log_path = log_dir / f"{name}.log"
        log = open(log_path, "ab")
        popen = spawn([sys.executable, "-m", f"alliance_{name}"], env=env, stdout=log, stderr=log)
        running.append(RunningService(name, port, ManagedProcess(name, popen, log_path)))
    return running


def wait_ready(services: Sequence[RunningService], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(services)
    while pending and time.monotonic() < deadline:
        for svc in list(pending):
            if not svc.process.alive():
                raise RuntimeError(f"{svc.name} exited at start-up:\n{svc.process.log_tail()}")
            if svc.ready():
                pending.remove(svc)
        time.sleep(0.3)
    if pending:
        names = ", ".join(s.name for s in pending)
        raise RuntimeError(f"not ready after {timeout_s:.0f}s: {names}\n{pending[0].process.log_tail()}")


def development_channels(environ: Mapping[str, str], mailbox_port: int) -> dict[str, str]:
    """The development inbox and the `log` SMS provider, for whatever the operator has not configured:
    `SMTP_HOST` (with `SMTP_PORT`, `SMTP_FROM`, …) or `SMS_PROVIDER` (with its settings) in the
    environment win, and reminders go to that mail server or gateway."""
    channels: dict[str, str] = {}
    if not environ.get("SMTP_HOST"):
        channels.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(mailbox_port))
    if not environ.get("SMS_PROVIDER"):
        channels["SMS_PROVIDER"] = "log"
    return channels


@contextmanager
def running_platform(*, ports: Mapping[str, int] | None = None, run_dir: Path | None = None,
                     extra_env: Mapping[str, str] | None = None,
                     per_service_env: Mapping[str, Mapping[str, str]] | None = None,
                     topic_prefix: str = "") -> Iterator[dict[str, Any]]:
    """Kafka and the store (or those named by the environment), the topics, a mail inbox and the
    services, ready; everything stops on exit."""
    from alliance_shared.contracts.topics import all_topics

    ports = dict(ports or SERVICES)
    run_dir = run_dir or cache_root() / "run"
    with local_infra() as infra:
        for topic, partitions in all_topics().items():
            create_topics(infra.kafka_bootstrap_servers, [topic_prefix + topic], partitions=partitions)
        mailbox = DevMailbox(run_dir / "mail")
        mailbox.start()
        infra_env = {"KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers, "MONGODB_URI": infra.mongodb_uri,
                     "KAFKA_TOPIC_PREFIX": topic_prefix}
        base_env = {**development_channels(os.environ, mailbox.port), **(extra_env or {})}
        services: list[RunningService] = []
        try:
            services = start_services(infra_env, ports=ports, log_dir=run_dir / "logs", extra_env=base_env,
                                      per_service_env=per_service_env)
            wait_ready(services)
            yield {"infra": infra, "services": {s.name: s for s in services}, "mailbox": mailbox,
                   "run_dir": run_dir, "topic_prefix": topic_prefix}
        finally:
            for svc in services:
                svc.process.stop(timeout=15)
            mailbox.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alliance_localinfra.platform", description=__doc__)
    parser.add_argument("--ports", help="registry,activity,evaluation,notification ports (default 8001-8004)")
    parser.add_argument("--services", help="comma-separated subset to start (default: all four)")
    parser.add_argument("--namespace", help="prefix for topics (NS.) and databases (NS-<service>), so a second "
                                            "platform can share one broker and store")
    args = parser.parse_args(argv)
    names = args.services.split(",") if args.services else list(SERVICES)
    ports = dict(zip(SERVICES, [int(p) for p in args.ports.split(",")], strict=True)) if args.ports else SERVICES
    ports = {n: ports[n] for n in names}
    busy = [f"{n}:{p}" for n, p in ports.items() if _port_busy(p)]
    if busy:
        print(f"端口被占用 / ports in use: {', '.join(busy)} — stop the other run or pass --ports", file=sys.stderr)
        return 2
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    install_signal_handlers()
    started = time.monotonic()
    try:
        print("启动中 / starting Kafka, the store and the services ...", file=sys.stderr, flush=True)
        ns = args.namespace
        with running_platform(ports=ports, topic_prefix=f"{ns}." if ns else "",
                              run_dir=cache_root() / "run" / ns if ns else None,
                              per_service_env={n: {"MONGODB_DATABASE": f"{ns}-{n}"} for n in ports} if ns else None,
                              ) as platform:
            _print_banner(platform, time.monotonic() - started)
            try:
                while True:
                    signal.pause()
            except KeyboardInterrupt:
                print("\n正在停止 / stopping ...", file=sys.stderr)
        return 0
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        restore_signal_handlers()


def _port_busy(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _mail_line(platform: Mapping[str, Any]) -> str:
    if os.environ.get("SMTP_HOST"):
        server = f"{os.environ['SMTP_HOST']}:{os.environ.get('SMTP_PORT', '25')}"
        return f"  邮件 / mail server         {server} (运营方配置 / the operator's)"
    mailbox = platform["mailbox"]
    return f"  邮件 / mail inbox          {mailbox.directory} (SMTP 127.0.0.1:{mailbox.port})"


def _print_banner(platform: Mapping[str, Any], seconds: float) -> None:
    from alliance_shared.auth import mint_token
    from alliance_shared.settings import ServiceSettings

    services: dict[str, RunningService] = platform["services"]
    token = mint_token(ServiceSettings().auth_jwt_secret, role="secretariat", subject="secretariat-dev")
    lines = [f"\n市金融党建联盟平台已启动 / the alliance platform is up ({seconds:.1f}s)\n"]
    if "evaluation" in services:
        lines.append(f"  秘书处看板 / dashboard      {services['evaluation'].url}/")
    for svc in services.values():
        lines.append(f"  {svc.name:<13} API docs     {svc.url}/docs")
    infra = platform["infra"]
    lines += [
        f"  Kafka                      {infra.kafka_bootstrap_servers}",
        f"  MongoDB (FerretDB on PostgreSQL) {infra.mongodb_uri}",
        _mail_line(platform),
        f"  短信 / SMS provider        {os.environ.get('SMS_PROVIDER') or 'log (服务日志 / the service log)'}",
        f"  服务日志 / service logs     {platform['run_dir'] / 'logs'}",
        "",
        "  秘书处令牌 / secretariat token (12 h):",
        f"  {token}",
        "",
        "  make demo 加载示例联盟 / loads a realistic alliance · Ctrl-C 停止 / stops everything",
    ]
    print("\n".join(lines), flush=True)
    state = {"ready": True, "services": {n: s.url for n, s in services.items()},
             "kafka_bootstrap_servers": infra.kafka_bootstrap_servers, "topic_prefix": platform["topic_prefix"]}
    # `make demo` reads where the platform is (and its Kafka, for the L3 stream) from here
    (platform["run_dir"] / "platform.json").write_text(json.dumps(state, indent=1))
    print(json.dumps(state), flush=True)


if __name__ == "__main__":
    sys.exit(main())
