"""Exports as jobs (issue 17: long work is a job with a status URL): `POST` an export's URL answers
202 at once; the job ends with a `download_url` that serves the same workbook as the synchronous
`GET`, to whoever asked and to the secretariat only; the same export asked again while it runs
joins it; the access rule is the table's own."""

from __future__ import annotations

import io
from typing import Any

import pytest
from alliance_evaluation.domain.periods import Period
from alliance_evaluation.entrypoints.dashboard import exports
from alliance_evaluation.usecases import scoring
from alliance_shared.testing import running_job
from openpyxl import load_workbook

pytestmark = pytest.mark.integration
PERIOD = "2026-Q4"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def cells(body: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    return [[c.value for c in row] for row in sheet.iter_rows()]


@pytest.fixture(scope="module")
async def quarter(service: Any) -> Any:
    s = service
    for inst in ("ix1", "ix2"):
        await s.institution(inst, "private", "L2")
        await s.branch(f"b-{inst}", [inst])
    await s.settle()
    await scoring.rescore(s.ev, Period.parse(PERIOD))
    return s


async def test_an_export_asked_as_a_job_serves_the_same_workbook_as_the_direct_answer(quarter: Any) -> None:
    s = quarter
    sec = s.token()
    asked = await s.client.post("/api/v1/dashboard/exports/heatmap.xlsx", headers=sec, params={"period": PERIOD})
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert asked.headers["location"] == job["status_url"] and job["kind"] == "export"
    ended = await s.until_ended(job["status_url"], sec)
    assert ended["state"] == "succeeded", ended
    result = ended["result"]
    assert result["file_name"] == f"heatmap-{PERIOD}.xlsx" and result["table"] == "heatmap"
    file = await s.client.get(result["download_url"], headers=sec)
    assert file.status_code == 200 and file.headers["content-type"] == XLSX
    assert f'filename="heatmap-{PERIOD}.xlsx"' in file.headers["content-disposition"]
    assert len(file.content) == result["bytes"]
    direct = await s.client.get("/api/v1/dashboard/exports/heatmap.xlsx", headers=sec, params={"period": PERIOD})
    assert direct.status_code == 200
    rows = cells(file.content)
    assert rows == cells(direct.content) and rows[0][0] == "支部编号 Branch ID"
    assert {r[0] for r in rows[1:]} == {"b-ix1", "b-ix2"}


async def test_the_quarters_scores_workbook_is_a_job_too(quarter: Any) -> None:
    s = quarter
    admin = s.token("institution_admin", institution_id="ix1", subject="adm-x1")
    asked = await s.client.post(f"/api/v1/exports/{PERIOD}.xlsx", headers=admin)
    assert asked.status_code == 202, asked.text
    ended = await s.until_ended(asked.headers["location"], admin)
    assert ended["state"] == "succeeded" and ended["result"]["file_name"] == f"scores-{PERIOD}.xlsx"
    assert ended["progress"] == {"done": 2, "total": 2}  # its cards: the institution's and its branch's
    file = await s.client.get(ended["result"]["download_url"], headers=admin)
    direct = await s.client.get(f"/api/v1/exports/{PERIOD}.xlsx", headers=admin)
    assert file.status_code == direct.status_code == 200
    assert cells(file.content) == cells(direct.content)
    shown = {value for row in cells(file.content)[1:] for value in row}
    assert "ix1" in shown and "ix2" not in shown  # the admin's own institution only


async def test_an_export_job_and_its_file_are_for_whoever_asked_and_the_secretariat(quarter: Any) -> None:
    s = quarter
    own = s.token("institution_admin", institution_id="ix1", subject="adm-x1")
    other = s.token("institution_admin", institution_id="ix2", subject="adm-x2")
    params = {"period": PERIOD, "institution_id": "ix1"}
    refused = await s.client.post("/api/v1/dashboard/exports/institution.xlsx", headers=other, params=params)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "institution_id"
    asked = await s.client.post("/api/v1/dashboard/exports/institution.xlsx", headers=own, params=params)
    assert asked.status_code == 202, asked.text
    ended = await s.until_ended(asked.headers["location"], own)
    url = ended["result"]["download_url"]
    assert (await s.client.get(url, headers=own)).status_code == 200
    assert (await s.client.get(url, headers=s.token())).status_code == 200  # the secretariat
    assert (await s.client.get(url, headers=other)).status_code == 403
    assert (await s.client.get(asked.headers["location"], headers=other)).status_code == 403
    missing = await s.client.get("/api/v1/dashboard/exports/files/nope", headers=s.token())
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "job_id"
    assert (await s.client.get(url)).status_code == 401


async def test_the_same_export_asked_again_while_it_runs_joins_it(quarter: Any) -> None:
    s = quarter
    asked = {"table": "scores", "period": PERIOD, "institution_id": None}
    key = exports.job_key(asked, "sec-1")
    running = running_job("export", key, owner="another-replica", at=s.clock.now(), requested_by="sec-1")
    store = s.app.state.jobs.store
    await store.open(running)
    try:
        again = await s.client.post(f"/api/v1/exports/{PERIOD}.xlsx", headers=s.token())
        assert again.status_code == 202 and again.json()["id"] == running["_id"]
        other_person = await s.client.post(f"/api/v1/exports/{PERIOD}.xlsx", headers=s.token(subject="sec-2"))
        assert other_person.json()["id"] != running["_id"]  # each person's own job, and file
        ended = await s.until_ended(other_person.headers["location"], s.token(subject="sec-2"))
        assert ended["state"] == "succeeded" and ended["requested_by"] == "sec-2"
    finally:
        await store.finish(running["_id"], {"state": "succeeded"})
