"""MongoDB access through PyMongo's async client: connection, indexes, dedupe marks, the
single-document outbox and its relay, and optimistic versioning.

Everything here is plain MongoDB (single-document writes, bulk writes, indexed queries) and runs
on FerretDB, which has no multi-document transactions, change streams or TTL indexes, alike.
"""

from .client import (
    IndexSpec,
    StoreError,
    connect,
    duplicate_indexes,
    ensure_indexes,
    is_duplicate_key,
    is_transient,
    ping,
)
from .dedupe import Claim, MongoDedupeStore, expire_marks
from .outbox import OutboxRelay, outbox_fields, outbox_indexes, outbox_push
from .versioning import VersionConflict, update_versioned

__all__ = [
    "Claim", "IndexSpec", "MongoDedupeStore", "OutboxRelay", "StoreError", "VersionConflict", "connect",
    "duplicate_indexes", "ensure_indexes", "expire_marks", "is_duplicate_key", "is_transient", "outbox_fields",
    "outbox_indexes", "outbox_push", "ping", "update_versioned",
]
