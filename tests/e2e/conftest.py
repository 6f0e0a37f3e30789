"""The end-to-end platform: the four services as real processes (`running_platform`) on free ports,
against the session's real Kafka and store, with a fresh topic prefix and their own databases,
exporting traces to a local OTLP collector and sending SMS to a signature-checking Aliyun stand-in.
Service logs and the dev mail inbox are kept under test-artifacts/e2e/ for a failed run."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts"))  # demo_ids: valid USCCs and ID numbers

from alliance_localinfra._proc import free_ports  # noqa: E402
from alliance_localinfra.platform import SERVICES, DevMailbox, running_platform  # noqa: E402
from alliance_shared.testing import namespace  # noqa: E402
from e2e_alliance import Alliance, register_alliance  # noqa: E402
from e2e_api import Platform  # noqa: E402
from e2e_outside import AliyunSmsStandIn, OtlpCollector  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
SECRETARIAT_EMAIL = "mishuchu@e2e.alliance.example"


@dataclass
class Outside:
    collector: OtlpCollector
    sms: AliyunSmsStandIn
    mailbox: DevMailbox


@pytest.fixture(scope="session")
def outside() -> Iterator[Outside]:
    with OtlpCollector() as collector, AliyunSmsStandIn() as sms:
        yield Outside(collector, sms, None)  # type: ignore[arg-type] # the mailbox comes with the platform


@pytest.fixture(scope="session")
def platform(infra: object, outside: Outside) -> Iterator[Platform]:
    ns = namespace("e2e")
    run_dir = ARTIFACTS / "e2e"
    shutil.rmtree(run_dir, ignore_errors=True)
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    sms = outside.sms
    extra = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": outside.collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # export spans within a fraction of a second
        "SMS_PROVIDER": "aliyun",
        "ALIYUN_SMS_ENDPOINT": sms.url,
        "ALIYUN_ACCESS_KEY_ID": sms.access_key_id,
        "ALIYUN_ACCESS_KEY_SECRET": sms.access_key_secret,
        "ALIYUN_SMS_SIGN_NAME": "市金融党建联盟",
        "SECRETARIAT_EMAIL": SECRETARIAT_EMAIL,
        "DISPATCH_INTERVAL_S": "0.5",
        "RESCORE_INTERVAL_S": "1",
        # activity requires each L3 record's signed principal, as in production (off by default in
        # development); the suite's producers sign theirs, and the demo's
        "L3_PRINCIPAL_CHECK": "true",
    }
    per_service = {name: {"MONGODB_DATABASE": f"{ns}-{name}"} for name in SERVICES}
    per_service["activity"]["REGISTRY_URL"] = f"http://127.0.0.1:{ports['registry']}"  # the L1 form's names
    with running_platform(ports=ports, topic_prefix=f"{ns}.", run_dir=run_dir, extra_env=extra,
                          per_service_env=per_service) as running:
        outside.mailbox = running["mailbox"]
        yield Platform({n: s.url for n, s in running["services"].items()}, running["infra"], f"{ns}.")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def alliance(platform: Platform) -> Alliance:
    return await register_alliance(platform)
