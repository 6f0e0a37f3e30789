/* 驾驶舱文字：中文在前，English 在后。Dashboard strings: Chinese first, English switch. */
"use strict";
window.I18N = {
  zh: {
    standing_open: "截至 {m}月{d}日 · 进行中", standing_final: "季度已结束 · 最终",
    title: "市金融党建联盟 · 综合评价驾驶舱", period: "评价期间", lang: "English", logout: "退出",
    login_title: "请登录", login_hint: "粘贴联盟平台签发的访问令牌（JWT）", login: "登录", token: "访问令牌",
    nav_overview: "总览", nav_rankings: "排名", nav_drill: "钻取", nav_queue: "落后支部工作台", nav_heat: "组织生活热力图", nav_report: "季度报告",
    institutions: "机构数", branches: "支部数", joint_branches: "联合党支部", members: "党员数", pocket_members: "口袋党员",
    completeness: "报送完整率", timeliness: "报送及时率", vetoed: "一票否决", rejections: "被拒报送", average_score: "平均分",
    by_class: "按所有制 × 上报成熟度", grades: "等级分布", trend: "近期趋势", ownership: "所有制", reporting_level: "上报成熟度",
    sector: "行业", all: "全部", level: "对象", level_institution: "机构", level_branch: "支部", search: "搜索名称或编号",
    rank: "组内排名", id: "编号", name: "名称", score: "得分", grade: "等级", export: "导出 Excel", prev: "上一页", next: "下一页",
    page_of: "第 {p} 页 / 共 {n} 页（{t} 条）", peer_group: "同类组", indicator: "指标", value: "指标值", requirement: "要求",
    weight: "权重%", points: "得分", evidence: "证据事件", note: "说明", ruleset: "评价细则", why_changed: "得分为何变化",
    no_change: "与上次计算相比没有变化", before: "变化前", after: "变化后", events_added: "新增事件", events_removed: "移除事件",
    branches_of: "下属支部", back: "返回", status: "状态", days_since: "距上次会议（天）", last_meeting: "上次会议",
    reminders: "已发提醒", delivery: "送达情况", contacted: "已联系", contacted_on: "联系日期", reason: "原因", promised_on: "承诺日期",
    save: "保存", saved: "已保存", conflict: "已被他人修改，请刷新", heat_hint: "每月组织生活会议次数（三会一课、主题党日等）",
    months: "月份", open_report: "打开可打印报告", print: "打印", report_title: "季度综合评价报告", top10: "前十名", bottom10: "后十名",
    lagging_count: "落后/有风险支部", generated_at: "生成时间", history: "计算历史", computed_at: "计算时间", trigger: "触发",
    lagging: "落后", at_risk: "有风险", state_owned: "国有", private: "民营", emerging: "新兴金融机构",
    excellent: "优秀", good: "良好", pass: "合格", fail: "不合格", no_data: "待评", yes: "是", no: "否", none: "无",
    queued: "排队", deferred: "暂缓发送", sent: "已发送", delivered: "已送达", failed: "失败", cancelled: "已取消", dead: "放弃", loading: "加载中…",
    forbidden: "无权访问", my_institution: "本机构", org_life: "组织生活", learning: "线上学习", dues: "党费缴纳",
    public_activity: "公共活动参与", political: "政治评价", reporting: "报送纪律", compliance: "遵纪守法", coverage: "组织覆盖",
    grouping: "同类组", grouping_ownership: "按所有制（默认）", grouping_ownership_sector: "所有制 × 行业", grouping_ownership_level: "所有制 × 上报成熟度",
    grouping_ownership_sector_level: "所有制 × 行业 × 上报成熟度", grouping_all: "全部机构（不分组）", rank_all: "全部机构排名", peer_groups: "同类组数", shown: "显示",
    all_note: "全部机构排名：各所有制权重不同，仅供浏览，不是组内排名", group_top10: "组内前十名", group_bottom10: "组内后十名",
    institution_indicators: "机构指标（各支部按党员人天汇总）", indicators_hint: "机构得分的组成：各项得分之和即机构得分；证据为事件编号，数量多时按支部链接",
    scope_branches: "支部", scope_institution: "机构", by_branch: "按支部", branch_adjustment: "支部人工调整",
    adjustment: "人工调整", branches_ind: "支部得分(按党员加权)", missing: "未报", role: "角色", empty: "暂无数据",
    branch_general_meeting: "支部党员大会", branch_committee_meeting: "支部委员会", party_group_meeting: "党小组会", party_lesson: "党课",
    theme_party_day: "主题党日", organizational_life_meeting: "组织生活会", democratic_appraisal: "民主评议党员",
    email: "邮件", sms: "短信", form: "网页表单", upload: "表格上传", batch: "批量接口", stream: "流式接入", webhook: "签名回调",
    secretariat: "秘书处", institution_admin: "机构党务管理员", branch_secretary: "支部书记", evaluator: "评价人", regulator: "监管单位",
    events: "新上报事件", manual: "手动重算", kind: "组织类型", committee: "党委", general_branch: "党总支", branch: "党支部",
    joint_branch: "联合党支部", affiliated_branch: "挂靠党支部", temporary_branch: "临时党支部", date_hint: "年-月-日",
    bad_date: "日期格式应为 年-月-日", changed_by: "修改人", changed_at: "修改时间", changed_fields: "修改内容", follow_history: "跟进记录历史",
    data_quality: "数据质量", data_quality_hint: "本期上报时被标记的事件（照常接收；细则规定标记如何影响计分），点击类别查看事件",
    flag_kind: "标记类别", flagged_events: "事件数", flags: "标记", event_kind: "事件类型", event_day: "日期", channel: "上报渠道",
    no_flags: "本期没有被标记的事件", social_contribution: "纳税与社会责任",
    duplicate_meeting: "重复上报的会议", off_roll_attendees: "出席人员不在本支部名册", unknown_attendees: "出席人员未登记",
    attendance_above_members: "出席人数超过支部党员数", no_attendees: "无出席人员", minutes_reused: "会议记录重复使用",
    photo_reused: "会议照片重复使用", learning_over_24h: "单日学习超过24小时", future_time: "活动时间晚于上报时间",
    meeting_kind: "会议类型", event_says: "事件内容", event_came: "到达与来源", event_type: "事件类型", received_at: "接收时间", file_name: "上传文件", row: "文件行号",
    batch_id: "批次编号", late: "迟报", held_at: "召开时间", attendees: "出席党员", expected_count: "应到人数", topic: "主题",
    member: "党员", date: "日期", minutes: "学习时长（分钟）", course: "课程", month: "月份", amount_cny: "金额（元）", hours: "时长（小时）",
    heat_branch: "支部", heat_institution: "机构", heat_span_quarter: "本季度（3个月）", heat_span_trailing_12: "近12个月",
    heat_cell: "{name} · {month}：{n} 次", heat_not_open: "支部未成立或已撤销", heat_legend: "每月次数",
    attached_branches: "挂靠于本机构党组织的支部", attached_hint: "其他机构的党员组成、挂靠于本机构党委或党总支的党支部（挂靠建），随其所属机构评价", attached_to: "挂靠于", own_institution: "所属机构",
    "fpba.meeting.held.v1": "组织生活会议", "fpba.learning.completed.v1": "线上学习", "fpba.dues.paid.v1": "党费缴纳", "fpba.public_activity.held.v1": "公共活动",
  },
  en: {
    standing_open: "As of {date} · in progress", standing_final: "Quarter ended · final",
    title: "Financial Party-Building Alliance · Evaluation dashboard", period: "Period", lang: "中文", logout: "Sign out",
    login_title: "Sign in", login_hint: "Paste the access token (JWT) issued by the platform", login: "Sign in", token: "Access token",
    nav_overview: "Overview", nav_rankings: "Rankings", nav_drill: "Drill-down", nav_queue: "Lagging work queue", nav_heat: "Activity heat map", nav_report: "Quarterly report",
    institutions: "Institutions", branches: "Branches", joint_branches: "Joint branches", members: "Party members", pocket_members: "Pocket members",
    completeness: "Reporting completeness", timeliness: "Reporting timeliness", vetoed: "Vetoed", rejections: "Rejected reports", average_score: "Average score",
    by_class: "By ownership × reporting level", grades: "Grade distribution", trend: "Trend", ownership: "Ownership", reporting_level: "Reporting level",
    sector: "Sector", all: "All", level: "Object", level_institution: "Institutions", level_branch: "Branches", search: "Search name or ID",
    rank: "Rank in group", id: "ID", name: "Name", score: "Score", grade: "Grade", export: "Export to Excel", prev: "Previous", next: "Next",
    page_of: "Page {p} of {n} ({t} rows)", peer_group: "Peer group", indicator: "Indicator", value: "Value", requirement: "Requirement",
    weight: "Weight %", points: "Points", evidence: "Evidence events", note: "Note", ruleset: "Ruleset", why_changed: "Why the score changed",
    no_change: "No change since the previous computation", before: "Before", after: "After", events_added: "Events added", events_removed: "Events removed",
    branches_of: "Branches", back: "Back", status: "Status", days_since: "Days since last meeting", last_meeting: "Last meeting",
    reminders: "Reminders sent", delivery: "Delivery", contacted: "Contacted", contacted_on: "Contacted on", reason: "Reason", promised_on: "Promised by",
    save: "Save", saved: "Saved", conflict: "Changed by someone else, reload", heat_hint: "Organisational-life meetings per month (branch meetings, Party lessons, theme Party days…)",
    months: "Months", open_report: "Open the printable report", print: "Print", report_title: "Quarterly evaluation report", top10: "Top ten", bottom10: "Bottom ten",
    lagging_count: "Lagging / at-risk branches", generated_at: "Generated at", history: "Computation history", computed_at: "Computed at", trigger: "Trigger",
    lagging: "Lagging", at_risk: "At risk", state_owned: "State-owned", private: "Private", emerging: "Emerging finance",
    excellent: "Excellent", good: "Good", pass: "Pass", fail: "Fail", no_data: "No data", yes: "Yes", no: "No", none: "None",
    queued: "Queued", deferred: "Deferred", sent: "Sent", delivered: "Delivered", failed: "Failed", cancelled: "Cancelled", dead: "Given up", loading: "Loading…",
    forbidden: "Forbidden", my_institution: "My institution", org_life: "Organisational life", learning: "Online learning", dues: "Party dues",
    public_activity: "Public activities", political: "Political evaluation", reporting: "Reporting discipline", compliance: "Compliance", coverage: "Coverage",
    grouping: "Peer group", grouping_ownership: "By ownership (default)", grouping_ownership_sector: "Ownership × sector", grouping_ownership_level: "Ownership × reporting level",
    grouping_ownership_sector_level: "Ownership × sector × level", grouping_all: "All institutions (no groups)", rank_all: "Rank among all", peer_groups: "Peer groups", shown: "Shown",
    all_note: "Ranked among all: the ownership classes are weighed differently, so this is not a peer ranking", group_top10: "Top ten in group", group_bottom10: "Bottom ten in group",
    institution_indicators: "Institution indicators (branches weighted by member-days)", indicators_hint: "The institution's score in its parts: the points add up to the score; evidence is event ids, with links to the branches where there are many",
    scope_branches: "branches", scope_institution: "institution", by_branch: "By branch", branch_adjustment: "Branch adjustments",
    adjustment: "Manual adjustment", branches_ind: "Branches (member-weighted)", missing: "Missing", role: "Role", empty: "No data",
    branch_general_meeting: "Branch general meeting", branch_committee_meeting: "Branch committee meeting", party_group_meeting: "Party group meeting", party_lesson: "Party lesson",
    theme_party_day: "Theme Party day", organizational_life_meeting: "Organisational life meeting", democratic_appraisal: "Democratic appraisal",
    email: "Email", sms: "SMS", form: "Web form", upload: "Spreadsheet upload", batch: "Batch API", stream: "Streaming", webhook: "Signed webhook",
    secretariat: "Secretariat", institution_admin: "Institution Party admin", branch_secretary: "Branch secretary", evaluator: "Evaluator", regulator: "Regulator",
    events: "New events", manual: "Manual rescore", kind: "Kind", committee: "Party committee", general_branch: "General branch", branch: "Branch",
    joint_branch: "Joint branch", affiliated_branch: "Affiliated branch", temporary_branch: "Temporary branch", date_hint: "YYYY-MM-DD",
    bad_date: "Dates are written YYYY-MM-DD", changed_by: "Changed by", changed_at: "Changed at", changed_fields: "What changed", follow_history: "Follow-up history",
    data_quality: "Data quality", data_quality_hint: "Events flagged at ingest this period (accepted; the ruleset says what a flag does to scoring); click a kind for its events",
    flag_kind: "Flag", flagged_events: "Events", flags: "Flags", event_kind: "Event", event_day: "Day", channel: "Channel",
    no_flags: "No flagged events this period", social_contribution: "Tax and social contribution",
    duplicate_meeting: "Meeting reported twice", off_roll_attendees: "Attendees not on the branch's roll", unknown_attendees: "Unregistered attendees",
    attendance_above_members: "More attendees than members", no_attendees: "No attendees", minutes_reused: "Minutes reused",
    photo_reused: "Photos reused", learning_over_24h: "Over 24 hours of learning in a day", future_time: "Activity later than its report",
    meeting_kind: "Meeting kind", event_says: "What it says", event_came: "How it arrived", event_type: "Event type", received_at: "Received at", file_name: "Uploaded file", row: "File row",
    batch_id: "Batch", late: "Late", held_at: "Held at", attendees: "Attendees", expected_count: "Expected", topic: "Topic",
    member: "Member", date: "Date", minutes: "Minutes", course: "Course", month: "Month", amount_cny: "Amount (CNY)", hours: "Hours",
    heat_branch: "Branch", heat_institution: "Institution", heat_span_quarter: "This quarter (3 months)", heat_span_trailing_12: "Last 12 months",
    heat_cell: "{name} · {month}: {n} meetings", heat_not_open: "branch not open", heat_legend: "Meetings a month",
    attached_branches: "Branches attached here from other institutions", attached_hint: "Branches of another institution's members attached to this institution's committee or general branch; evaluated with their own institution", attached_to: "Attached to", own_institution: "Own institution",
    "fpba.meeting.held.v1": "Meeting held", "fpba.learning.completed.v1": "Learning completed", "fpba.dues.paid.v1": "Dues paid", "fpba.public_activity.held.v1": "Public activity",
  },
};
window.lang = () => localStorage.getItem("dashboard.lang") || "zh";
window.t = (key, vars) => {
  const table = window.I18N[window.lang()] || window.I18N.zh;
  let s = table[key] ?? window.I18N.zh[key] ?? key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace(`{${k}}`, v);
  return s;
};
// a server text written "中文 / English" (requirements, notes): the part of the current language
window.bi = (text) => {
  const s = String(text ?? "");
  const at = s.indexOf(" / ");
  if (at < 0) return s;
  return window.lang() === "zh" ? s.slice(0, at) : s.slice(at + 3);
};
window.applyI18n = (root) => {
  document.documentElement.lang = window.lang() === "zh" ? "zh-CN" : "en";
  (root || document).querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = window.t(el.dataset.i18n); });
  (root || document).querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = window.t(el.dataset.i18nPlaceholder); });
};
