"""Property-based fuzzing of every service's OpenAPI with schemathesis against the services running as
processes (real Kafka and store): a few generated requests per operation, as the secretariat, must
never be answered 5xx nor with a status the operation does not document, and every 4xx must be the
contract's error shape `{"error": {"code", "message", "field"?}}` as JSON. The same again with a live
institution API key over the services that take one (registry and activity: the routes an
institution's system calls). Bounded (EXAMPLES per operation and mode, no shrinking) to stay within
CI's budget; a failure lists every operation that failed, with the request to repeat it."""

from __future__ import annotations

import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from alliance_localinfra._proc import free_ports
from alliance_localinfra.platform import SERVICES, running_platform
from alliance_shared.auth import mint_token
from alliance_shared.settings import DEV_JWT_SECRET
from alliance_shared.testing import namespace
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 2  # generated requests per operation and mode (valid, invalid)
# what the fuzzer does not call: the probes and metrics answer no input, and these run on purpose
# what a real secretariat starts deliberately (a period closed freezes it for the rest of the run)
# NUL characters are generated too: every service refuses them with 422 (alliance_shared.bounds)
CONFIG = schemathesis.Config.from_dict({"generation": {"allow-x00": True}})
SKIPPED = {"/healthz", "/readyz", "/metrics", "/api/v1/periods/{period}/close"}
KEYED_SERVICES = ("registry", "activity")  # where an institution's system authenticates with its API key


@pytest.fixture(scope="module")
def institution_key(services: dict[str, str]) -> str:
    """A live API key of an L3 institution registered by the secretariat (with a branch), once
    activity knows it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo_ids import make_uscc

    secretariat = {"Authorization": f"Bearer {mint_token(DEV_JWT_SECRET, role='secretariat', subject='fuzz')}"}
    registry = requests.Session()
    registry.headers.update(secretariat)

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = registry.post(f"{services['registry']}{path}", json=body, timeout=30)
        assert answer.status_code == 201, f"POST {path}: {answer.status_code} {answer.text[:300]}"
        created: dict[str, Any] = answer.json()
        return created

    inst = post("/api/v1/institutions", {
        "uscc": make_uscc(random.Random()), "name": "模糊测试金融服务有限公司", "ownership": "private",
        "sector": "金融科技", "party_org_status": "established_complete", "reporting_level": "L3"})
    post("/api/v1/organizations", {"name": "模糊测试支部", "kind": "branch", "institution_ids": [inst["id"]],
                                   "parent_id": None, "secretary": {"name": "书记", "phone": "13900000012",
                                                                    "email": "fuzz-zb@alliance.example"}})
    api_key = str(post(f"/api/v1/institutions/{inst['id']}/api-keys", {"label": "fuzz"})["api_key"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the key reaches activity over registry.events.v1
        if requests.get(f"{services['activity']}/api/v1/submissions", headers={"X-Api-Key": api_key},
                        timeout=30).status_code == 200:
            return api_key
        time.sleep(0.5)
    raise AssertionError("activity did not learn the institution's API key within 60 s")


@pytest.fixture(scope="module")
def services(infra: object) -> Iterator[dict[str, str]]:
    ns = namespace("fuzz")
    run_dir = ROOT / "test-artifacts" / "fuzz"
    shutil.rmtree(run_dir, ignore_errors=True)
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    per_service = {name: {"MONGODB_DATABASE": f"{ns}-{name}"} for name in SERVICES}
    with running_platform(ports=ports, topic_prefix=f"{ns}.", run_dir=run_dir, per_service_env=per_service,
                          extra_env={"LOG_LEVEL": "WARNING"}) as running:
        yield {n: s.url for n, s in running["services"].items()}


def error_shape_problem(answer: schemathesis.Response) -> str | None:
    """Why a 4xx answer is not the contract's error body, or None."""
    content_type = ",".join(answer.headers.get("content-type", []))
    if not content_type.startswith("application/json"):
        return f"content-type {content_type!r}"
    try:
        body: Any = answer.json()
    except ValueError:
        return "not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or set(body) != {"error"}:
        return f"not {{'error': {{…}}}}: {str(body)[:200]}"
    if not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return f"error without code and message: {error}"
    if error.get("field") is not None and not isinstance(error["field"], str):
        return f"field not a string: {error}"
    return None


def fuzz_operation(operation: schemathesis.APIOperation, mode: GenerationMode, call: Any,
                   sent: Counter[int]) -> list[str]:
    """Up to three problems of one operation's generated requests (positive: valid by the schema;
    negative: each violating it somewhere)."""
    found: list[str] = []
    documented = set(operation.definition.raw.get("responses", {}))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        answer = call(case)
        sent[answer.status_code] += 1
        problem = None
        if str(answer.status_code) not in documented and "default" not in documented:
            problem = f"{answer.status_code} is not among the documented answers {sorted(documented)}"
        elif answer.status_code >= 500:
            problem = f"{answer.status_code} {answer.text[:200]}"
        elif answer.status_code >= 400:
            problem = error_shape_problem(answer)
        if problem and len(found) < 3:
            request = answer.request
            body = request.body[:300] if isinstance(request.body, bytes | str) else ""
            found.append(f"{operation.label} ({mode.value}): {problem}\n    {request.method} {request.url} {body!r}")

    try:
        check()
    except Unsatisfiable:  # nothing in the operation to make invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return found


def fuzz(base_url: str, headers: dict[str, str]) -> tuple[Counter[int], list[str]]:
    """(answers by status, problems found) over every operation of the service's OpenAPI."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    session = requests.Session()
    sent: Counter[int] = Counter()
    problems: list[str] = []

    def call(case: schemathesis.Case) -> schemathesis.Response:
        return case.call(base_url=base_url, session=session, headers=headers, timeout=30)

    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path not in SKIPPED:
            # a path parameter is any string: invalid ones are searched for long and rarely found
            invalid = len(operation.body) > 0 or len(operation.query) > 0
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if invalid else (GenerationMode.POSITIVE,):
                problems += fuzz_operation(operation, mode, call, sent)
    return sent, problems


@pytest.mark.parametrize("service", list(SERVICES))
def test_no_generated_request_is_answered_5xx_and_every_error_has_the_error_shape(
    services: dict[str, str], service: str
) -> None:
    # activity's intake is for reporters, not the secretariat: an institution's admin sends there
    claims = {"role": "institution_admin", "institution_id": "fuzz-institution"} if service == "activity" else \
        {"role": "secretariat"}
    token = mint_token(DEV_JWT_SECRET, subject=f"fuzz-{claims['role']}", **claims)
    sent, problems = fuzz(services[service], {"Authorization": f"Bearer {token}"})
    print(f"{service}: {sent.total()} generated requests ({dict(sorted(sent.items()))}), {len(problems)} problems")
    assert sent.total() > 0
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", KEYED_SERVICES)
def test_no_request_generated_with_an_institution_api_key_is_answered_5xx(
    services: dict[str, str], institution_key: str, service: str
) -> None:
    sent, problems = fuzz(services[service], {"X-Api-Key": institution_key})
    print(f"{service} with an API key: {sent.total()} generated requests ({dict(sorted(sent.items()))}), "
          f"{len(problems)} problems")
    assert sent.total() > 0
    assert sent.total() > sent[401], "the key was refused everywhere: nothing an institution uses was fuzzed"
    assert not problems, "\n".join(problems)
