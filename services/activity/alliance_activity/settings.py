"""Settings of the activity service, read from the environment (names of CONTRACT.md)."""

from __future__ import annotations

from alliance_shared.settings import ServiceSettings
from pydantic import Field


class ActivitySettings(ServiceSettings):
    service_name: str = "activity"
    port: int = 8002

    webhook_window_s: int = 300  # a webhook call older (or newer) than this is refused
    batch_max_events: int = 5000  # per POST /api/v1/events
    # concurrent requests of a channel ingested in one pass, up to this many events (1: a pass each)
    ingest_pass_max_events: int = Field(default=5000, ge=1)
    upload_max_rows: int = 5000
    upload_max_bytes: int = 20 * 1024 * 1024
    future_tolerance_s: int = 24 * 3600  # an event timed further ahead of now than this is refused
    outbox_grace_s: float = 120.0  # a batch another process left unpublished this long goes to the outbox relay
    # how long a key read from the registry projection is trusted without reading it again: the
    # backstop of revocation for a process whose key listener missed the event (see adapters/keys.py)
    api_key_cache_max_age_s: float = 5.0
    registry_group: str = "activity-registry"
    credentials_group: str = "activity-credentials"  # + the process's own suffix: every process hears every key event
    ingest_group: str = "activity-ingest"
    # L3 tenancy: a record on activity.ingest.v1 is ingested only when signed with an API key of
    # its ce_institutionid (alliance_shared.kafka.principal); else dead-lettered with the reason.
    # Unset: on everywhere but development (where `make run`'s and the demo's producers do not sign)
    l3_principal_check: bool | None = None
    periods_group: str = "activity-periods"  # evaluation's period closes and unlock exceptions
    period_locks_max_age_s: float = 2.0  # how often each process reads them again (another's consumer wrote)

    # the L1 web form (/form): in development a sign-in on the page mints the branch secretary's JWT;
    # anywhere else that JWT comes from the organisation's SSO, which returns to /form#token=<JWT>
    form_dev_sign_in: bool = True  # honoured in development only (`dev_sign_in_enabled`)
    form_sso_url: str | None = None  # the organisation's SSO sign-in page, linked from the form
    # names of a branch's members (they do not travel on registry events: personal data stays in the
    # registry), read from its API with the secretary's own token when the form shows a roll
    registry_url: str = "http://127.0.0.1:8001"
    registry_timeout_s: float = 3.0

    @property
    def principal_check_enabled(self) -> bool:
        """Whether the L3 consumer requires each record's signed principal (L3_PRINCIPAL_CHECK)."""
        if self.l3_principal_check is None:
            return self.environment != "development"
        return self.l3_principal_check

    @property
    def dev_sign_in_enabled(self) -> bool:
        return self.form_dev_sign_in and self.environment == "development"
