"""The templates a fresh installation starts with (the secretariat edits them through the API).
SMS provider codes are placeholders until the provider approves the texts."""

# ruff: noqa: E501  -- message texts read better unbroken

from __future__ import annotations

from .templates import MessageTemplate, SmsTemplate

_SIGN_OFF_ZH = "\n\n市金融党建联盟秘书处"
_SIGN_OFF_EN = "\n\nSecretariat of the City Financial Party-Building Alliance"

DEFAULT_TEMPLATES: tuple[MessageTemplate, ...] = (
    MessageTemplate(
        name="lagging_reminder",
        description="落后支部首次提醒 / first reminder to a lagging branch",
        email_subject_zh="【市金融党建联盟】{{ organization_name }}组织生活提醒",
        email_body_zh="{{ organization_name }}（{{ institution_name }}）支部书记同志：\n\n"
        "{% if days_since_last_meeting is not none %}贵支部已 {{ days_since_last_meeting }} 天未上报“三会一课”等组织生活"
        "{% else %}贵支部自成立以来尚未上报过“三会一课”等组织生活{% endif %}，"
        "{{ period }} 考核期内已被列为落后支部。"
        "请尽快组织并上报组织生活情况。" + _SIGN_OFF_ZH,
        email_subject_en="Organisational life reminder for {{ organization_name }}",
        email_body_en="Dear branch secretary of {{ organization_name }} ({{ institution_name }}),\n\n"
        "{% if days_since_last_meeting is not none %}your branch has reported no organisational-life meeting for "
        "{{ days_since_last_meeting }} days{% else %}your branch has not reported any organisational-life meeting "
        "since it was set up{% endif %} and is listed as lagging for {{ period }}. Please hold and report one soon." + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】{{ organization_name }}{% if days_since_last_meeting is not none %}已"
            "{{ days_since_last_meeting }}天未上报组织生活{% else %}尚未上报过组织生活{% endif %}，请尽快组织并上报。",
            provider_codes={"aliyun": "SMS_000000001", "tencent": "1000001"},
            params={
                "branch": "{{ organization_name }}",
                "days": "{{ days_since_last_meeting if days_since_last_meeting is not none else '成立以来' }}",
            },
        ),
    ),
    MessageTemplate(
        name="lagging_escalation",
        description="升级至机构党委 / escalation to the Party committee",
        email_subject_zh="【市金融党建联盟】{{ organization_name }}持续落后，请党委督促",
        email_body_zh="{{ committee_name or institution_name or '机构党委' }}：\n\n所属{{ organization_name }}自 {{ first_reminder_at }} "
        "提醒以来仍未上报组织生活（{{ period }}）。请督促该支部尽快落实。" + _SIGN_OFF_ZH,
        email_subject_en="{{ organization_name }} is still lagging: please follow up",
        email_body_en="{{ organization_name }} has still not reported organisational life since the reminder of "
        "{{ first_reminder_at }} ({{ period }}). Please follow up with the branch." + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】所属{{ organization_name }}持续未上报组织生活，请党委督促落实。",
            provider_codes={"aliyun": "SMS_000000002", "tencent": "1000002"},
            params={"branch": "{{ organization_name }}"},
        ),
    ),
    MessageTemplate(
        name="lagging_secretariat",
        description="列入秘书处清单 / onto the secretariat's list",
        email_subject_zh="【秘书处清单】{{ organization_name }}（{{ institution_name }}）逾 30 天仍落后",
        email_body_zh="{{ institution_name }}{{ organization_name }}自 {{ first_reminder_at }} 起经提醒和党委督促，"
        "仍未上报组织生活（{{ period }}），已列入秘书处跟进清单。" + _SIGN_OFF_ZH,
        email_subject_en="[Secretariat list] {{ organization_name }} lagging for more than 30 days",
        email_body_en="{{ organization_name }} of {{ institution_name }} is still lagging after a reminder and an "
        "escalation since {{ first_reminder_at }} ({{ period }})." + _SIGN_OFF_EN,
    ),
    MessageTemplate(
        name="at_risk_reminder",
        description="风险支部提前提醒 / early reminder to an at-risk branch",
        email_subject_zh="【市金融党建联盟】{{ organization_name }}本季度组织生活得分偏低",
        email_body_zh="{{ organization_name }}支部书记同志：\n\n{{ period }} 已过去四分之三，贵支部组织生活得分仍低于 60 分。"
        "请在季度结束前补齐组织生活并及时上报。" + _SIGN_OFF_ZH,
        email_subject_en="{{ organization_name }} is at risk this quarter",
        email_body_en="Three quarters of {{ period }} have passed and your branch's organisational-life score is "
        "below 60. Please catch up before the quarter ends." + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】{{ organization_name }}本季度组织生活得分偏低，请于季末前补齐并上报。",
            provider_codes={"aliyun": "SMS_000000003", "tencent": "1000003"},
            params={"branch": "{{ organization_name }}"},
        ),
    ),
    MessageTemplate(
        name="submission_rejected",
        description="上报被拒原因 / why submissions were rejected",
        email_subject_zh="【市金融党建联盟】{{ rejected_count }} 条上报未被接收",
        email_body_zh="{{ institution_name }}：\n\n以下上报未被接收，请修正后重新上报：\n"
        "{% for r in reasons %}- {{ r.submission_id }} {{ r.reason_zh or (r.field ~ '：' ~ r.reason) }}\n{% endfor %}"
        + _SIGN_OFF_ZH,
        email_subject_en="{{ rejected_count }} submission(s) rejected",
        email_body_en="The following submissions were rejected; please correct and resend them:\n"
        "{% for r in reasons %}- {{ r.submission_id }} {{ r.reason_en or (r.field ~ ': ' ~ r.reason) }}\n{% endfor %}"
        + _SIGN_OFF_EN,
    ),
    MessageTemplate(
        name="transfer_overdue",
        description="组织关系转接逾期 / overdue relation transfer",
        email_subject_zh="【市金融党建联盟】组织关系转接已逾期 {{ days_overdue }} 天",
        email_body_zh="{{ organization_name }}：\n\n一名党员由{{ from_organization_name }}转往{{ to_organization_name }}的"
        "组织关系转接已逾期 {{ days_overdue }} 天，请双方尽快办理。" + _SIGN_OFF_ZH,
        email_subject_en="A relation transfer is {{ days_overdue }} days overdue",
        email_body_en="A member's transfer from {{ from_organization_name }} to {{ to_organization_name }} is "
        "{{ days_overdue }} days overdue. Please complete it." + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】有一项组织关系转接已逾期{{ days_overdue }}天，请尽快办理。",
            provider_codes={"aliyun": "SMS_000000004", "tencent": "1000004"},
            params={"days": "{{ days_overdue }}"},
        ),
    ),
    MessageTemplate(
        name="reports_missing",
        description="季末缺报 / reports missing at quarter end",
        email_subject_zh="【市金融党建联盟】{{ period }} 季末尚缺上报",
        email_body_zh="{{ organization_name }}支部书记同志：\n\n{{ period }} 将于 {{ due_on }} 结束，贵支部尚缺："
        "{{ missing | join('、') }}。请按时上报。" + _SIGN_OFF_ZH,
        email_subject_en="Reports still missing for {{ period }}",
        email_body_en="{{ period }} ends on {{ due_on }}; your branch still owes: {{ (missing_en or missing) | join(', ') }}."
        + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】{{ period }}季末将至，{{ organization_name }}尚缺{{ missing | brief }}，请于{{ due_on }}前补齐。",
            provider_codes={"aliyun": "SMS_000000005", "tencent": "1000005"},
            params={"branch": "{{ organization_name }}", "items": "{{ missing | brief }}", "due": "{{ due_on }}"},
        ),
    ),
    MessageTemplate(
        name="weekly_digest",
        description="每周摘要 / weekly digest",
        email_subject_zh="【市金融党建联盟】提醒周报 {{ week }}",
        email_body_zh="秘书处：\n\n本周（{{ week }}）提醒情况：未结案件 {{ digest.open_cases }} 件，"
        "其中列入秘书处清单 {{ digest.secretariat_list | default(0) }} 件；已发送 {{ digest.sent }} 条，"
        "失败 {{ digest.failed }} 条；提醒后 14 天内上报比例 "
        "{{ '%.0f%%' | format(digest.reported_within_14_days_rate * 100) if digest.reported_within_14_days_rate is number else '—（本周无到期案件）' }}。"
        + _SIGN_OFF_ZH,
        email_subject_en="Reminder digest {{ week }}",
        email_body_en="Open cases: {{ digest.open_cases }} ({{ digest.secretariat_list | default(0) }} on the "
        "secretariat's list); sent {{ digest.sent }}, failed {{ digest.failed }}; share of reminded "
        "branches that reported within 14 days: "
        "{{ '%.0f%%' | format(digest.reported_within_14_days_rate * 100) if digest.reported_within_14_days_rate is number else '— (none due this week)' }}."
        + _SIGN_OFF_EN,
    ),
    MessageTemplate(
        name="institution_weekly_digest",
        description="机构党委每周摘要（本机构所属支部） / weekly digest for an institution's Party committee",
        email_subject_zh="【市金融党建联盟】{{ institution_name }}所属支部提醒周报 {{ week }}",
        email_body_zh="{{ committee_name or institution_name or '机构党委' }}：\n\n本周（{{ week }}）贵机构所属支部的提醒情况："
        "未结提醒 {{ digest.open_cases | default(0) }} 件"
        "{% if digest.branches %}：\n{% for b in digest.branches %}- {{ b.name }}（{{ b.rule_zh }}，{{ b.step_zh }}，已 {{ b.days_open }} 天）\n{% endfor %}"
        "{% if digest.more_branches %}- 另有 {{ digest.more_branches }} 个支部\n{% endif %}{% else %}，所属支部均已按时上报。\n{% endif %}"
        "本月短信 {{ digest.sms | default(0) }} 条，费用 {{ '%.2f' | format(digest.cost_cny or 0) }} 元"
        "{% if digest.monthly_budget_cny is number %}（月度预算 {{ '%.2f' | format(digest.monthly_budget_cny) }} 元）{% endif %}；"
        "提醒后 14 天内上报比例 "
        "{{ '%.0f%%' | format(digest.reported_within_14_days_rate * 100) if digest.reported_within_14_days_rate is number else '—（尚无到期提醒）' }}。"
        + _SIGN_OFF_ZH,
        email_subject_en="Reminder digest {{ week }} for the branches of {{ institution_name }}",
        email_body_en="Open reminder cases of your branches: {{ digest.open_cases | default(0) }}"
        "{% if digest.branches %} ({% for b in digest.branches %}{{ b.name }}{{ ', ' if not loop.last }}{% endfor %}){% endif %}; "
        "SMS this month: {{ digest.sms | default(0) }}, {{ '%.2f' | format(digest.cost_cny or 0) }} yuan"
        "{% if digest.monthly_budget_cny is number %} of a {{ '%.2f' | format(digest.monthly_budget_cny) }} yuan budget{% endif %}; "
        "share of reminded branches that reported within 14 days: "
        "{{ '%.0f%%' | format(digest.reported_within_14_days_rate * 100) if digest.reported_within_14_days_rate is number else '—' }}."
        + _SIGN_OFF_EN,
    ),
    MessageTemplate(
        name="submission_returned",
        description="上报被退回：告知上报人退回意见 / a report was returned: tell its reporter why",
        email_subject_zh="【市金融党建联盟】{{ organization_name }}上报的{{ activity_zh }}被退回，请修改后重新提交",
        email_body_zh="{{ organization_name }}（{{ institution_name }}）支部书记同志：\n\n"
        "贵支部上报的{{ activity_zh }}{% if held_on %}（{{ held_on }}召开）{% endif %}已被{{ reviewer_zh }}退回。\n"
        "退回意见：{{ comment }}\n\n"
        "请在填报页面“本季度情况—已上报”中点击“修改后重新提交”。被退回的上报在重新提交前不计入考核。" + _SIGN_OFF_ZH,
        email_subject_en="A report of {{ organization_name }} was returned: please correct and resubmit it",
        email_body_en="Dear branch secretary of {{ organization_name }} ({{ institution_name }}),\n\n"
        "the {{ activity_en }}{% if held_on %} held on {{ held_on }}{% endif %} your branch reported was returned "
        "by the reviewer. Comment: {{ comment }}\n\nPlease correct and resubmit it from the form; a returned report "
        "does not count until it is resubmitted." + _SIGN_OFF_EN,
        sms=SmsTemplate(
            text_zh="【市金融党建联盟】{{ organization_name }}上报的{{ activity_zh }}{% if held_on %}（{{ held_on }}）{% endif %}"
            "被退回：{{ (comment | truncate(40, true, '…', 0)).rstrip('。') }}。请修改后重新提交。",
            provider_codes={"aliyun": "SMS_000000020", "tencent": "1000020"},
            params={"branch": "{{ organization_name }}", "activity": "{{ activity_zh }}"},
        ),
    ),
)
