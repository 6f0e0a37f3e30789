"""Settings of the registry service, read from the environment (see CONTRACT.md)."""

from __future__ import annotations

from alliance_shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    service_name: str = "registry"
    port: int = 8001

    transfer_deadline_days: int = 30  # the receiving side must accept or refuse within this
    transfer_scan_interval_s: float = 300.0  # how often overdue transfers are looked for
    max_active_api_keys: int = 5  # at least two, so a key can be rotated without downtime
    import_max_bytes: int = 10 * 1024 * 1024
    import_max_rows: int = 20_000
    import_chunk_rows: int = 1_000  # rows read, checked and stored together (a handful of commands)
