"""The fault campaign's short form (scripts/chaos.py, `make chaos` runs the full one): one trial of a
few hundred events through the L1 upload, the L2 batch API, the signed webhook and L3 Kafka (signed
records, the principal check on) while a service is killed with SIGKILL and restarted, and while a
burst of lagging branches is reminded; every acknowledged event is stored exactly once by activity
and evaluation, each branch's secretary is reminded exactly once, and no service said it was ready
while one of its consumers was not consuming. The trial's number rotates with the day, so activity,
evaluation and notification are killed in turn (Kafka, the store and registry: `make chaos`)."""

from __future__ import annotations

import os
from datetime import date

import chaos  # scripts/, on the path through conftest
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TARGETS = ("activity", "evaluation", "notification")
BRANCHES = 6


def test_a_killed_service_loses_no_event_counts_none_twice_and_reminds_once(infra: object) -> None:
    trial = int(os.environ.get("CHAOS_TRIAL") or date.today().toordinal() % len(TARGETS) + 1)
    results = chaos.run([trial], targets=TARGETS, events=300, chunk=20, settle_s=120, branches=BRANCHES,
                        run_dir=chaos.ROOT / "test-artifacts" / "chaos-ci")
    chaos.Console(width=150).print(chaos.table(results))
    (result,) = results
    assert result.target == chaos.target_of(trial, TARGETS)
    assert result.sent == 300, f"trial {trial}: {result}"
    assert result.lost == 0 and result.duplicates == 0, f"trial {trial} (CHAOS_TRIAL={trial} to repeat): {result}"
    assert result.rejected == 0 and result.unsent == 0, result
    # each branch reminded once; a kill mid-send may leave the sends in flight in doubt, up to the
    # dispatcher's concurrency (notification sends at most once: each is dead-lettered as
    # outcome_unknown once the send lease passes), none missing
    assert result.reminders_twice == 0 and result.reminders_missing == 0, result
    assert result.reminders_in_doubt <= chaos.IN_DOUBT_AT_MOST, result
    assert result.reminders >= BRANCHES - result.reminders_in_doubt, result
    assert not result.ready_lies, result.ready_lies
    assert result.recovery_s < 120, result


@pytest.mark.unit
def test_the_readiness_watch_calls_ready_with_a_standing_backlog_a_lie_and_a_slow_consumer_not() -> None:
    from chaos_watch import ReadinessWatch, Sample

    watch = ReadinessWatch({}, "", "")
    # ready for 40 s with a backlog and no commit: a consumer that died while readiness said yes
    watch.samples["notification"] = [Sample(float(t), True, 413, 1000) for t in range(41)]
    # catching up slowly (commits move) or not ready while stuck: the truth
    watch.samples["evaluation"] = [Sample(float(t), True, 500, 1000 + t // 10) for t in range(60)]
    watch.samples["activity"] = [Sample(float(t), t > 50, 200, 7) for t in range(60)]
    # the broker could not be asked: not judged
    watch.samples["registry"] = [Sample(float(t), True, None, 0) for t in range(60)]
    (lie,) = watch.lies(stall_s=30)
    assert lie.service == "notification" and lie.seconds == 40 and lie.backlog == 413


@pytest.mark.unit
def test_a_reminder_interrupted_mid_send_is_in_doubt_and_one_never_sent_is_not() -> None:
    from chaos_reminders import in_doubt, sent

    interrupted = [{"channel": "email", "status": "sending", "history": []},
                   {"channel": "sms", "status": "failed",
                    "history": [{"status": "failed", "code": "outcome_unknown", "note": "dead_letter"}]}]
    assert in_doubt(interrupted, "email") and in_doubt(interrupted, "sms") and sent(interrupted, "sms") == 0
    # refused by the provider, or still waiting: a reminder not sent, which is not in doubt
    refused = [{"channel": "sms", "status": "failed", "history": [{"status": "failed", "code": "invalid_phone"}]},
               {"channel": "email", "status": "queued", "history": []}]
    assert not in_doubt(refused, "sms") and not in_doubt(refused, "email")
    assert sent([{"channel": "sms", "status": "delivered", "history": []}], "sms") == 1
