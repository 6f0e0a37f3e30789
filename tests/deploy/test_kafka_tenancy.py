"""L3 tenancy on Kafka in the manifests (issue 17 defect 10): every client authenticates as a Strimzi
KafkaUser; each L3 institution of deploy/l3-institutions.yaml may write (and describe) the ingest
topic and nothing else; each service may write what it publishes, read what its consumers read
(as the code wires them) and write those topics' dead letters, and nothing else; nobody but the
institutions writes the ingest topic, and only activity reads it."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from alliance_shared.contracts.topics import ACTIVITY_INGEST, TOPICS, dlq
from deploy_support import DEPLOY, OVERLAYS, load_gen, of_kind

pytestmark = pytest.mark.unit
SERVICES = ("registry", "activity", "evaluation", "notification")


def acl_table(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) of every allow rule of a KafkaUser."""
    out = set()
    for rule in user["spec"]["authorization"]["acls"]:
        assert rule.get("type", "allow") == "allow"
        resource = rule["resource"]
        for operation in rule["operations"]:
            out.add((resource["type"], resource["name"], resource.get("patternType", "literal"), operation))
    return out


def users_of(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {u["metadata"]["name"]: u for u in of_kind(objects, "KafkaUser")}


def consumed_by_the_code(service: str) -> set[str]:
    """The topics the service's consumers subscribe to, read from its composition root."""
    app = importlib.import_module(f"alliance_{service}.app").create_app()
    return {topic for spec in app.state.runtime.consumers for topic in spec.topics}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_authenticates_every_listener_and_authorizes_by_acl(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    (kafka,) = of_kind(rendered[overlay], "Kafka")
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert not kafka["spec"]["kafka"]["authorization"].get("superUsers")
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert listener["authentication"]["type"] == "scram-sha-512", listener["name"]
    external = [listener for listener in kafka["spec"]["kafka"]["listeners"] if listener["type"] != "internal"]
    assert external and all(listener["tls"] for listener in external)  # institutions come over TLS
    assert "userOperator" in kafka["spec"]["entityOperator"]
    for user in users_of(rendered[overlay]).values():
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_l3_institution_may_write_the_ingest_topic_and_nothing_else(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    gen = load_gen()
    institutions = gen.l3_institutions()
    assert institutions, "deploy/l3-institutions.yaml lists no institution"
    users = users_of(rendered[overlay])
    for inst in institutions:
        user = users[inst.user]
        assert user["metadata"]["annotations"]["alliance.example/institution-id"] == inst.id
        assert acl_table(user) == {("topic", ACTIVITY_INGEST, "literal", "Write"),
                                   ("topic", ACTIVITY_INGEST, "literal", "Describe")}
        assert user["spec"]["quotas"]["producerByteRate"] == inst.producer_byte_rate
    writers = {name for name, u in users.items()
               if {("topic", ACTIVITY_INGEST, "literal", "Write"), ("topic", "", "prefix", "Write")} & acl_table(u)}
    assert writers == {i.user for i in institutions}
    readers = {name for name, u in users.items() if ("topic", ACTIVITY_INGEST, "literal", "Read") in acl_table(u)}
    assert readers == {"svc-activity", "alliance-ops"}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_has_its_own_user_with_the_acls_of_its_flows_only(
    rendered: dict[str, list[dict[str, Any]]], service: str
) -> None:
    gen = load_gen()
    svc = next(s for s in gen.SERVICES if s.name == service)
    consumed = consumed_by_the_code(service)
    assert set(svc.consumes) == consumed, "deploy/gen.py's consumes must be what the code subscribes to"
    produced = set(gen.produced_topics(svc))
    assert produced == {t for t in TOPICS if t.startswith(f"{service}.") and t != ACTIVITY_INGEST}
    expected = {("topic", t, "literal", op) for t in produced for op in ("Write", "Describe")}
    expected |= {("topic", t, "literal", op) for t in consumed for op in ("Read", "Describe")}
    expected |= {("topic", dlq(t), "literal", op) for t in consumed for op in ("Write", "Describe")}
    if consumed:
        expected |= {("group", service, "prefix", op) for op in ("Read", "Describe")}
    users = users_of(rendered["prod"])
    assert acl_table(users[f"svc-{service}"]) == expected
    # the Deployment connects as that user, with the password Strimzi keeps in the user's Secret
    (deployment,) = [d for d in of_kind(rendered["prod"], "Deployment") if d["metadata"]["name"] == service]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": f"svc-{service}", "key": "password"}
    (config,) = [c for c in of_kind(rendered["prod"], "ConfigMap")
                 if c["metadata"]["name"].startswith(f"{service}-config")]
    assert config["data"]["KAFKA_SASL_USERNAME"] == f"svc-{service}"
    assert config["data"]["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    if service == "activity":
        assert config["data"]["L3_PRINCIPAL_CHECK"] == "true"


def test_the_institution_list_is_data_and_a_bad_entry_is_refused(tmp_path: Path) -> None:
    gen = load_gen()
    listed = tmp_path / "l3.yaml"
    listed.write_text("institutions:\n  - {id: inst-x, user: l3-x, name: X}\n  - {id: inst-y, user: l3-y, name: Y}\n")
    users = {u["metadata"]["name"]: u for u in gen.user_objects(gen.l3_institutions(listed))}
    assert {"l3-x", "l3-y"} <= set(users)
    assert acl_table(users["l3-y"]) == {("topic", ACTIVITY_INGEST, "literal", "Write"),
                                        ("topic", ACTIVITY_INGEST, "literal", "Describe")}
    for bad in ("  - {id: inst-x, user: l3-x, name: X}\n  - {id: inst-x, user: l3-z, name: Z}\n",
                "  - {id: inst-x, user: L3_X, name: X}\n", "  - {id: inst-x, user: svc-activity, name: X}\n"):
        listed.write_text("institutions:\n" + bad)
        with pytest.raises(ValueError):
            gen.l3_institutions(listed)
    assert (DEPLOY / "l3-institutions.yaml").exists()
