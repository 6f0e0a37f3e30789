"""How long a draft ruleset's what-if over one quarter for every institution takes, against the
normal rescore of the same quarter measured in the same run (and the one-institution replay,
`?ruleset=`, repeated for a sample of institutions).

    .venv/bin/python -m alliance_localinfra exec -- .venv/bin/python bench/ruleset_whatif.py   # 3,000 branches
    ... bench/ruleset_whatif.py --size city                                                     # 30,000 branches

Loads the synthetic alliance of `evaluation_rescore.py` (`--size default`: 300 institutions, 3,000
branches, 10,000 members, 20,000 activity events in the quarter) into a fresh database of the store
at MONGODB_URI, then, in this process: the service's rescore of the quarter (every card new: load,
score, write); the what-if job of draft 2026.2 (the quarter's facts read once, scored under the
ruleset in force and under the draft, compared, the rows written); and `replay` of single
institutions, the only replay there was before, for `--sample` institutions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alliance_evaluation.usecases import scoring

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluation_rescore import SIZES, _insert, city_documents


async def run(counts: tuple[int, int, int, int], period_text: str, sample: int) -> None:
    import yaml
    from alliance_evaluation.adapters import projections as pj
    from alliance_evaluation.adapters import ranks
    from alliance_evaluation.adapters import readmodels as rm
    from alliance_evaluation.adapters import rulesets as rstore
    from alliance_evaluation.adapters.projections import Projections
    from alliance_evaluation.adapters.readmodels import ReadModels
    from alliance_evaluation.domain.periods import Period
    from alliance_evaluation.domain.ruleset import RULESET_DIR, load_ruleset
    from alliance_evaluation.settings import EvaluationSettings
    from alliance_evaluation.usecases.rulesets import RequestWhatIf, RulesetLifecycle
    from alliance_evaluation.usecases.unit import EvaluationUnit
    from alliance_shared.auth import Principal
    from alliance_shared.clock import FixedClock
    from alliance_shared.contracts.vocabulary import Role
    from alliance_shared.mongo import connect, ensure_indexes
    from alliance_shared.testing import namespace

    period = Period.parse(period_text)
    uri = os.environ.get("MONGODB_URI", "mongodb://127.0.0.1:27017")
    db_name = namespace("bench-whatif").replace("-", "_")
    client = connect(uri)
    db = client[db_name]
    try:
        await ensure_indexes(db, [*pj.INDEXES, *rm.INDEXES, *ranks.INDEXES, *rstore.INDEXES])
        docs = city_documents(*counts, period)
        for name, items in docs.items():
            took = await _insert(db[name], items)
            print(f"  loaded {len(items):>7,} {name:<13} {took:6.1f}s", flush=True)
        del docs
        clock = FixedClock(datetime.combine(period.end + timedelta(days=5), datetime.min.time(), UTC))
        settings = EvaluationSettings(mongodb_database=db_name)
        ev = EvaluationUnit(Projections(db), ReadModels(db), load_ruleset("2026.1"), clock, settings)
        life = RulesetLifecycle(ev, rstore.RulesetStore(lambda: db))
        who = Principal(subject="bench", role=Role.SECRETARIAT)

        t0 = time.perf_counter()
        changed = await scoring.rescore(ev, period, trigger="bench")
        rescore_s = time.perf_counter() - t0
        print(f"  baseline: the normal rescore of {period}, every card new   {rescore_s:7.1f}s ({changed:,} cards)")

        raw = yaml.safe_load((RULESET_DIR / "2026.2.yaml").read_text(encoding="utf-8")) | {"version": "bench-2026.2"}
        draft = await life.create(raw, who, text=None, source="json")
        t1 = time.perf_counter()
        job = await life.start_whatif(draft["id"], RequestWhatIf(periods=[str(period)]), who)
        seen = None
        while True:
            job = await life.job(job["id"], who)
            progress = (job["status"], job["progress"]["phase"])
            if progress != seen:
                print(f"    what-if {job['status']:<8} {job['progress']['phase']:<8} "
                      f"{time.perf_counter() - t1:6.1f}s", flush=True)  # fmt: skip
                seen = progress
            if job["status"] in ("done", "failed"):
                break
            await asyncio.sleep(0.1)
        whatif_s = time.perf_counter() - t1
        if job["status"] != "done":
            raise SystemExit(f"the what-if failed: {job['error']}")
        phases = job["timings"][str(period)]
        s = job["summary"][str(period)]
        print(f"  what-if of draft 2026.2 for all {phases['institutions']:,} institutions       {whatif_s:7.1f}s "
              f"(load {phases['load_s']:.1f}s, score twice + compare {phases['score_s']:.1f}s, "
              f"rows {phases['write_s']:.1f}s)")  # fmt: skip
        print(f"    moved: {s['institution']['changed']:,} of {s['institution']['objects']:,} institutions "
              f"({s['institution']['grade_changes']:,} change grade), {s['branch']['changed']:,} of "
              f"{s['branch']['objects']:,} branches")  # fmt: skip

        ids = await ev.projections.institutions_to_score()
        picked = ids[:: max(1, len(ids) // sample)][:sample]
        t2 = time.perf_counter()
        for inst in picked:
            await scoring.replay(ev, period, inst, "2026.2")
        one_s = (time.perf_counter() - t2) / len(picked)
        print(f"  one-institution replay (?ruleset=), mean of {len(picked)}            {one_s:7.2f}s each, "
              f"{one_s * len(ids):.1f}s extrapolated to all {len(ids):,}")  # fmt: skip
        print(f"  ratio what-if ÷ normal rescore {whatif_s / rescore_s:.2f}×; "
              f"one-by-one replay of all ÷ what-if {one_s * len(ids) / whatif_s:.1f}×")  # fmt: skip
    finally:
        await client.drop_database(db_name)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--period", default="2026-Q3")
    parser.add_argument("--size", choices=sorted(SIZES), default="default")
    parser.add_argument("--sample", type=int, default=10, help="institutions replayed one by one")
    args = parser.parse_args()
    counts = SIZES[args.size]
    print(f"what-if of a draft ruleset over {args.period}: {counts[0]:,} institutions, {counts[1]:,} branches, "
          f"{counts[2]:,} members, {counts[3]:,} events")  # fmt: skip
    asyncio.run(run(counts, args.period, args.sample))


if __name__ == "__main__":
    main()
