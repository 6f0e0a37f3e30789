"""The ruleset lifecycle: a draft is checked and stored, replayed over chosen past quarters for every
institution (a what-if job: 202 and a status to poll), compared with the ruleset in force; then
proposed for publication with the quarters it will score, and published only when a second
secretariat user approves. Every step is audited. The published rulesets are kept in memory per
process (`Evaluation.in_force`), reloaded on a timer, so a rescore asks the store nothing for them.

The replay reads each quarter's facts once for all institutions (the quarter's activity in one read,
the organisations, members and institutions each in one `$in`), then scores them twice in memory —
under the ruleset in force and under the draft — in a thread."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from alliance_shared.auth import Principal
from alliance_shared.contracts.vocabulary import Role
from alliance_shared.errors import Conflict, Forbidden, Invalid, NotFound
from alliance_shared.ids import uuid4
from alliance_shared.runtime import Runtime, every
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.rulesets import RulesetStore
from ..domain.drafts import DraftInvalid, Problem, canonical, validate
from ..domain.facts import PeriodFacts
from ..domain.periods import Period, local_day
from ..domain.ruleset import Ruleset, available_versions
from ..domain.scoring import score_period
from ..domain.whatif import Move, compare, summary
from . import audit
from .unit import EvaluationUnit

log = logging.getLogger(__name__)
IN_FORCE_INTERVAL_S = 30.0
MAX_PERIODS = 8
SORTS = ("rank_change", "score_delta", "grade_changed", "id")
Doc = dict[str, Any]


class RequestWhatIf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    periods: list[str] = Field(min_length=1, max_length=MAX_PERIODS)


class ProposePublication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    periods: list[str] = Field(min_length=1, max_length=MAX_PERIODS)
    note: str = Field(default="", max_length=2000)


class DecidePublication(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: str = Field(pattern="^(approve|reject)$")
    comment: str = Field(default="", max_length=2000)


def _periods(texts: list[str]) -> list[Period]:
    found: list[Period] = []
    for n, text in enumerate(texts):
        try:
            p = Period.parse(text)
        except Exception:
            raise Invalid(
                f"季度格式应为 2026-Q3 / a quarter such as 2026-Q3: {text!r}", field=f"periods[{n}]"
            ) from None
        if p not in found:
            found.append(p)
    return sorted(found, key=str)


def shown_draft(doc: Doc) -> Doc:
    out = {k: v for k, v in doc.items() if k not in ("_id", "raw_json", "text")}
    out["id"] = doc["_id"]
    if "raw_json" in doc:
        out["ruleset"] = json.loads(doc["raw_json"])
    return out


def shown_job(doc: Doc) -> Doc:
    out = {k: v for k, v in doc.items() if k != "_id"}
    out["id"] = doc["_id"]
    out["status_url"] = f"/api/v1/rulesets/whatif/{doc['_id']}"
    return out


def _both(facts: PeriodFacts, period: Period, in_force: Ruleset, draft: Ruleset, ids: list[str],
          today: date) -> tuple[list[Move], float]:  # fmt: skip
    """Score the period under both rulesets and compare (CPU only: run in a thread)."""
    started = time.perf_counter()
    before = score_period(facts, period, in_force, ids, today=today)
    after = score_period(facts, period, draft, ids, today=today)
    return compare(before, after), time.perf_counter() - started


class RulesetLifecycle:
    def __init__(self, ev: EvaluationUnit, store: RulesetStore) -> None:
        self.ev = ev
        self.store = store
        self._tasks: set[asyncio.Task[None]] = set()

    # -- drafts -------------------------------------------------------------------------------
    async def create(self, raw: dict[str, Any], who: Principal, *, text: str | None, source: str) -> Doc:
        who.require_role(Role.SECRETARIAT)
        rs = validate(raw)  # DraftInvalid names every problem
        if rs.version in available_versions() or any(d["version"] == rs.version for d in await self.store.published()):
            raise DraftInvalid(
                [Problem("version", f"版本号 {rs.version} 已发布，请换一个 / version already published")]
            )
        now = self.ev.clock.now()
        doc: dict[str, Any] = {
            "_id": f"rsd-{uuid4().hex[:12]}", "version": rs.version, "name": rs.name, "status": "draft",
            "raw_json": json.dumps(canonical(raw), ensure_ascii=False), "text": text, "source": source,
            "created_by": who.subject, "created_at": now, "rev": 0, "whatif_job": None,
            "proposal": None, "decision": None, "periods": [],
        }  # fmt: skip
        if not await self.store.add_draft(doc):
            raise DraftInvalid(
                [Problem("version", f"已有同版本号的草案 {rs.version} / a draft of this version exists")]
            )
        await self._audit("ruleset.draft_created", who, doc)
        return shown_draft(doc)

    async def draft(self, draft_id: str, who: Principal) -> Doc:
        who.require_role(Role.SECRETARIAT, Role.REGULATOR)
        return shown_draft(await self._draft(draft_id)) | {
            "jobs": [shown_job(j) for j in await self.store.jobs_of(draft_id)]
        }

    async def drafts(self, who: Principal) -> list[Doc]:
        who.require_role(Role.SECRETARIAT, Role.REGULATOR)
        return [shown_draft(d) for d in await self.store.drafts()]

    async def _draft(self, draft_id: str) -> Doc:
        doc = await self.store.draft(draft_id)
        if doc is None:
            raise NotFound("没有该评价细则草案 / no such draft ruleset", field="draft_id")
        return doc

    def ruleset_of(self, doc: Doc) -> Ruleset:
        return validate(json.loads(doc["raw_json"]))

    # -- what-if ------------------------------------------------------------------------------
    async def start_whatif(self, draft_id: str, body: RequestWhatIf, who: Principal) -> Doc:
        who.require_role(Role.SECRETARIAT)
        doc = await self._draft(draft_id)
        periods = _periods(body.periods)
        current = Period.of_instant(self.ev.clock.now())
        for n, p in enumerate(periods):
            if str(p) > str(current):
                raise Invalid(f"只能回放已开始的季度 / {p} has not begun", field=f"periods[{n}]")
        now = self.ev.clock.now()
        job = {
            "_id": f"wif-{uuid4().hex[:12]}", "draft_id": draft_id, "version": doc["version"],
            "periods": [str(p) for p in periods], "status": "queued", "started_by": who.subject,
            "started_at": now, "finished_at": None, "error": None,
            "progress": {"done": 0, "total": len(periods), "period": None, "phase": "queued"},
            "summary": {}, "in_force": {}, "timings": {},
        }  # fmt: skip
        await self.store.add_job(job)
        if not await self.store.change_draft(draft_id, doc["rev"], {"whatif_job": job["_id"]}):
            raise Conflict("草案刚被修改，请重试 / the draft changed meanwhile: try again", field="draft_id")
        task = asyncio.create_task(self._run(job, self.ruleset_of(doc)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return shown_job(job)

    async def _run(self, job: Doc, draft: Ruleset) -> None:
        job_id, periods = job["_id"], [Period.parse(p) for p in job["periods"]]
        summaries: Doc = {}
        in_force: Doc = {}
        timings: Doc = {}
        try:
            for k, period in enumerate(periods):
                p = str(period)
                await self.store.note_job(job_id, {"status": "running", "progress": {
                    "done": k, "total": len(periods), "period": p, "phase": "loading"}})  # fmt: skip
                t0 = time.perf_counter()
                facts, ids, today = await self.facts_of(period)
                loaded = time.perf_counter() - t0
                await self.store.note_job(job_id, {"progress": {
                    "done": k, "total": len(periods), "period": p, "phase": "scoring"}})  # fmt: skip
                rs = self.ev.ruleset_for(p)
                moves, scored = await asyncio.to_thread(_both, facts, period, rs, draft, ids, today)
                t1 = time.perf_counter()
                await self.store.add_rows(_rows(job_id, p, moves, facts))
                summaries[p] = summary(moves)
                in_force[p] = rs.version
                timings[p] = {"load_s": round(loaded, 3), "score_s": round(scored, 3),
                              "write_s": round(time.perf_counter() - t1, 3), "institutions": len(ids)}  # fmt: skip
                await self.store.note_job(job_id, {"summary": summaries, "in_force": in_force, "timings": timings,
                                                   "progress": {"done": k + 1, "total": len(periods), "period": p,
                                                                "phase": "written"}})  # fmt: skip
            older = [j["_id"] for j in await self.store.jobs_of(job["draft_id"]) if j["_id"] != job_id]
            await self.store.drop_rows(older)
            await self.store.note_job(job_id, {"status": "done", "finished_at": self.ev.clock.now()})
        except Exception as exc:
            log.exception("what-if job %s failed", job_id)
            await self.store.note_job(job_id, {"status": "failed", "finished_at": self.ev.clock.now(),
                                               "error": f"回放失败 / replay failed: {type(exc).__name__}"})  # fmt: skip

    async def facts_of(self, period: Period) -> tuple[PeriodFacts, list[str], date]:
        """Every institution's facts of `period`, read once: a closed quarter as it was frozen."""
        pj = self.ev.projections
        closed = await self.ev.models.period(str(period))
        received_by = closed.get("closed_at") if closed and closed.get("status") == "closed" else None
        ids, reviews, quarter = await asyncio.gather(
            pj.institutions_to_score(), pj.reviews(period), pj.quarter_activities(period)
        )
        facts = await pj.load_facts(period, ids, received_by, reviews=reviews, quarter=quarter)
        today = local_day(received_by or self.ev.clock.now())
        return facts, [i for i in ids if i in facts.institutions], today

    async def job(self, job_id: str, who: Principal) -> Doc:
        who.require_role(Role.SECRETARIAT, Role.REGULATOR)
        doc = await self.store.job(job_id)
        if doc is None:
            raise NotFound("没有该回放任务 / no such what-if job", field="job_id")
        return shown_job(doc)

    async def rows(self, job_id: str, who: Principal, *, period: str, level: str, changed_only: bool,
                   sort: str, page: int, page_size: int) -> Doc:  # fmt: skip
        job = await self.job(job_id, who)
        p = str(Period.parse(period))
        if p not in job["periods"]:
            raise Invalid(f"该任务未回放 {p} / the job did not replay {p}", field="period")
        if sort not in SORTS:
            raise Invalid(f"排序可用：{'、'.join(SORTS)} / sort by one of {', '.join(SORTS)}", field="sort")
        rows = [r for r in await self.store.rows(job_id, p, level) if r.get("changed") or not changed_only]
        if sort == "rank_change":
            rows.sort(key=lambda r: (-abs(r.get("rank_change") or 0), -abs(r["score_delta"]), r["id"]))
        elif sort == "score_delta":
            rows.sort(key=lambda r: (-abs(r["score_delta"]), r["id"]))
        elif sort == "grade_changed":
            rows.sort(key=lambda r: (not r["grade_changed"], -abs(r["score_delta"]), r["id"]))
        else:
            rows.sort(key=lambda r: r["id"])
        start = (page - 1) * page_size
        items = [{k: v for k, v in r.items() if k not in ("_id", "job_id")} for r in rows[start : start + page_size]]
        return {"items": items, "total": len(rows), "page": page, "page_size": page_size}

    # -- publication --------------------------------------------------------------------------
    async def propose(self, draft_id: str, body: ProposePublication, who: Principal) -> Doc:
        who.require_role(Role.SECRETARIAT)
        doc = await self._draft(draft_id)
        if doc["status"] != "draft":
            raise Conflict(f"草案状态为 {doc['status']}，不能再提请发布 / the draft is {doc['status']}", field="status")
        job = await self.store.job(doc["whatif_job"]) if doc.get("whatif_job") else None
        if job is None or job["status"] != "done":
            raise Conflict("发布前须先完成一次回放并查看差异 / replay it (what-if) before proposing it",
                           field="whatif_job", code="whatif_required")  # fmt: skip
        periods = _periods(body.periods)
        closed = await self.ev.models.closed_periods()
        for n, p in enumerate(periods):
            if str(p) in closed:
                raise Conflict(f"{p} 已关闭，评分已冻结 / {p} is closed: its scores are frozen", field=f"periods[{n}]",
                               code="period_closed")  # fmt: skip
        proposal = {"by": who.subject, "at": self.ev.clock.now(), "periods": [str(p) for p in periods],
                    "note": body.note, "whatif_job": job["_id"]}  # fmt: skip
        if not await self.store.change_draft(draft_id, doc["rev"], {"status": "proposed", "proposal": proposal}):
            raise Conflict("草案刚被修改，请重试 / the draft changed meanwhile: try again", field="draft_id")
        await self._audit("ruleset.proposed", who, doc, periods=proposal["periods"], note=body.note)
        return shown_draft(await self._draft(draft_id))

    async def decide(self, draft_id: str, body: DecidePublication, who: Principal) -> Doc:
        who.require_role(Role.SECRETARIAT)
        doc = await self._draft(draft_id)
        if doc["status"] != "proposed":
            raise Conflict(f"草案状态为 {doc['status']}，没有待批准的发布 / nothing awaits approval", field="status")
        proposal = doc["proposal"]
        if who.subject in (proposal["by"], doc["created_by"]):
            raise Forbidden("须由起草人和提请人以外的另一位秘书处人员批准 / a second secretariat user "
                            "(not its author or proposer) must decide", field="approver",
                            code="second_approver_required")  # fmt: skip
        now = self.ev.clock.now()
        decision = {"by": who.subject, "at": now, "decision": body.decision, "comment": body.comment}
        if body.decision == "reject":
            fields: Doc = {"status": "draft", "decision": decision, "proposal": None,
                           "rejected": [*(doc.get("rejected") or []), {**proposal, "decision": decision}]}  # fmt: skip
        else:
            closed = await self.ev.models.closed_periods()
            late = [p for p in proposal["periods"] if p in closed]
            if late:
                raise Conflict(f"{'、'.join(late)} 已关闭 / closed meanwhile", field="periods", code="period_closed")
            fields = {"status": "published", "decision": decision, "periods": proposal["periods"], "published_at": now}
        if not await self.store.change_draft(draft_id, doc["rev"], fields):
            raise Conflict("草案刚被修改，请重试 / the draft changed meanwhile: try again", field="draft_id")
        action = "ruleset.published" if body.decision == "approve" else "ruleset.rejected"
        await self._audit(
            action, who, doc, periods=proposal["periods"], proposed_by=proposal["by"], comment=body.comment
        )
        if body.decision == "approve":
            await self.refresh_in_force()
            ids = await self.ev.projections.institutions_to_score()
            await self.ev.models.mark_dirty_many({p: set(ids) for p in proposal["periods"]}, now)
        return shown_draft(await self._draft(draft_id))

    # -- the rulesets in force ----------------------------------------------------------------
    async def refresh_in_force(self) -> dict[str, str]:
        """Period → the ruleset published for it (the latest publication wins), into `ev.in_force`."""
        found: dict[str, Ruleset] = {}
        for doc in sorted(await self.store.published(), key=lambda d: d["published_at"]):
            rs = self.ruleset_of(doc)
            for p in doc.get("periods", []):
                found[p] = rs
        self.ev.in_force = found
        return {p: rs.version for p, rs in found.items()}

    def loop(self) -> Callable[[Runtime], Awaitable[None]]:
        async def reload(_: Runtime) -> None:
            await every(IN_FORCE_INTERVAL_S, self.refresh_in_force, name="rulesets-in-force")

        return reload

    async def _audit(self, action: str, who: Principal, doc: Doc, **more: Any) -> None:
        await audit.record(self.ev.models.trail, who, action, "ruleset", doc["_id"], self.ev.clock.now(),
                           version=doc["version"], **more)  # fmt: skip


def _rows(job_id: str, period: str, moves: list[Move], facts: PeriodFacts) -> list[Doc]:
    def name(m: Move) -> str:
        if m.level == "institution":
            inst = facts.institutions.get(m.id)
            return inst.name if inst else m.id
        branch = facts.branches.get(m.id)
        return branch.name if branch else m.id

    return [
        {"_id": f"{job_id}|{period}|{m.level}|{m.id}", "job_id": job_id, "period": period, "name": name(m),
         **m.as_dict()}
        for m in moves
    ]  # fmt: skip
