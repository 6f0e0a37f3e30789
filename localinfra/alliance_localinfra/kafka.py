"""A real Apache Kafka 4.x broker (single KRaft combined node) from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _kafka_wire
from ._cache import cache_root, file_lock
from ._proc import CancelToken, ManagedProcess, free_ports, make_data_dir, run, spawn

KAFKA_VERSION = os.environ.get("ALLIANCE_KAFKA_VERSION", "4.4.0")
SCALA_VERSION = "2.13"
# Kafka 4.x still logs through SLF4J 1.7 (slf4j-api 1.7.36 in its POM), so the binding that
# actually works is log4j's SLF4J *1* binding (log4j-slf4j-impl) at the log4j version Kafka
# already pulls in -- what the release tarball ships. log4j-slf4j2-impl needs slf4j-api 2.x
# and is picked automatically if a future Kafka moves to SLF4J 2.
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
READY_TOPIC = "__localinfra_ready"

_MARKER = ".complete"


log = logging.getLogger(__name__)


def kafka_home(version: str = KAFKA_VERSION) -> Path:
    return cache_root() / f"kafka-{version}"


def _pom(version: str) -> str:
    deps = [
        ("org.apache.kafka", f"kafka_{SCALA_VERSION}", version),
        ("org.apache.kafka", "kafka-tools", version),
    ]
    dep_xml = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>alliance.localinfra</groupId>
  <artifactId>kafka-libs</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dep_xml}
  </dependencies>
</project>
"""


def _mvn(args: list[str], cancel: CancelToken | None) -> None:
    proc = run(["mvn", "-B", "-q", *args], name="mvn", cancel=cancel)
    if proc.returncode != 0:
        raise RuntimeError(
            f"mvn {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )


def _jar_version(libs: Path, artifact: str) -> str | None:
    for jar in libs.glob(f"{artifact}-*.jar"):
        m = re.fullmatch(re.escape(artifact) + r"-(\d[\w.\-]*)\.jar", jar.name)
        if m:
            return m.group(1)
    return None


def fetch(version: str = KAFKA_VERSION, *, cancel: CancelToken | None = None) -> Path:
    """Download the broker's jars (once) into ``<cache>/kafka-<version>/libs`` and return
    that directory. A marker file is written only after a complete download."""
    home = kafka_home(version)
    libs = home / "libs"
    if (home / _MARKER).exists() and libs.is_dir():
        return libs
    with file_lock(home / ".lock"):
        if (home / _MARKER).exists() and libs.is_dir():
            return libs
        if shutil.which("mvn") is None:
            raise RuntimeError("Maven (mvn) is required to fetch the Kafka jars")
        t0 = time.monotonic()
        log.info(f"fetching Kafka {version} jars with Maven into {libs} ...")
        partial = home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(libs, ignore_errors=True)
        (home / "pom.xml").write_text(_pom(version))
        _mvn([
            "-f", str(home / "pom.xml"),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ], cancel)  # fmt: skip
        if not (partial / f"kafka_{SCALA_VERSION}-{version}.jar").exists():
            raise RuntimeError(
                f"mvn finished but kafka_{SCALA_VERSION}-{version}.jar is missing in {partial}"
            )
        # SLF4J binding at the log4j version already in Kafka's tree (the POM has none)
        log4j = _jar_version(partial, "log4j-core")
        slf4j = _jar_version(partial, "slf4j-api")
        if log4j is None:
            raise RuntimeError(f"no log4j-core in Kafka {version}'s dependency tree")
        binding = "log4j-slf4j2-impl" if slf4j and not slf4j.startswith("1.") else "log4j-slf4j-impl"
        _mvn([
            "-f", str(home / "pom.xml"),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact=org.apache.logging.log4j:{binding}:{log4j}",
            f"-DoutputDirectory={partial}",
        ], cancel)  # fmt: skip
        partial.rename(libs)
        (home / _MARKER).write_text(f"{version}\n")
        log.info(f"fetched Kafka {version} jars in {time.monotonic() - t0:.1f}s")
    return libs


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Java 17+ is required to run Kafka 4.x")
    return java


JVM_OPTS = ["-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true"]

LOG4J2_PROPERTIES = """\
status = warn
name = localinfra
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
"""


SCRAM_MECHANISM = "SCRAM-SHA-512"  # what the Strimzi KafkaUsers of deploy/ use


def server_properties(data_dir: Path, port: int, controller_port: int, sasl_port: int | None = None) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir / "kraft-logs"),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.flush.interval.messages": "9223372036854775807",
    }
    if sasl_port is not None:
        # a second client listener that authenticates with SCRAM and authorizes by ACL, as the
        # Kubernetes cluster's listeners do; the plaintext one stays the operator's (its anonymous
        # principal is the super user that creates topics and grants the ACLs, as Strimzi's own
        # operators are on their listener), and nobody is allowed anything without an ACL
        props |= {
            "listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port},"
                         f"CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                                              "CONTROLLER:PLAINTEXT",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            f"listener.name.sasl_plaintext.{SCRAM_MECHANISM.lower()}.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": "User:ANONYMOUS",
        }
    return "".join(f"{k}={v}\n" for k, v in props.items())


@dataclass
class KafkaBroker:
    bootstrap_servers: str
    process: ManagedProcess
    data_dir: Path
    version: str
    # the SCRAM listener of a broker started with `scram_users` (None otherwise)
    sasl_bootstrap_servers: str | None = None

    def stop(self, timeout: float = 20.0) -> None:
        try:
            self.process.stop(timeout)
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)


class KafkaStartError(RuntimeError):
    pass


def start(
    version: str = KAFKA_VERSION,
    *,
    ready_timeout: float = 120.0,
    attempts: int = 3,
    cancel: CancelToken | None = None,
    scram_users: Mapping[str, str] | None = None,
) -> KafkaBroker:
    """Start one KRaft broker+controller on free 127.0.0.1 ports and wait until it really
    answers (ApiVersions, then a topic can be created and has a leader).

    With `scram_users` (user name -> password) the broker also has a SCRAM-SHA-512 listener
    (`sasl_bootstrap_servers`) where those users, and nobody else, authenticate, and an ACL
    authorizer that denies what no ACL allows: grant with `_kafka_wire.create_acls` on the
    plaintext listener."""
    libs = fetch(version, cancel=cancel)
    last: Exception | None = None
    for _attempt in range(attempts):
        data_dir = make_data_dir("alliance-kafka-")
        broker: KafkaBroker | None = None
        try:
            broker = _start_once(libs, data_dir, version, ready_timeout, cancel, scram_users)
            return broker
        except KafkaStartError as exc:
            last = exc
            if broker is not None:
                broker.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            if "Address already in use" not in str(exc) and "BindException" not in str(exc):
                raise
            log.info("Kafka port was taken in the meantime; retrying on new ports")
        except BaseException:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
    raise KafkaStartError(f"Kafka did not start after {attempts} attempts: {last}")


def _start_once(
    libs: Path, data_dir: Path, version: str, ready_timeout: float, cancel: CancelToken | None,
    scram_users: Mapping[str, str] | None = None,
) -> KafkaBroker:
    port, cport, sport = free_ports(3)
    props = data_dir / "server.properties"
    props.write_text(server_properties(data_dir, port, cport, sport if scram_users is not None else None))
    log4j = data_dir / "log4j2.properties"
    log4j.write_text(LOG4J2_PROPERTIES.format(log=data_dir / "kafka.log"))
    java = _java()
    base = [java, *JVM_OPTS, f"-Dlog4j2.configurationFile={log4j}", "-cp", str(libs / "*")]
    # KRaft storage is formatted once per Kafka version into a template and copied: saves a
    # JVM start (~1-2 s) per broker. Every broker is its own one-node cluster, so sharing the
    # cluster id between them is harmless.
    if scram_users is None:
        template = _storage_template(libs, version, java, cancel)
        shutil.copytree(template, data_dir / "kraft-logs")
    else:  # the users' credentials are metadata records written at format time
        _format(libs, java, props, cancel, [
            arg for user, password in scram_users.items()
            for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]")])

    out_log = data_dir / "kafka.out"
    with open(out_log, "wb") as out:
        popen = spawn(
            [*base, "kafka.Kafka", str(props)], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    proc = ManagedProcess("kafka", popen, out_log)
    broker = KafkaBroker(f"127.0.0.1:{port}", proc, data_dir, version,
                         f"127.0.0.1:{sport}" if scram_users is not None else None)
    try:
        if cancel is not None:
            cancel.track(proc)
        _wait_ready(broker, ready_timeout, cancel)
    except BaseException:
        broker.process.stop(5)
        raise
    finally:
        if cancel is not None:
            cancel.untrack(proc)
    return broker


def _storage_template(libs: Path, version: str, java: str, cancel: CancelToken | None) -> Path:
    home = kafka_home(version)
    template = home / "storage-template" / "kraft-logs"
    marker = home / "storage-template.complete"
    if marker.exists() and (template / "meta.properties").exists():
        return template
    with file_lock(home / ".lock"):
        if marker.exists() and (template / "meta.properties").exists():
            return template
        work = home / "storage-template.partial"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        props = work / "server.properties"
        # ports are irrelevant: with static controller.quorum.voters nothing port-specific is
        # written (unlike --standalone, which records the voter's endpoint)
        props.write_text(server_properties(work, 19092, 19093))
        _format(libs, java, props, cancel)
        props.unlink()
        shutil.rmtree(home / "storage-template", ignore_errors=True)
        work.rename(home / "storage-template")
        marker.write_text(f"{version}\n")
    return template


def _format(libs: Path, java: str, props: Path, cancel: CancelToken | None, extra: Sequence[str] = ()) -> None:
    """Format the KRaft storage of `props`' log.dirs (Kafka's StorageTool)."""
    fmt = run(
        [
            java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            "-cp", str(libs / "*"),
            "kafka.tools.StorageTool", "format", "-t", _cluster_id(), "-c", str(props), *extra,
        ],
        name="kafka-storage-format",
        cancel=cancel,
    )  # fmt: skip
    if fmt.returncode != 0:  # the output names no password: StorageTool does not echo its arguments
        raise KafkaStartError(f"kafka StorageTool format failed:\n{fmt.stdout}\n{fmt.stderr}")


PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERFORMANCE = "org.apache.kafka.tools.ConsumerPerformance"


def tool_command(main_class: str, *args: str, version: str = KAFKA_VERSION, heap: str = "256m") -> list[str]:
    """argv for one of Kafka's own command-line tools from the cached jars, e.g.
    ``tool_command(PRODUCER_PERFORMANCE, "--topic", "t", "--num-records", "100000",
    "--record-size", "512", "--throughput", "-1", "--producer-props", "bootstrap.servers=...")``.
    Run it with :func:`alliance_localinfra._proc.run` (or subprocess) yourself."""
    libs = fetch(version)
    return [
        _java(),
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-cp",
        str(libs / "*"),
        main_class,
        *args,
    ]


def _failure_details(broker: KafkaBroker) -> str:
    parts = [broker.process.log_tail()]
    log_file = broker.data_dir / "kafka.log"
    if log_file.exists():
        parts.append("\n".join(log_file.read_text(errors="replace").splitlines()[-40:]))
    return "\n".join(p for p in parts if p)


def _wait_ready(broker: KafkaBroker, timeout: float, cancel: CancelToken | None) -> None:
    deadline = time.monotonic() + timeout
    # 1. the socket answers ApiVersions
    while True:
        if cancel is not None:
            cancel.check()
        if not broker.process.alive():
            raise KafkaStartError(
                f"Kafka exited with {broker.process.popen.returncode} during start-up:\n"
                f"{_failure_details(broker)}"
            )
        try:
            with _kafka_wire.connect(broker.bootstrap_servers, timeout=2.0) as conn:
                conn.api_versions()
            break
        except (OSError, _kafka_wire.KafkaWireError):
            pass
        if time.monotonic() > deadline:
            raise KafkaStartError(
                f"Kafka did not answer ApiVersions in {timeout}s:\n{_failure_details(broker)}"
            )
        time.sleep(0.1)
    # 2. a topic can be created and gets a leader (broker registered, unfenced, controller up)
    remaining = max(1.0, deadline - time.monotonic())
    try:
        _kafka_wire.create_topics(broker.bootstrap_servers, [READY_TOPIC], partitions=1, timeout=remaining)
        _kafka_wire.delete_topics(broker.bootstrap_servers, [READY_TOPIC])
    except (TimeoutError, _kafka_wire.KafkaWireError, OSError) as exc:
        raise KafkaStartError(
            f"Kafka is up but cannot create topics: {exc}\n{_failure_details(broker)}"
        ) from exc
