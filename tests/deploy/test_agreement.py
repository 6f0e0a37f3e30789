"""Services, ports, environment variables and topics agree between docker-compose.yml, the
kustomize output, deploy/gen.py and the code (topics module, each service's Settings class)."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from typing import Any

import pytest
from alliance_shared.contracts.topics import TOPICS, all_topics
from alliance_shared.settings import ServiceSettings
from deploy_support import DEPLOY, ROOT, load_gen, of_kind

pytestmark = pytest.mark.unit

# CONTRACT.md's ports; every other place is checked against this table.
PORTS = {"registry": 8001, "activity": 8002, "evaluation": 8003, "notification": 8004}
# read by the platform's infrastructure, not by a service's Settings
NOT_SETTINGS = {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's Settings class, or the shared base while the service has none yet."""
    try:
        module = importlib.import_module(f"alliance_{service}.settings")
    except ModuleNotFoundError:
        return ServiceSettings
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
    ]
    return found[0] if found else ServiceSettings


def test_the_generator_table_has_the_contract_ports() -> None:
    assert {s.name: s.port for s in load_gen().SERVICES} == PORTS


@pytest.mark.parametrize("service", PORTS)
def test_a_services_settings_default_port_is_the_contract_port(service: str) -> None:
    cls = settings_class(service)
    if cls is not ServiceSettings:
        assert cls.model_fields["port"].default == PORTS[service]
        assert cls.model_fields["service_name"].default == service
    main = ROOT / "services" / service / f"alliance_{service}" / "__main__.py"
    assert not main.exists() or "alliance_" in main.read_text() or "run_service" in main.read_text()


def test_compose_publishes_each_service_on_its_port_with_matching_env(compose: dict[str, Any]) -> None:
    for service, port in PORTS.items():
        svc = compose["services"][service]
        assert svc["ports"] == [f"{port}:{port}"]
        assert svc["environment"]["PORT"] == str(port)
        assert svc["environment"]["HOST"] == "0.0.0.0"
        assert svc["build"]["args"] == {"SERVICE": service, "PORT": str(port)}
        assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_kubernetes_serves_each_service_on_its_port(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    objects = rendered[overlay]
    services = {s["metadata"]["name"]: s for s in of_kind(objects, "Service")}
    configs = {
        c["metadata"]["name"].rsplit("-", 1)[0]
        if c["metadata"]["name"].count("-") > 1
        else c["metadata"]["name"]: c
        for c in of_kind(objects, "ConfigMap")
    }
    for service, port in PORTS.items():
        assert services[service]["spec"]["ports"][0]["port"] == port
        deployment = next(d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == service)
        assert deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == port
        config = next(c for name, c in configs.items() if name.startswith(f"{service}-config"))
        assert config["data"]["PORT"] == str(port) and config["data"]["HOST"] == "0.0.0.0"


def env_names_kubernetes(objects: list[dict[str, Any]], service: str) -> set[str]:
    names: set[str] = set()
    configs = {c["metadata"]["name"]: c.get("data", {}) for c in of_kind(objects, "ConfigMap")}
    deployment = next(d for d in of_kind(objects, "Deployment") if d["metadata"]["name"] == service)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    for source in container.get("envFrom", []):
        names |= set(configs[source["configMapRef"]["name"]])
    names |= {e["name"] for e in container.get("env", [])}
    return names


@pytest.mark.parametrize("service", PORTS)
def test_every_variable_given_to_a_service_is_a_setting_it_reads(
    compose: dict[str, Any], rendered: dict[str, list[dict[str, Any]]], service: str
) -> None:
    fields = {name.upper() for name in settings_class(service).model_fields}
    in_compose = set(compose["services"][service]["environment"])
    in_k8s = env_names_kubernetes(rendered["prod"], service)
    assert in_compose - fields == set(), "docker-compose.yml"
    assert in_k8s - fields - NOT_SETTINGS == set(), "kustomize"
    required = {
        "KAFKA_BOOTSTRAP_SERVERS",
        "MONGODB_URI",
        "AUTH_JWT_SECRET",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "ENVIRONMENT",
        "HOST",
        "PORT",
        "MONGODB_DATABASE",
    }
    if service != "evaluation":
        required.add("PII_ENCRYPTION_KEY")
    if service == "notification":
        required |= {"SMTP_HOST", "SMTP_PORT", "SMTP_FROM", "SMS_PROVIDER"}
    assert required <= in_compose and required <= in_k8s


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_kafka_topics_are_exactly_those_of_the_topics_module(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    topics = {
        t["spec"]["topicName"]: t["spec"]["partitions"] for t in of_kind(rendered[overlay], "KafkaTopic")
    }
    assert topics == all_topics()
    assert set(TOPICS) < set(topics)


def test_the_checked_in_generated_manifests_are_up_to_date() -> None:
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "gen.py"), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_the_generator_notices_a_topic_that_drifted(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = load_gen()
    monkeypatch.setitem(gen.TOPICS, "registry.events.v1", 7)
    monkeypatch.setattr(gen, "all_topics", lambda: {**all_topics(), "registry.events.v1": 7})
    text = gen.rendered()[gen.BASE / "kafka" / "topics.yaml"]
    assert text != (gen.BASE / "kafka" / "topics.yaml").read_text()
    assert re.search(r"topicName: registry\.events\.v1\n  partitions: 7", text)


def test_compose_creates_the_topics_from_the_topics_module(compose: dict[str, Any]) -> None:
    job = compose["services"]["kafka-topics"]
    script = (DEPLOY / "compose" / "create_topics.py").read_text()
    assert "from alliance_shared.contracts.topics import all_topics" in script
    assert any(v.startswith("./deploy/compose/create_topics.py:") for v in job["volumes"])
