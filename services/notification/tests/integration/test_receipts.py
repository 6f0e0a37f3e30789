"""Delivery receipts pushed by the providers in their own formats: Alibaba Cloud's SmsReport array and
Tencent Cloud's status callback, matched to the delivery by the serial the provider answered when
sending, each verified by the receipt token in the URL, and read in Chinese when not delivered."""

from __future__ import annotations

import pytest
from alliance_shared.clock import FixedClock
from alliance_shared.contracts.topics import NOTIFICATION_EVENTS
from alliance_shared.testing import TopicReader, wait_for

from .conftest import bearer, org_opened, publish, running, shanghai
from .test_channels import at_risk
from .test_reminders import _eq, deliveries, sent

pytestmark = pytest.mark.integration
PHONE = "13700137000"


def smsreport(biz_id: str, out_id: str, *, success: bool, err_code: str, err_msg: str) -> dict:
    return {
        "phone_number": PHONE,
        "send_time": "2026-09-15 10:00:01",
        "report_time": "2026-09-15 10:00:09",
        "success": success,
        "err_code": err_code,
        "err_msg": err_msg,
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": out_id,
    }


async def test_an_aliyun_smsreport_array_marks_the_sms_failed_with_its_reason_in_chinese_once(
    settings_for, publisher, aliyun, infra, topics
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone=PHONE))
    await publish(publisher, at_risk(clock))
    async with TopicReader(infra.kafka_bootstrap_servers, topics + NOTIFICATION_EVENTS) as announced:
        async with running(settings_for(), clock) as (app, client):
            await wait_for(lambda: _eq(sent(app), 2), timeout_s=60, what="reminders sent")
            sms = (await deliveries(app, channel="sms"))[0]
            assert sms["provider"] == "aliyun" and sms["provider_message_id"]  # SendSms's BizId
            push = [
                smsreport(
                    sms["provider_message_id"],
                    sms["_id"],
                    success=False,
                    err_code="isv.MOBILE_NUMBER_ILLEGAL",
                    err_msg=f"非法手机号 {PHONE}",
                ),
                smsreport("biz-of-another-system", "", success=True, err_code="DELIVERED", err_msg="ok"),
            ]
            # the URL configured in the Aliyun console: the platform's general receipt URL + token
            first = await client.post("/api/v1/receipts", params={"token": "receipt-token"}, json=push)
            again = await client.post("/api/v1/receipts/aliyun?token=receipt-token", json=push)
            forged = await client.post("/api/v1/receipts/aliyun?token=guess", json=push)
            not_array = await client.post("/api/v1/receipts/aliyun?token=receipt-token", json={"a": 1})
            broken = await client.post(
                "/api/v1/receipts/aliyun?token=receipt-token", json=[{"success": True}]
            )
            shown = (await client.get(f"/api/v1/deliveries/{sms['_id']}", headers=bearer())).json()
            await announced.wait_for_events(1, where=lambda e: e.data["status"] == "failed")
    assert first.status_code == 200
    assert first.json() | {"rejected": []} == {
        "code": 0,
        "msg": "接收成功",
        "delivered": 0,
        "failed": 1,
        "duplicates": 0,
        "unmatched": ["biz-of-another-system"],
        "rejected": [],
    }
    assert again.status_code == 200 and (again.json()["duplicates"], again.json()["failed"]) == (1, 0)
    assert forged.status_code == 401 and forged.json()["error"]["field"] == "X-Receipt-Token"
    assert not_array.status_code == 422 and not_array.json()["error"]["field"] == "body"
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "[0].biz_id"

    assert shown["status"] == "failed" and shown["reason_zh"] == "手机号码格式错误"
    last = shown["history"][-1]
    assert (last["status"], last["code"], last["reason_zh"], last["note"]) == (
        "failed",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "手机号码格式错误",
        "receipt",
    )
    assert PHONE not in str(shown)  # the provider's message quoted the number: redacted
    failed = [e for e in announced.events() if e.data["status"] == "failed"]
    assert [(e.data["error_code"], e.data["reason_zh"]) for e in failed] == [
        ("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误")
    ]


async def test_a_tencent_status_callback_marks_the_sms_delivered_by_its_serial_number(
    settings_for, publisher, tencent
):
    clock = FixedClock(shanghai(2026, 9, 15, 10, 0))
    await publish(publisher, org_opened("org-x", "inst-x", email="li@bank.example", phone=PHONE))
    await publish(publisher, at_risk(clock))
    settings = settings_for(sms_provider="tencent", sms_fallback_provider=None)
    async with running(settings, clock) as (app, client):
        await wait_for(lambda: _eq(sent(app, channel="sms"), 1), timeout_s=60, what="the SMS sent")
        sms = (await deliveries(app, channel="sms"))[0]
        assert sms["provider"] == "tencent" and sms["provider_message_id"]  # SendSms's SerialNo
        callback = [
            {
                "user_receive_time": "2026-09-15 10:00:09",
                "nationcode": "86",
                "mobile": PHONE,
                "report_status": "SUCCESS",
                "errmsg": "DELIVRD",
                "description": "用户短信送达成功",
                "sid": sms["provider_message_id"],
            }
        ]
        answer = await client.post(
            "/api/v1/receipts/tencent", json=callback, headers={"X-Receipt-Token": "receipt-token"}
        )
        # the same serial from the other provider's format is not this delivery
        elsewhere = await client.post(
            "/api/v1/receipts/aliyun?token=receipt-token",
            json=[smsreport(sms["provider_message_id"], "", success=False, err_code="X", err_msg="")],
        )
        shown = (await client.get(f"/api/v1/deliveries/{sms['_id']}", headers=bearer())).json()
    assert answer.status_code == 200
    assert (answer.json()["result"], answer.json()["errmsg"], answer.json()["delivered"]) == (0, "OK", 1)
    assert elsewhere.json()["unmatched"] == [sms["provider_message_id"]]
    assert shown["status"] == "delivered" and shown["reason_zh"] is None
    assert [h["status"] for h in shown["history"]] == ["queued", "sent", "delivered"]
