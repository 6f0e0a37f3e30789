"""MongoDB access through PyMongo's async client: connection, indexes, dedupe marks, the
single-document outbox and its relay, and optimistic versioning.

Everything here works on FerretDB (no multi-document transactions, no change streams, no TTL
indexes) and on real MongoDB alike.
"""

from .client import IndexSpec, StoreError, connect, ensure_indexes, is_duplicate_key, ping, reads_every_document
from .dedupe import MongoDedupeStore
from .keyed import by_ids, replace_all
from .outbox import OutboxRelay, outbox_fields, outbox_push
from .versioning import VersionConflict, update_versioned

__all__ = [
    "IndexSpec", "MongoDedupeStore", "OutboxRelay", "StoreError", "VersionConflict", "by_ids", "connect",
    "ensure_indexes", "is_duplicate_key", "outbox_fields", "outbox_push", "ping", "reads_every_document",
    "replace_all",
    "update_versioned",
]
