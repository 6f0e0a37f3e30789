"""How the platform's Kafka clients authenticate: nothing locally (the embedded broker is open),
SCRAM with the service's own Strimzi `KafkaUser` in Kubernetes (deploy/gen.py writes the users and
their ACLs; Strimzi keeps each password in a Secret named after the user)."""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from ..settings import ServiceSettings


def client_security(settings: ServiceSettings) -> dict[str, Any]:
    """The aiokafka keyword arguments for `settings`' KAFKA_SECURITY_PROTOCOL (none for PLAINTEXT)."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        if not settings.kafka_sasl_username or not settings.kafka_sasl_password:
            raise ValueError(f"KAFKA_SECURITY_PROTOCOL={protocol} needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD")
        options |= {"sasl_mechanism": settings.kafka_sasl_mechanism,
                    "sasl_plain_username": settings.kafka_sasl_username,
                    "sasl_plain_password": settings.kafka_sasl_password}
    if protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    return options
