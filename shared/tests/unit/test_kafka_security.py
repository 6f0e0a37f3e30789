"""The Kafka clients' authentication options: none on the open local broker, SCRAM with the
service's own user where KAFKA_SECURITY_PROTOCOL says so (as the Kubernetes manifests do), and a
clear refusal of a SASL protocol without its credentials."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from alliance_shared.kafka.security import client_security
from alliance_shared.settings import ServiceSettings

pytestmark = pytest.mark.unit


def test_the_open_local_broker_needs_no_options() -> None:
    assert client_security(ServiceSettings()) == {}


async def test_scram_options_name_the_services_own_user_and_are_accepted_by_the_client() -> None:
    settings = ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="svc-activity",
                               kafka_sasl_password="from-the-strimzi-secret")
    options = client_security(settings)
    assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "svc-activity", "sasl_plain_password": "from-the-strimzi-secret"}
    producer = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options)  # validates, connects to nothing
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"
    tls = client_security(ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u",
                                          kafka_sasl_password="p"))
    assert tls["ssl_context"] is not None


def test_a_sasl_protocol_without_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="KAFKA_SASL_USERNAME"):
        client_security(ServiceSettings(kafka_security_protocol="SASL_PLAINTEXT"))
