"""Providers' receipts in their own formats, and why a message was not delivered, in Chinese."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from alliance_notification.domain.delivery_reasons import code_of, explain, reason_zh
from alliance_notification.domain.receipts import parse_aliyun, parse_tencent, provider_of

pytestmark = pytest.mark.unit
SH = ZoneInfo("Asia/Shanghai")


def aliyun_report(**fields):
    """One SmsReport item as Alibaba Cloud's HTTP batch push documents it."""
    return {
        "phone_number": "1381111****",
        "send_time": "2026-09-15 10:00:01",
        "report_time": "2026-09-15 10:00:09",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "900319658112345^0",
        "out_id": "delivery-1",
        **fields,
    }


def tencent_report(**fields):
    """One status-callback item as Tencent Cloud documents it."""
    return {
        "user_receive_time": "2026-09-15 10:00:09",
        "nationcode": "86",
        "mobile": "13xxxxxxxxx",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": "2019:538884*****",
        **fields,
    }


def test_an_aliyun_smsreport_array_reads_as_receipts_matched_by_biz_id():
    receipts, refused = parse_aliyun(
        [aliyun_report(), aliyun_report(success=False, err_code="isv.MOBILE_NUMBER_ILLEGAL", biz_id="b2")]
    )
    assert refused == []
    first, second = receipts
    assert (first.provider, first.message_id, first.delivery_id, first.delivered) == (
        "aliyun",
        "900319658112345^0",
        "delivery-1",
        True,
    )
    assert first.reported_at == datetime(2026, 9, 15, 10, 0, 9, tzinfo=SH)
    assert (second.delivered, second.code) == (False, "isv.MOBILE_NUMBER_ILLEGAL")
    assert first.key != second.key


def test_a_tencent_callback_array_reads_as_receipts_matched_by_sid():
    receipts, refused = parse_tencent(
        [tencent_report(), tencent_report(report_status="FAIL", errmsg="MK:0001", sid="s2")]
    )
    assert refused == []
    assert [(r.provider, r.message_id, r.delivered, r.code) for r in receipts] == [
        ("tencent", "2019:538884*****", True, "DELIVRD"),
        ("tencent", "s2", False, "MK:0001"),
    ]


def test_a_bad_item_is_refused_by_its_index_and_field_and_the_others_are_kept():
    receipts, refused = parse_aliyun([aliyun_report(biz_id=""), aliyun_report(success="maybe"), "x", aliyun_report()])
    assert [(r.index, r.field) for r in refused] == [(0, "[0].biz_id"), (1, "[1].success"), (2, "[2]")]
    assert refused[0].reason.startswith("缺少发送回执ID")
    assert len(receipts) == 1
    _, refused = parse_tencent([tencent_report(report_status="PENDING")])
    assert refused[0].field == "[0].report_status"


def test_the_provider_is_told_by_the_fields_of_its_receipts():
    assert provider_of([aliyun_report()]) == "aliyun"
    assert provider_of([tencent_report()]) == "tencent"
    assert provider_of([{"delivery_id": "x"}]) is None and provider_of([]) is None


@pytest.mark.parametrize(
    ("code", "reading"),
    [
        ("isv.MOBILE_NUMBER_ILLEGAL", "手机号码格式错误"),
        ("InvalidParameterValue.IncorrectPhoneNumber", "手机号码格式错误"),
        ("UNDELIV", "无法送达（停机、关机或暂停服务）"),
        ("MK:0005", "运营商网关拒收（空号、停机、关机或无法接通）"),
        ("isv.SOMETHING_NEW", "短信平台拒绝发送"),
        ("no_contact", "没有该渠道的联系方式（登记库未提供手机号或邮箱）"),
        ("XYZ:42", "未知原因（XYZ:42）"),
    ],
)
def test_provider_codes_read_in_chinese_and_an_unknown_code_says_so(code, reading):
    assert reason_zh(code) == reading


def test_the_code_inside_an_adapters_error_text_is_found_for_history_written_before():
    assert code_of("aliyun 200 isv.MOBILE_NUMBER_ILLEGAL: invalid mobile") == "isv.MOBILE_NUMBER_ILLEGAL"
    assert code_of("tencent send status LimitExceeded.PhoneNumberDailyLimit: x") == (
        "LimitExceeded.PhoneNumberDailyLimit"
    )
    assert code_of("tencent 200 AuthFailure.SignatureFailure: bad") == "AuthFailure.SignatureFailure"
    assert code_of("no contact on file for this channel") == "no_contact"
    assert explain(None, "aliyun 400 SignatureDoesNotMatch: x") == "短信平台鉴权失败（签名不匹配）"
    assert explain(None, "smtp 550: 5.1.1 no such user") == "邮箱地址不存在"
    assert explain(None, None) is None
