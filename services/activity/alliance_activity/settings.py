"""Settings of the activity service, read from the environment (names of CONTRACT.md)."""

from __future__ import annotations

from alliance_shared.settings import ServiceSettings


class ActivitySettings(ServiceSettings):
    service_name: str = "activity"
    port: int = 8002

    webhook_window_s: int = 300  # a webhook call older (or newer) than this is refused
    batch_max_events: int = 5000  # per POST /api/v1/events
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
