"""What the activity service's use cases work with (its unit): the settings, the one ingestion path,
the registry projection, the submissions and the key cache, as the composition root wired them."""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters.keys import ApiKeys
from ..adapters.projection import RegistryProjection
from ..adapters.submissions import SubmissionStore
from ..settings import ActivitySettings
from .ingestion import IngestSubmissions


@dataclass(frozen=True)
class ActivityUnit:
    """The service's parts, as the composition root wired them."""

    settings: ActivitySettings
    ingest: IngestSubmissions
    projection: RegistryProjection
    submissions: SubmissionStore
    keys: ApiKeys
