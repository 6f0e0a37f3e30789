"""Why a message was not delivered, in Chinese: the providers' and carriers' error codes (Alibaba
Cloud SendSms and SmsReport, Tencent Cloud SendSms and its status callback, the carriers' gateway
codes both pass on) and our own reasons, in one table. A code not in it reads 未知原因（code）."""

from __future__ import annotations

import re

# exact codes, as the providers send them (matched case-sensitively first, then ignoring case)
REASONS: dict[str, str] = {
    # Alibaba Cloud SendSms (the answer's Code)
    "isv.MOBILE_NUMBER_ILLEGAL": "手机号码格式错误",
    "isv.MOBILE_COUNT_OVER_LIMIT": "手机号码数量超过限制",
    "isv.BUSINESS_LIMIT_CONTROL": "触发短信平台流控（同一号码发送过于频繁）",
    "isv.DAY_LIMIT_CONTROL": "已达短信平台当日发送上限",
    "isv.SMS_TEMPLATE_ILLEGAL": "短信模板未审核通过或不存在",
    "isv.SMS_SIGNATURE_ILLEGAL": "短信签名未审核通过或不存在",
    "isv.TEMPLATE_MISSING_PARAMETERS": "短信模板缺少参数",
    "isv.TEMPLATE_PARAMS_ILLEGAL": "短信模板参数不合法",
    "isv.INVALID_PARAMETERS": "发送参数异常",
    "isv.INVALID_JSON_PARAM": "模板参数格式不合法",
    "isv.PARAM_LENGTH_LIMIT": "模板参数超过长度限制",
    "isv.PARAM_NOT_SUPPORT_URL": "模板参数不支持网址",
    "isv.BLACK_KEY_CONTROL_LIMIT": "模板参数含平台禁用关键字",
    "isv.AMOUNT_NOT_ENOUGH": "短信账户余额不足",
    "isv.OUT_OF_SERVICE": "短信业务已停机（欠费）",
    "isv.PRODUCT_UN_SUBSCRIPT": "未开通短信服务",
    "isv.ACCOUNT_NOT_EXISTS": "短信账户不存在",
    "isv.ACCOUNT_ABNORMAL": "短信账户异常",
    "isv.DENY_IP_RANGE": "发送地址不在白名单内",
    "isp.SYSTEM_ERROR": "短信平台系统错误",
    "isp.RAM_PERMISSION_DENY": "短信平台权限不足",
    "SignatureDoesNotMatch": "短信平台鉴权失败（签名不匹配）",
    "InvalidAccessKeyId.NotFound": "短信平台鉴权失败（密钥不存在）",
    "Throttling": "短信平台限流",
    "ServiceUnavailable": "短信平台暂不可用",
    # carriers' gateway codes in receipts (Alibaba Cloud err_code, Tencent Cloud errmsg)
    "DELIVERED": "已送达",
    "DELIVRD": "已送达",
    "UNDELIV": "无法送达（停机、关机或暂停服务）",
    "EXPIRED": "超时未送达（长时间关机或不在服务区）",
    "REJECTD": "运营商拒收",
    "REJECTED": "运营商拒收",
    "DELETED": "短信已被运营商删除",
    "UNKNOWN": "运营商未返回结果",
    "BLACK": "号码在运营商黑名单中（曾退订或投诉）",
    "BLACKLIST": "号码在运营商黑名单中（曾退订或投诉）",
    "KEYWORD": "短信内容被运营商关键字拦截",
    "NOROUTE": "无可用通道（空号或无法接通）",
    "PHONEERR": "手机号码错误",
    "MOBILE_NUMBER_ILLEGAL": "手机号码格式错误",
    "MOBILE_ACCOUNT_ABNORMAL": "用户账户异常（停机或欠费）",
    "MOBILE_IN_BLACK": "号码在运营商黑名单中（曾退订或投诉）",
    "MOBILE_NOT_ON_SERVICE": "停机或空号",
    "MOBILE_TERMINAL_ERROR": "手机终端问题（关机、内存满等）",
    "USER_REJECT": "用户拒收",
    "CONTENT_KEYWORD": "短信内容被运营商关键字拦截",
    "INVALID_NUMBER": "号码无效",
    "CONTENT_ERROR": "推广短信内容不合规",
    "MOBILE_SEND_LIMIT": "该号码已达运营商发送频率上限",
    "SUCCESS": "已送达",
    # Tencent Cloud SendSms (Error.Code, or SendStatusSet[].Code)
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号码格式错误",
    "FailedOperation.PhoneNumberInBlacklist": "号码在黑名单中（曾退订或投诉）",
    "FailedOperation.PhoneNumberParseFail": "手机号码无法解析",
    "FailedOperation.InsufficientBalanceInSmsPackage": "短信套餐包余量不足",
    "FailedOperation.ContainSensitiveWord": "短信内容含敏感词",
    "FailedOperation.TemplateIncorrectOrUnapproved": "短信模板未审核通过或与内容不符",
    "FailedOperation.SignatureIncorrectOrUnapproved": "短信签名未审核通过或格式错误",
    "FailedOperation.MarketingSendTimeConstraint": "营销短信不在允许的发送时段",
    "InvalidParameterValue.TemplateParameterFormatError": "模板参数格式错误",
    "InvalidParameterValue.TemplateParameterLengthLimit": "模板参数超过长度限制",
    "LimitExceeded.PhoneNumberDailyLimit": "该号码已达当日发送上限",
    "LimitExceeded.PhoneNumberOneHourLimit": "该号码已达一小时发送上限",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "该号码 30 秒内发送过于频繁",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "该号码当日相同内容已达上限",
    "LimitExceeded.DailyLimit": "已达短信应用当日发送上限",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "短信应用校验失败",
    "UnsupportedOperation.UnsupportedRegion": "不支持向该地区发送",
    "AuthFailure.SignatureFailure": "短信平台鉴权失败（签名不匹配）",
    "AuthFailure.SecretIdNotFound": "短信平台鉴权失败（密钥不存在）",
    "InternalError.Timeout": "短信平台处理超时",
    "RequestLimitExceeded": "短信平台限流",
    # our own reasons (the dispatcher's, the mail server's)
    "no_contact": "没有该渠道的联系方式（登记库未提供手机号或邮箱）",
    "waiting_contact": "等待登记库提供该渠道的联系方式（手机号或邮箱），收到后立即发送；超过等待期仍无则不再发送",
    "template_missing": "消息模板缺失",
    "template_error": "消息模板渲染出错",
    "sms_budget_exceeded": "本机构本月短信预算已用完，改发邮件",
    "outcome_unknown": "发送结果未知（发送后服务中断，未能记录结果，可能已送达）：请向收件人核实后再决定是否重发",
    "unreachable": "无法连接短信平台或邮件服务器",
    "smtp_refused": "收件人邮箱被邮件服务器拒收",
    "smtp_5.1.1": "邮箱地址不存在",
    "smtp_5.2.2": "收件人邮箱已满",
    "smtp_5.7.1": "邮件被对方服务器拒收",
}

# families of carrier codes: the prefix and what it means (the digits vary by province and gateway)
PREFIXES: tuple[tuple[str, str], ...] = (
    ("MK:", "运营商网关拒收（空号、停机、关机或无法接通）"),
    ("MN:", "运营商网关拒收（空号、停机、关机或无法接通）"),
    ("MI:", "运营商网关拒收（空号、停机、关机或无法接通）"),
    ("LT:", "运营商网关拒收（空号、停机、关机或无法接通）"),
    ("DB:", "运营商业务平台拒收（号码无效、停机或未开通）"),
    ("IB:", "运营商网关内部错误"),
    ("IC:", "运营商网关无响应"),
    ("CB:", "号码无效或用户状态异常"),
    ("MA:", "运营商短信中心拒收"),
    ("MB:", "运营商短信中心拒收"),
    ("HD:", "号码在运营商黑名单中"),
    ("isv.", "短信平台拒绝发送"),
    ("FailedOperation.", "短信平台拒绝发送"),
    ("LimitExceeded.", "已达短信平台发送频率上限"),
    ("InternalError", "短信平台内部错误"),
)

UNKNOWN = "未知原因（{}）"

# where a code sits in the error texts the adapters write ("aliyun 200 isv.X: …", "tencent send
# status X: …", "smtp 550 5.1.1 …"), for history written before codes were stored apart
_IN_TEXT = re.compile(
    r"^(?:aliyun \d{3} |tencent \d{3} |tencent send status |http gateway answered )(?P<code>[\w.:-]+)"
)
_SMTP = re.compile(r"\b(?P<code>5\.\d\.\d{1,3})\b")


def reason_zh(code: str | None) -> str | None:
    """The Chinese reading of `code` (None for no code)."""
    if not code:
        return None
    found = REASONS.get(code) or REASONS.get(code.upper())
    if found is None:
        lower = code.lower()
        found = next((v for k, v in REASONS.items() if k.lower() == lower), None)
    if found is None:
        found = next((v for p, v in PREFIXES if code.startswith(p)), None)
    return found or UNKNOWN.format(code)


def code_of(error: str | None) -> str | None:
    """The provider's code inside an error text an adapter wrote, when there is one."""
    if not error:
        return None
    if error.startswith("no contact on file"):
        return "no_contact"
    if error.startswith("template ") and error.endswith("missing"):
        return "template_missing"
    if match := _IN_TEXT.match(error):
        code = match["code"].rstrip(":")
        return code or None
    if " " not in error.strip():  # the code alone
        return error.strip()
    if "unreachable" in error:
        return "unreachable"
    if match := _SMTP.search(error):
        return f"smtp_{match['code']}"
    return None


def explain(code: str | None, error: str | None) -> str | None:
    """Why, in Chinese, from the stored code or else the error text; None when there is neither."""
    code = code or code_of(error)
    if code:
        return reason_zh(code)
    return UNKNOWN.format(error[:60]) if error else None
