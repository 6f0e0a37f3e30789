"""The lagging scan (落后支部): every open branch is assessed against today; entering, changing
status on or leaving the list is announced on `evaluation.events.v1` through the lagging document's
own outbox. Near the quarter's end it also announces the reports a branch still owes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from alliance_shared.clock import SHANGHAI, Clock
from alliance_shared.contracts.catalog import envelope
from alliance_shared.contracts.evaluation import BranchCaughtUp, BranchFellBehind, ReportsMissing
from alliance_shared.jobs import Progress

from ..adapters.projections import Projections
from ..adapters.ranks import Quarter
from ..adapters.readmodels import ReadModels, score_key
from ..adapters.scorebook import SOURCE
from ..domain.lagging import Assessment, BranchPulse, LaggingPolicy, assess, change, reports_due_soon
from ..domain.periods import Period, local_day
from ..domain.ruleset import ReviewCounting
from ..domain.scoring import BRANCH_KINDS
from ..settings import EvaluationSettings

LOOKBACK_DAYS = 730  # a branch silent for longer shows "never met" (still lagging)
WRITE_BATCH = 1_000  # lagging documents per bulk write
# what a branch's lagging document says; a scan that finds them all unchanged (and nothing to
# announce) writes nothing for the branch (`checked_at`: when the scan last changed it)
STATE_FIELDS = (
    "status", "institution_id", "institution_ids", "days_since_last_meeting", "last_meeting_on", "org_life",
    "period", "score_id",
)  # fmt: skip


class LaggingScan:
    def __init__(
        self, models: ReadModels, projections: Projections, clock: Clock, settings: EvaluationSettings,
        review: ReviewCounting | None = None,
    ) -> None:
        self.review = review or ReviewCounting()  # which reviewed meetings count, as the ruleset says
        self.models = models
        self.projections = projections
        self.clock = clock
        self.settings = settings
        self.policy = LaggingPolicy(settings.lagging_days, settings.at_risk_share, settings.at_risk_below)

    async def run(self, progress: Progress | None = None) -> dict[str, int]:
        try:
            return await self._run(progress or Progress())
        finally:  # readers of the work queue reload it (also after a scan that failed half-way)
            await self.models.lagging_queue.bump()

    async def _run(self, progress: Progress) -> dict[str, int]:
        scan = await self._today()
        counts = dict.fromkeys(COUNTS, 0)
        writes: list[Write] = []
        progress.total = len(scan.orgs)
        for org in sorted(scan.orgs, key=lambda o: o["_id"]):
            progress.done += 1
            write = self._branch(scan, org, counts)
            if write is not None:
                writes.append(write)
            if len(writes) >= WRITE_BATCH:
                await self.models.save_lagging_many(writes)
                writes = []
        await self.models.save_lagging_many(writes)
        return counts

    async def _today(self) -> _Scan:
        """What the scan reads once: the open branches, the quarter's rank rows, the lagging states
        and each branch's last meeting."""
        now = self.clock.now()
        today = local_day(now)
        period = Period.of_day(today)
        orgs = await self.projections.branch_organizations(sorted(BRANCH_KINDS))
        # the meetings of the quarters around today's (a meeting within `lagging_days` is in one of
        # them), and older ones only for the branches that had none
        meetings = await self.projections.last_meetings(
            today - timedelta(days=LOOKBACK_DAYS),
            [str(period.previous()), str(period), str(period.next())],
            sorted(o["_id"] for o in orgs),
            lambda a: self.review.counts(a.get("review_state") or "pending", bool(a.get("on_behalf_of"))),
        )
        return _Scan(
            now=now, today=today, period=period, orgs=orgs,
            ranked=await self.models.ranks.quarter(str(period)),  # the rows readers hold, reloaded when changed
            states=await self.models.lagging_states(), meetings=meetings,
            announce_missing=reports_due_soon(today, self.settings.reports_missing_days),
        )  # fmt: skip

    def _branch(self, scan: _Scan, org: dict[str, Any], counts: dict[str, int]) -> Write | None:
        """One branch assessed against today: what it announces and what its lagging document says
        (None when the branch is not open, or nothing changed and nothing is announced)."""
        if not org.get("opened") or not org.get("institution_ids"):
            return None
        opened = date.fromisoformat(org["opened"])
        if opened > scan.today or (org.get("closed") and date.fromisoformat(org["closed"]) <= scan.today):
            return None
        counts["scanned"] += 1
        met = scan.meetings.get(org["_id"])
        last = date.fromisoformat(met[0]) if met else None
        score = scan.ranked.branch(org["_id"]) or {}
        # the open quarter's cards judge what is due so far; the scan chases what it will come to
        # if nothing more is reported, and every report still owed (missing or not yet due)
        at_worst = score.get("org_life_if_unmet", score.get("org_life"))
        pulse = BranchPulse(org["_id"], org["institution_ids"][0], opened, last, at_worst)
        verdict = assess(pulse, scan.today, self.policy)
        state = scan.states.get(org["_id"], {})
        previous = state.get("status")
        news = change(previous, verdict.status)
        events = _announced(scan, pulse, verdict, previous, news, met, score, state, counts)
        if verdict.status:
            counts[verdict.status] += 1
        if not (events or verdict.status or previous):
            return None
        period = str(scan.period)
        fields: dict[str, Any] = {
            "status": verdict.status,
            "institution_id": pulse.institution_id,
            "institution_ids": org["institution_ids"],
            "days_since_last_meeting": verdict.days_since_last_meeting,
            "last_meeting_on": met[0] if met else None,
            "org_life": score.get("org_life"),
            "period": period,
            "checked_at": scan.now,
            "score_id": score_key(period, "branch", org["_id"]),
        }
        if news == "fell_behind":
            fields["since"] = scan.now
        if any(isinstance(p, ReportsMissing) for p, _ in events):
            fields["reports_missing_period"] = period
        if events or any(state.get(k) != fields[k] for k in STATE_FIELDS):
            return org["_id"], fields, events
        return None


COUNTS = ("scanned", "lagging", "at_risk", "fell_behind", "caught_up", "reports_missing")
Write = tuple[str, dict[str, Any], list[Any]]  # a branch, its lagging document's fields, its events


@dataclass(frozen=True)
class _Scan:
    now: datetime
    today: date
    period: Period
    orgs: list[dict[str, Any]]
    ranked: Quarter
    states: dict[str, dict[str, Any]]
    meetings: dict[str, Any]
    announce_missing: bool


def _announced(
    scan: _Scan, pulse: BranchPulse, verdict: Assessment, previous: str | None, news: str | None, met: Any,
    score: dict[str, Any], state: dict[str, Any], counts: dict[str, int],
) -> list[Any]:  # fmt: skip
    """What the branch's lagging document announces: it fell behind or caught up, and near the
    quarter's end the reports it still owes (once a quarter)."""
    events: list[Any] = []
    period, at_worst = str(scan.period), score.get("org_life_if_unmet", score.get("org_life"))
    payload: Any
    if news == "fell_behind":
        payload = BranchFellBehind(
            organization_id=pulse.organization_id, institution_id=pulse.institution_id, status=verdict.status,
            period=period, days_since_last_meeting=verdict.days_since_last_meeting, detected_at=scan.now,
            last_meeting_at=_start_of(pulse.last_meeting_on), org_life_score=at_worst,
        )  # fmt: skip
        events.append((payload, envelope(payload, source=SOURCE, institutionid=pulse.institution_id)))
        counts["fell_behind"] += 1
    elif news == "caught_up":
        payload = BranchCaughtUp(
            organization_id=pulse.organization_id, institution_id=pulse.institution_id, previous_status=previous,
            period=period, caught_up_at=scan.now, meeting_event_id=met[1] if met else None,
        )  # fmt: skip
        events.append((payload, envelope(payload, source=SOURCE, institutionid=pulse.institution_id)))
        counts["caught_up"] += 1
    missing = sorted({*(score.get("missing") or []), *(score.get("pending") or [])})
    if scan.announce_missing and missing and state.get("reports_missing_period") != period:
        payload = ReportsMissing(
            organization_id=pulse.organization_id, institution_id=pulse.institution_id, period=period,
            missing=missing, due_on=scan.period.end, detected_at=scan.now,
        )  # fmt: skip
        events.append((payload, envelope(payload, source=SOURCE, institutionid=pulse.institution_id)))
        counts["reports_missing"] += 1
    return events


def _start_of(day: date | None) -> datetime | None:
    """A meeting day as an instant (its start in Asia/Shanghai): meetings are reported by day."""
    return datetime.combine(day, time(0), SHANGHAI) if day else None
