"""The evaluation service's settings, from the environment (EVALUATION_* names are not needed:
the shared names of CONTRACT.md plus a few of its own)."""

from __future__ import annotations

from alliance_shared.settings import ServiceSettings

from .adapters.ranks import KEEP_ROWS


class EvaluationSettings(ServiceSettings):
    service_name: str = "evaluation"
    port: int = 8003
    ruleset_version: str = "2026.1"  # the ruleset that scores open periods
    ruleset_dir: str | None = None  # default: the package's rulesets/ folder
    lagging_days: int = 60  # no organisational-life meeting for this long ⇒ lagging
    at_risk_share: float = 0.75  # quarter share gone after which weak organisational life ⇒ at risk
    at_risk_below: float = 60.0
    reports_missing_days: int = 10  # days before quarter end to announce missing reports
    lagging_scan_interval_s: float = 3600.0
    rescore_interval_s: float = 2.0  # how often the rescore queue (late and new events) is looked at
    rescore_max_wait_s: float = 30.0  # drained once it stops growing, or this long after it began to
    rescore_queue_limit: int = 20_000  # (period, institution) marks drained in one round
    rescore_at_once: int = 500  # a queue naming at most this many pairs is drained at once (a live stream)
    rescore_quarters: int = 2  # registry changes rescore the open quarters among the last this many
    # institutions scored per round trip; a rescore holds about three chunks at once (loading, scoring,
    # writing): at the city's density 100 institutions' facts, cards and documents peak at ~31 MB
    rescore_chunk: int = 100
    # ranking rows the dashboard's quarters keep in memory (the quarter used last always): a city
    # quarter is ~33,000 rows, ~31 MB
    rank_cache_rows: int = KEEP_ROWS
