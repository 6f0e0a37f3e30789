"""Settings read from the environment, the names of CONTRACT.md; each service extends `ServiceSettings`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .bounds import MAX_JSON_DEPTH

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS1jaGFuZ2UtbWUtMDEyMzQ="  # base64 of a 32-byte dev key


class ServiceSettings(BaseSettings):
    """What every service reads from its environment.

    Outside `development` a missing or default secret fails at start-up rather than at first use.
    """

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = "alliance"
    environment: Literal["development", "test", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_client_id: str | None = None
    kafka_topic_prefix: str = ""  # isolates tests or parallel environments sharing one broker
    # the service's own Kafka user in Kubernetes (alliance_shared.kafka.security); open locally
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: str | None = None  # the cluster CA for SSL listeners (default: the system's)
    mongodb_uri: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str | None = None
    # how long a consumer remembers an event id it applied; longer than the broker keeps messages
    dedupe_retention_days: float = 30.0
    # an ended job (a scan, a rescore) answers at its status URL this long, then goes (alliance_shared.jobs)
    jobs_keep_days: float = 7.0

    # every request body is bounded before a route reads it (413); multipart uploads by the second,
    # which must hold the service's own file limit and the form's overhead
    max_body_bytes: int = 16 * 1024 * 1024
    max_upload_bytes: int = 24 * 1024 * 1024
    max_json_depth: int = MAX_JSON_DEPTH  # a JSON body nested deeper is refused (422) before decoding

    auth_jwt_secret: str = DEV_JWT_SECRET
    auth_jwks_url: str | None = None
    pii_encryption_key: str = Field(default=DEV_PII_KEY, description="base64 32-byte key sealing PII")

    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _secrets_are_real_outside_development(self) -> ServiceSettings:
        if self.environment == "production":
            if self.auth_jwt_secret == DEV_JWT_SECRET and not self.auth_jwks_url:
                raise ValueError("AUTH_JWT_SECRET is the development default; set it or AUTH_JWKS_URL")
            if self.pii_encryption_key == DEV_PII_KEY:
                raise ValueError("PII_ENCRYPTION_KEY is the development default; set a real key")
        return self

    @property
    def database_name(self) -> str:
        return self.mongodb_database or self.service_name
