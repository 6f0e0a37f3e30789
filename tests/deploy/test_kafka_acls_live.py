"""The manifests' Kafka users and ACLs on a real broker (issue 17 defect 10, proven live).

test_kafka_tenancy.py reads the KafkaUsers of the rendered `prod` overlay; here a real Kafka 4.x
broker gets those users (SCRAM-SHA-512, each with a password of its own, as Strimzi's user
operator would make them) and those ACLs (StandardAuthorizer, nothing allowed without an ACL),
and each client connects the way the services do (ServiceSettings → client_security):

- each service publishes what it publishes, runs each of its consumers (the groups and topics of
  its composition root) and dead-letters there, and is refused another service's topics and
  groups outside its name;
- an L3 institution writes the ingest topic and is refused everything else;
- the on-call user reads dead letters and replays onto the live topics, but cannot write the
  ingest topic in an institution's name;
- a wrong password or an unknown user does not get in."""

from __future__ import annotations

import asyncio
import importlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from alliance_localinfra import _kafka_wire, kafka
from alliance_shared.contracts.activity import MeetingHeld
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.envelope import CloudEvent
from alliance_shared.contracts.topics import ACTIVITY_EVENTS, ACTIVITY_INGEST, TOPICS, dlq
from alliance_shared.kafka.consumer import ConsumedMessage, ConsumerRunner, PermanentError
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.kafka.security import client_security
from alliance_shared.settings import ServiceSettings
from alliance_shared.testing import TopicReader, wait_for
from deploy_support import load_gen, of_kind

pytestmark = pytest.mark.integration
SERVICES = ("registry", "activity", "evaluation", "notification")


@dataclass(frozen=True)
class SecuredBroker:
    operator: str  # the plaintext listener: the super user that made the topics and ACLs
    sasl: str  # where every client of the manifests connects
    passwords: dict[str, str]  # KafkaUser name -> its password

    def settings(self, user: str, password: str | None = None) -> ServiceSettings:
        return ServiceSettings(kafka_bootstrap_servers=self.sasl, kafka_security_protocol="SASL_PLAINTEXT",
                               kafka_sasl_username=user,
                               kafka_sasl_password=self.passwords[user] if password is None else password)


def bindings(user: dict[str, Any]) -> list[_kafka_wire.AclBinding]:
    """A Strimzi `simple` KafkaUser's ACLs as the broker's bindings (Strimzi grants one binding per
    operation, on any host)."""
    principal = f"User:{user['metadata']['name']}"
    out = []
    for rule in user["spec"]["authorization"]["acls"]:
        resource = rule["resource"]
        for operation in rule["operations"]:
            out.append(_kafka_wire.AclBinding(principal, resource["type"], resource.get("name", "kafka-cluster"),
                                              operation, pattern_type=resource.get("patternType", "literal"),
                                              permission=rule.get("type", "allow")))
    return out


@pytest.fixture(scope="module")
def broker(rendered: dict[str, list[dict[str, Any]]]) -> Iterator[SecuredBroker]:
    users = [u for u in of_kind(rendered["prod"], "KafkaUser")]
    passwords = {u["metadata"]["name"]: secrets.token_urlsafe(18) for u in users}
    started = kafka.start(scram_users=passwords)
    try:
        assert started.sasl_bootstrap_servers is not None
        _kafka_wire.create_topics(started.bootstrap_servers, [*TOPICS, *(dlq(t) for t in TOPICS)], partitions=1)
        _kafka_wire.create_acls(started.bootstrap_servers, [b for u in users for b in bindings(u)])
        yield SecuredBroker(started.bootstrap_servers, started.sasl_bootstrap_servers, passwords)
    finally:
        started.stop()


def an_event(**ext: object) -> CloudEvent:
    payload = MeetingHeld(organization_id="org-1", meeting_kind="party_lesson",
                          held_at="2026-09-01T01:00:00Z", attendee_ids=["m1"], expected_count=2, topic="党课")
    return envelope(payload, source="/tests/acl", **{"institutionid": "inst-1", "reportinglevel": "L3", **ext})


async def publisher_of(settings: ServiceSettings) -> EventPublisher:
    publisher = EventPublisher(settings.kafka_bootstrap_servers, client_id=settings.kafka_sasl_username or "t",
                               security=client_security(settings))
    await publisher.start()
    return publisher


async def refused_group(broker: SecuredBroker, settings: ServiceSettings, group: str, topic: str) -> Exception:
    """What a consumer of `topic` in `group` meets with `settings`' user."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=broker.sasl, group_id=group, auto_offset_reset="earliest",
                                **client_security(settings))
    try:
        await consumer.start()
        await asyncio.wait_for(consumer.getmany(timeout_ms=2000), 20)
    except Exception as exc:  # the refusal is the assertion
        return exc
    finally:
        await consumer.stop()
    raise AssertionError(f"{settings.kafka_sasl_username} consumed {topic} in group {group}")


def produced_by(service: str) -> list[str]:
    gen = load_gen()
    return gen.produced_topics(next(s for s in gen.SERVICES if s.name == service))


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_runs_its_flows_as_its_own_user_and_is_refused_the_rest(
        broker: SecuredBroker, service: str) -> None:
    settings = broker.settings(f"svc-{service}")
    publisher = await publisher_of(settings)
    operator = EventPublisher(broker.operator)
    await operator.start()
    try:
        for topic in produced_by(service):
            await publisher.publish(topic, an_event())
        foreign = next(t for t in TOPICS if not t.startswith(f"{service}."))
        with pytest.raises(TopicAuthorizationFailedError):
            await publisher.publish(foreign, an_event())

        # each consumer of its composition root, in its own group, dead-letters what it refuses
        specs = importlib.import_module(f"alliance_{service}.app").create_app().state.runtime.consumers
        for spec in specs:
            sent = {topic: an_event() for topic in spec.topics}
            for topic, event in sent.items():
                await operator.publish(topic, event)

            async def refuse(event: CloudEvent, message: ConsumedMessage) -> None:
                raise PermanentError("refused by the ACL test")

            runner = ConsumerRunner(bootstrap_servers=broker.sasl, group_id=spec.group_id, topics=spec.topics,
                                    handler=refuse, publisher=publisher, security=client_security(settings))
            task = asyncio.create_task(runner.run())
            try:
                for topic, event in sent.items():
                    async with TopicReader(broker.operator, dlq(topic)) as reader:
                        await reader.wait_for_events(1, timeout_s=60, where=lambda e, i=event.id: e.id == i)

                async def ready(runner: ConsumerRunner = runner) -> bool:
                    return runner.ready

                await wait_for(ready, timeout_s=30, what=f"{spec.group_id} ready (it reads its own lag)")
                assert runner.state.crashed is None
            finally:
                runner.stop()
                await asyncio.wait_for(task, timeout=30)
        topic = specs[0].topics[0] if specs else ACTIVITY_EVENTS
        refusal = await refused_group(broker, settings, f"x-{service}", topic)
        assert isinstance(refusal, GroupAuthorizationFailedError | TopicAuthorizationFailedError), refusal
    finally:
        await publisher.stop()
        await operator.stop()


async def test_an_l3_institution_writes_the_ingest_topic_and_nothing_else(broker: SecuredBroker) -> None:
    (first, *_) = load_gen().l3_institutions()
    settings = broker.settings(first.user)
    publisher = await publisher_of(settings)
    try:
        await publisher.publish(ACTIVITY_INGEST, an_event(institutionid=first.id))
        for topic in (ACTIVITY_EVENTS, dlq(ACTIVITY_INGEST), next(t for t in TOPICS if t.startswith("registry."))):
            with pytest.raises(TopicAuthorizationFailedError):
                await publisher.publish(topic, an_event(institutionid=first.id))
    finally:
        await publisher.stop()
    refusal = await refused_group(broker, settings, first.user, ACTIVITY_INGEST)
    assert isinstance(refusal, GroupAuthorizationFailedError | TopicAuthorizationFailedError), refusal


async def test_on_call_reads_dead_letters_and_replays_but_cannot_report_as_an_institution(
        broker: SecuredBroker) -> None:
    settings = broker.settings("alliance-ops")
    operator = EventPublisher(broker.operator)
    await operator.start()
    dead = an_event()
    await operator.publish(dlq(ACTIVITY_EVENTS), dead)
    await operator.stop()
    consumer = AIOKafkaConsumer(dlq(ACTIVITY_EVENTS), bootstrap_servers=broker.sasl, group_id="ops-replay",
                                auto_offset_reset="earliest", **client_security(settings))
    await consumer.start()
    try:
        seen: list[bytes] = []

        async def read() -> bool:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend(h for r in records for k, h in r.headers if k == "ce_id")
            return dead.id.encode() in seen

        await wait_for(read, timeout_s=30, what="the on-call user to read the dead letter")
    finally:
        await consumer.stop()
    publisher = await publisher_of(settings)
    try:
        await publisher.publish(ACTIVITY_EVENTS, dead)  # the replay
        with pytest.raises(TopicAuthorizationFailedError):
            await publisher.publish(ACTIVITY_INGEST, an_event())
    finally:
        await publisher.stop()


@pytest.mark.parametrize("user, password", [("svc-activity", "not-its-password"), ("svc-nobody", "anything")])
async def test_a_wrong_password_or_an_unknown_user_does_not_get_in(
        broker: SecuredBroker, user: str, password: str) -> None:
    settings = broker.settings("svc-activity", password)
    settings = settings.model_copy(update={"kafka_sasl_username": user})
    publisher = EventPublisher(broker.sasl, security=client_security(settings))
    with pytest.raises(KafkaConnectionError):
        await publisher.start()
    await publisher.stop()
