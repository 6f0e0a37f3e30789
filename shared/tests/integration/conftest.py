"""Fixtures for the shared library's integration tests: a fresh namespace on the real broker/store."""

from collections.abc import AsyncIterator

import pytest
from alliance_shared.kafka.producer import EventPublisher
from alliance_shared.mongo import connect
from alliance_shared.testing import namespace


@pytest.fixture
def ns() -> str:
    return namespace("shared")


@pytest.fixture
async def publisher(infra, ns) -> AsyncIterator[EventPublisher]:
    pub = EventPublisher(infra.kafka_bootstrap_servers, client_id="shared-tests", topic_prefix=f"{ns}.")
    await pub.start()
    yield pub
    await pub.stop()


@pytest.fixture
async def db(infra, ns):
    client = connect(infra.mongodb_uri)
    yield client[ns.replace("-", "_")]
    await client.drop_database(ns.replace("-", "_"))
    await client.close()
