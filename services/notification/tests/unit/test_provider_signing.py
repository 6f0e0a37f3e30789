"""Request signing of the SMS providers, against the examples the providers document."""

import json

import pytest
from alliance_notification.adapters import aliyun, tencent
from alliance_notification.adapters.aliyun import AliyunSms
from alliance_notification.adapters.sms import SmsMessage

pytestmark = pytest.mark.unit

# Alibaba Cloud SMS "签名机制" example (SendSms, AccessKeyId testId, AccessKeySecret testSecret)
SMS_DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
SMS_DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD%25E4"
    "%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007"
    "%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
    "%26Version%3D2017-05-25"
)


def test_aliyun_string_to_sign_matches_the_documented_sms_example():
    assert aliyun.string_to_sign(SMS_DOC_PARAMS) == SMS_DOC_STRING_TO_SIGN


def test_aliyun_signature_matches_the_documented_sms_example():
    assert aliyun.signature(SMS_DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_aliyun_signature_matches_the_documented_rpc_example_with_secret_testsecret():
    # the RPC signing document's DescribeRegions example (AccessKeySecret "testsecret")
    params = {
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Version": "2014-05-26",
        "Timestamp": "2016-02-23T12:46:24Z",
    }
    assert aliyun.signature(params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_aliyun_signature_ignores_a_signature_parameter_already_present():
    assert (
        aliyun.signature({**SMS_DOC_PARAMS, "Signature": "x"}, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    )


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [("a b", "a%20b"), ("*", "%2A"), ("~-_.", "~-_."), ("/=&+", "%2F%3D%26%2B"), ("党", "%E5%85%9A")],
)
def test_aliyun_percent_encoding_follows_the_documented_rules(raw, encoded):
    assert aliyun.percent_encode(raw) == encoded


def test_aliyun_request_carries_our_delivery_id_as_out_id_and_template_params_as_json():
    sms = AliyunSms(
        endpoint="https://dysmsapi.aliyuncs.com",
        access_key_id="id",
        access_key_secret="s",
        sign_name="联盟",
        region_id="cn-hangzhou",
        client=None,
    )  # type: ignore[arg-type]
    params = sms.signed_params(
        SmsMessage(
            delivery_id="d-1",
            phone="13800138000",
            text="t",
            template="x",
            params={"branch": "一支部", "days": "75"},
            provider_codes={"aliyun": "SMS_1"},
        )
    )
    assert params["OutId"] == "d-1" and params["TemplateCode"] == "SMS_1" and params["SignName"] == "联盟"
    assert json.loads(params["TemplateParam"]) == {"branch": "一支部", "days": "75"}
    assert params["Signature"] == aliyun.signature(params, "s")


TENCENT_DOC_PAYLOAD = (
    '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


def test_tencent_tc3_signature_matches_the_documented_example():
    signature, signed = tencent.tc3_signature(
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        payload=TENCENT_DOC_PAYLOAD,
        timestamp=1551113065,
    )
    assert signed == "content-type;host"
    assert signature == "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"


def test_tencent_authorization_header_has_the_documented_shape():
    header = tencent.authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm",
        host="cvm.tencentcloudapi.com",
        payload=TENCENT_DOC_PAYLOAD,
        timestamp=1551113065,
    )
    assert header == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )
