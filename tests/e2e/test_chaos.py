"""The fault campaign's short form (scripts/chaos.py, `make chaos` runs the full one): one trial of a
few hundred events through the L2 batch API, the signed webhook and L3 Kafka while a service is
killed with SIGKILL and restarted; every acknowledged event is stored exactly once by activity and
evaluation. The trial's number rotates with the day, so activity and evaluation are killed in turn
(Kafka and the store need a broker and store of the campaign's own: `make chaos`)."""

from __future__ import annotations

import os
from datetime import date

import chaos  # scripts/, on the path through conftest
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
TARGETS = ("activity", "evaluation")
SERVICES = ("registry", "activity", "evaluation")  # notification plays no part in the count


def test_a_killed_service_loses_no_event_and_counts_none_twice(infra: object) -> None:
    trial = int(os.environ.get("CHAOS_TRIAL") or date.today().toordinal() % len(TARGETS) + 1)
    results = chaos.run([trial], targets=TARGETS, events=300, chunk=20, settle_s=120, services=SERVICES,
                        run_dir=chaos.ROOT / "test-artifacts" / "chaos-ci")
    chaos.Console(width=150).print(chaos.table(results))
    (result,) = results
    assert result.target == chaos.target_of(trial, TARGETS)
    assert result.sent == 300, f"trial {trial}: {result}"
    assert result.lost == 0 and result.duplicates == 0, f"trial {trial} (CHAOS_TRIAL={trial} to repeat): {result}"
    assert result.rejected == 0 and result.unsent == 0, result
    assert result.recovery_s < 120, result
