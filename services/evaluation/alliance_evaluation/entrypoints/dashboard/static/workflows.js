/* 审计日志与待办队列：秘书处查看谁、何时、做了什么、从哪里；评价人和秘书处处理待审批调整、申诉与豁免。
   The audit trail and the queues (adjustments awaiting a second approver, appeals, exemptions). */
"use strict";
(() => {
  Object.assign(I18N.zh, {
    nav_audit: "审计日志", nav_queues: "待办队列", audit_title: "审计日志", audit_hint: "每一项管理操作：谁、何时、做了什么、从哪里（来源地址按平台信任的代理解析）",
    audit_at: "时间", audit_action: "操作", audit_actor: "操作人", audit_ip: "来源地址", audit_object: "对象", audit_institution: "所属机构",
    audit_period: "期间", audit_details: "详情", audit_service: "服务", audit_since: "起始日期", audit_until: "截止日期", audit_search: "查询",
    audit_reset: "清空", audit_first: "最新", audit_more: "更早的记录", audit_none: "没有符合条件的审计记录", audit_denied: "已拒绝",
    audit_shown: "本页 {n} 条", all_actions: "全部操作",
    "period.closed": "关闭期间", "period.unlocked": "开具解锁例外", "period.unlock_revoked": "撤销解锁例外",
    "adjustment.proposed": "提议人工调整", "adjustment.approved": "批准人工调整", "adjustment.rejected": "驳回人工调整",
    "appeal.filed": "提出申诉", "appeal.upheld": "申诉成立", "appeal.dismissed": "申诉驳回", "exemption.granted": "批准豁免",
    "rating.submitted": "提交评价", "follow_up.recorded": "记录跟进", "api_key.issued": "签发 API 密钥", "api_key.revoked": "吊销 API 密钥",
    "institution.reclassified": "调整机构分类", "member.pii.read": "查看未脱敏个人信息", "rule.updated": "修改提醒规则",
    "template.created": "新建消息模板", "template.updated": "修改消息模板", "sms_budget.updated": "修改短信预算",
    queues_title: "待办队列", queues_hint: "待第二人审批的人工调整、待处理的申诉与已批准的豁免；在此直接处理",
    q_adjustments: "待审批的人工调整", q_appeals: "待处理的申诉", q_exemptions: "豁免", q_none: "暂无待办",
    q_points: "分值", q_reason: "原因", q_proposed_by: "提议人", q_filed_by: "申诉人", q_when: "时间", q_note: "审批意见",
    q_approve: "批准", q_reject: "驳回", q_uphold: "申诉成立", q_dismiss: "驳回申诉", q_own: "本人提议，须由他人审批",
    q_note_required: "请填写处理意见", q_done: "已处理", q_start: "开始日期", q_end: "结束日期", q_granted_by: "批准人",
    q_grant: "批准豁免", q_branch_id: "党支部编号", q_kind: "会议类型（可空）", q_read_only: "只读",
    obj_branch: "党支部", obj_institution: "机构", obj_period: "期间", obj_api_key: "API 密钥", obj_member: "党员", obj_rule: "提醒规则",
    obj_template: "消息模板", obj_case: "案件",
    d_note: "意见", d_reason: "原因", d_points: "分值", d_proposed_by: "提议人", d_start: "开始", d_end: "结束", d_requested_by: "申请人",
    d_until: "截止", d_version: "版本", d_fields: "修改字段", d_purpose: "用途", d_label: "名称", d_rating: "评价",
    d_monthly_budget_cny: "月预算（元）", d_effective_from: "生效日期", d_kind: "类型",
  });
  Object.assign(I18N.en, {
    nav_audit: "Audit", nav_queues: "Queues", audit_title: "Audit trail", audit_hint: "Every administrative action: who, when, what and from where (the address as the platform's trusted proxies resolve it)",
    audit_at: "When", audit_action: "Action", audit_actor: "Who", audit_ip: "From", audit_object: "Object", audit_institution: "Institution",
    audit_period: "Period", audit_details: "Details", audit_service: "Service", audit_since: "From date", audit_until: "To date", audit_search: "Search",
    audit_reset: "Clear", audit_first: "Newest", audit_more: "Older records", audit_none: "No audit records match", audit_denied: "denied",
    audit_shown: "{n} on this page", all_actions: "All actions",
    "period.closed": "Period closed", "period.unlocked": "Unlock exception granted", "period.unlock_revoked": "Unlock exception revoked",
    "adjustment.proposed": "Adjustment proposed", "adjustment.approved": "Adjustment approved", "adjustment.rejected": "Adjustment rejected",
    "appeal.filed": "Appeal filed", "appeal.upheld": "Appeal upheld", "appeal.dismissed": "Appeal dismissed", "exemption.granted": "Exemption granted",
    "rating.submitted": "Rating submitted", "follow_up.recorded": "Follow-up recorded", "api_key.issued": "API key issued", "api_key.revoked": "API key revoked",
    "institution.reclassified": "Institution reclassified", "member.pii.read": "Unmasked personal data read", "rule.updated": "Reminder rule edited",
    "template.created": "Template created", "template.updated": "Template edited", "sms_budget.updated": "SMS budget edited",
    queues_title: "Queues", queues_hint: "Adjustments awaiting a second approver, open appeals and the exemptions granted; act on them here",
    q_adjustments: "Adjustments awaiting approval", q_appeals: "Open appeals", q_exemptions: "Exemptions", q_none: "Nothing waiting",
    q_points: "Points", q_reason: "Reason", q_proposed_by: "Proposed by", q_filed_by: "Filed by", q_when: "When", q_note: "Note",
    q_approve: "Approve", q_reject: "Reject", q_uphold: "Uphold", q_dismiss: "Dismiss", q_own: "Your proposal: another person approves it",
    q_note_required: "A note is required", q_done: "Done", q_start: "Start", q_end: "End", q_granted_by: "Granted by",
    q_grant: "Grant exemption", q_branch_id: "Branch id", q_kind: "Meeting kind (optional)", q_read_only: "read only",
    obj_branch: "branch", obj_institution: "institution", obj_period: "period", obj_api_key: "API key", obj_member: "member",
    obj_rule: "reminder rule", obj_template: "template", obj_case: "case",
    d_note: "note", d_reason: "reason", d_points: "points", d_proposed_by: "proposed by", d_start: "start", d_end: "end",
    d_requested_by: "requested by", d_until: "until", d_version: "version", d_fields: "fields", d_purpose: "purpose",
    d_label: "label", d_rating: "rating", d_monthly_budget_cny: "monthly budget (yuan)", d_effective_from: "effective from", d_kind: "kind",
  });

  const V = window.Views;
  const E = Dash.esc;
  // a phone shows each row as a card, each cell with its label; the cell's content sits in one box
  const C = (key, html, cls) => `<td class="${cls || ""}" data-label="${E(t(key))}"><div>${html}</div></td>`;
  const ACTIONS = ["period.closed", "period.unlocked", "period.unlock_revoked", "adjustment.proposed", "adjustment.approved",
    "adjustment.rejected", "appeal.filed", "appeal.upheld", "appeal.dismissed", "exemption.granted", "rating.submitted",
    "follow_up.recorded", "api_key.issued", "api_key.revoked", "institution.reclassified", "member.pii.read", "rule.updated",
    "template.created", "template.updated", "sms_budget.updated"];
  const FILTERS = ["actor", "action", "object_id", "institution_id"];
  const day = (v) => (Dash.DATE.test(v || "") ? v : "");
  const shanghai = (d, end) => (d ? new Date(`${d}T00:00:00+08:00`).getTime() + (end ? 86400000 : 0) : null);

  const details = (r) => Object.entries(r.details || {}).filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length))
    .map(([k, v]) => `<span class="kv"><b>${E(label("d_", k))}</b> ${E(Array.isArray(v) ? v.join("、") : v)}</span>`).join(" ");
  // a stored name in the language shown, the name itself where none is known
  function label(prefix, key) { const s = t(prefix + key); return s === prefix + key ? key : s; }

  // the filters live in the address (#/audit/actor=…&since=…), so a filtered view can be shared and reloaded
  V.audit = async (view, s, arg) => {
    const p = Object.fromEntries(new URLSearchParams(arg || ""));
    const query = { limit: 50 };
    FILTERS.forEach((k) => { if (p[k]) query[k] = p[k]; });
    if (day(p.since)) query.since = new Date(shanghai(p.since)).toISOString();
    if (day(p.until)) query.until = new Date(shanghai(p.until, true)).toISOString();
    if (p.cursor) query.cursor = p.cursor;
    const data = await Dash.json("/api/v1/audit", query);
    const rows = data.items.map((r) => `<tr data-id="${E(r.id)}" data-action="${E(r.action)}">
      ${C("audit_at", `${E(Dash.time(r.at))}`, "nowrap")}
      ${C("audit_action", `${E(t(r.action))}${r.outcome === "denied" ? ` <span class="badge fail">${t("audit_denied")}</span>` : ""}<br><code>${E(r.action)}</code>`)}
      ${C("audit_actor", `${E(r.actor)}<br><span class="muted">${E(r.actor_role ? t(r.actor_role) : "")}${r.actor_key_id ? ` · key ${E(r.actor_key_id)}` : ""}</span>`)}
      ${C("audit_ip", `${E(r.ip || "—")}`, "id")}
      ${C("audit_object", `${E(label("obj_", r.object_type))} <code>${E(r.object_id)}</code>`)}
      ${C("audit_institution", `${E(r.institution_id || "—")}`)}
      ${C("audit_period", `${E(r.period || "—")}`, "nowrap")}
      ${C("audit_details", `${details(r) || "—"}`, "details")}</tr>`).join("");
    const options = ACTIONS.map((a) => `<option value="${a}" ${p.action === a ? "selected" : ""}>${E(t(a))}</option>`).join("");
    view.innerHTML = `<div class="panel" id="audit"><h2><span>${t("audit_title")}</span><button id="audit-export" type="button">${t("export")}</button></h2>
      <p class="muted">${t("audit_hint")}</p>
      <form id="audit-filters" class="filters">
        <input name="actor" placeholder="${t("audit_actor")}" value="${E(p.actor || "")}" maxlength="200">
        <select name="action"><option value="">${t("all_actions")}</option>${options}</select>
        <input name="object_id" placeholder="${t("audit_object")}" value="${E(p.object_id || "")}" maxlength="200">
        <input name="institution_id" placeholder="${t("audit_institution")}" value="${E(p.institution_id || "")}" maxlength="200">
        <label>${t("audit_since")} ${Dash.dateInput("since", day(p.since), t("audit_since"))}</label>
        <label>${t("audit_until")} ${Dash.dateInput("until", day(p.until), t("audit_until"))}</label>
        <button type="submit">${t("audit_search")}</button> <button type="button" id="audit-reset">${t("audit_reset")}</button>
      </form>
      ${data.items.length ? `<div class="table-scroll"><table id="audit-table"><thead><tr><th>${t("audit_at")}</th><th>${t("audit_action")}</th><th>${t("audit_actor")}</th><th>${t("audit_ip")}</th>
        <th>${t("audit_object")}</th><th>${t("audit_institution")}</th><th>${t("audit_period")}</th><th>${t("audit_details")}</th></tr></thead><tbody>${rows}</tbody></table></div>`
        : `<p class="muted" id="audit-empty">${t("audit_none")}</p>`}
      <div class="pager"><button id="audit-newest" ${p.cursor ? "" : "disabled"}>${t("audit_first")}</button>
        <span class="page-info">${t("audit_shown", { n: data.items.length })}</span>
        <button id="audit-older" ${data.next_cursor ? "" : "disabled"}>${t("audit_more")}</button></div></div>`;
    const go = (params) => {
      const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
      location.hash = `#/audit${q.toString() ? `/${encodeURIComponent(q.toString())}` : ""}`;
    };
    const form = view.querySelector("#audit-filters");
    const wanted = () => ({
      ...Object.fromEntries(FILTERS.map((k) => [k, form.elements[k].value.trim()])),
      since: form.querySelector("input.since").value.trim(), until: form.querySelector("input.until").value.trim(),
    });
    form.addEventListener("submit", (ev) => { ev.preventDefault(); go(wanted()); });
    view.querySelector("#audit-reset").onclick = () => go({});
    view.querySelector("#audit-newest").onclick = () => go({ ...p, cursor: "" });
    view.querySelector("#audit-older").onclick = () => go({ ...p, cursor: data.next_cursor });
    view.querySelector("#audit-export").onclick = async () => {
      const { cursor, limit, ...filters } = query;
      const res = await Dash.api("/api/v1/audit.xlsx", filters);
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await res.blob());
      a.download = "audit.xlsx";
      document.body.appendChild(a); a.click(); a.remove();
    };
  };

  // -- the queues -------------------------------------------------------------------------------
  const objectCell = (i) => `${E(i.object_name || i.object_id || i.organization_id)}<br><span class="muted">${E(i.object_type ? t(`level_${i.object_type}`) : t("level_branch"))} · ${E(i.institution_name || i.institution_id || "")}</span>`;

  const section = async (id, title, path) => {
    try {
      return { id, title, data: await Dash.json(path, { page_size: 100 }) };
    } catch (e) {
      if (e.status === 403) return null;  // this role does not see that queue
      throw e;
    }
  };

  const adjustmentRows = (items) => items.map((i) => `<tr data-id="${E(i.id)}">
    ${C("period", `${E(i.period)}`)}${C("audit_object", `${objectCell(i)}`)}${C("q_points", `${E(i.points)}`, "n")}
    ${C("q_reason", `${E(i.reason)}`)}${C("q_proposed_by", `${E(i.proposed_by)}<br><span class="muted">${E(Dash.time(i.proposed_at))}</span>`)}
    <td class="act"><div>${i.can_decide ? `<input class="note" placeholder="${t("q_note")}" maxlength="2000"> <button class="decide" data-decision="approved">${t("q_approve")}</button> <button class="decide" data-decision="rejected">${t("q_reject")}</button>`
      : `<span class="muted">${E(i.proposed_by === App.state.subject ? t("q_own") : t("q_read_only"))}</span>`}<span class="msg muted" role="status"></span></div></td></tr>`).join("");

  const appealRows = (items) => items.map((i) => `<tr data-id="${E(i.id)}">
    ${C("period", `${E(i.period)}`)}${C("audit_object", `${objectCell(i)}`)}${C("q_reason", `${E(i.reason)}`)}
    ${C("q_filed_by", `${E(i.filed_by)}<br><span class="muted">${E(Dash.time(i.filed_at))}</span>`)}
    <td class="act"><div>${i.can_resolve ? `<input class="note" placeholder="${t("q_note")}" maxlength="4000"> <button class="resolve" data-decision="upheld">${t("q_uphold")}</button> <button class="resolve" data-decision="dismissed">${t("q_dismiss")}</button>`
      : `<span class="muted">${t("q_read_only")}</span>`}<span class="msg muted" role="status"></span></div></td></tr>`).join("");

  const exemptionRows = (items) => items.map((i) => `<tr data-id="${E(i.id)}">
    ${C("audit_object", `${objectCell(i)}`)}${C("q_start", `${E(i.start)}`)}${C("q_end", `${E(i.end)}`)}
    ${C("q_reason", `${E(i.reason)}${i.kind ? `<br><span class="muted">${E(t(i.kind))}</span>` : ""}`)}${C("q_granted_by", `${E(i.granted_by)}`)}</tr>`).join("");

  const table = (id, heads, rows, empty) => (rows ? `<div class="table-scroll"><table id="${id}" class="queue"><thead><tr>${heads.map((h) => `<th>${t(h)}</th>`).join("")}</tr></thead><tbody>${rows}</tbody></table></div>`
    : `<p class="muted">${empty}</p>`);

  V.queues = async (view) => {
    const me = await Dash.json("/api/v1/dashboard/me");
    App.state.subject = me.subject;
    const [adj, app, ex] = await Promise.all([
      section("q-adjustments", "q_adjustments", "/api/v1/adjustments"),
      section("q-appeals", "q_appeals", "/api/v1/appeals"),
      section("q-exemptions", "q_exemptions", "/api/v1/exemptions"),
    ]);
    const panels = [];
    if (adj) panels.push(`<div class="panel" id="q-adjustments"><h2><span>${t("q_adjustments")} <span class="badge">${adj.data.total}</span></span></h2>
      ${table("adjustment-table", ["period", "audit_object", "q_points", "q_reason", "q_proposed_by", ""], adjustmentRows(adj.data.items), t("q_none"))}</div>`);
    if (app) panels.push(`<div class="panel" id="q-appeals"><h2><span>${t("q_appeals")} <span class="badge">${app.data.total}</span></span></h2>
      ${table("appeal-table", ["period", "audit_object", "q_reason", "q_filed_by", ""], appealRows(app.data.items), t("q_none"))}</div>`);
    if (ex) panels.push(`<div class="panel" id="q-exemptions"><h2><span>${t("q_exemptions")} <span class="badge">${ex.data.total}</span></span></h2>
      ${table("exemption-table", ["audit_object", "q_start", "q_end", "q_reason", "q_granted_by"], exemptionRows(ex.data.items), t("q_none"))}
      ${ex.data.can_grant ? `<form id="exemption-form" class="filters"><input name="organization_id" placeholder="${t("q_branch_id")}" required maxlength="100">
        <label>${t("q_start")} ${Dash.dateInput("start", "", t("q_start"))}</label><label>${t("q_end")} ${Dash.dateInput("end", "", t("q_end"))}</label>
        <input name="reason" placeholder="${t("q_reason")}" required minlength="4" maxlength="2000">
        <button type="submit">${t("q_grant")}</button> <span class="msg muted" role="status"></span></form>` : ""}</div>`);
    view.innerHTML = `<h2 class="page-title">${t("queues_title")}</h2><p class="muted">${t("queues_hint")}</p>${panels.join("") || `<p class="muted">${t("forbidden")}</p>`}`;

    const act = (selector, path, required) => view.querySelectorAll(selector).forEach((b) => b.addEventListener("click", async () => {
      const row = b.closest("tr");
      const note = row.querySelector("input.note").value.trim();
      const msg = row.querySelector(".msg");
      if (required && !note) { msg.textContent = t("q_note_required"); return; }
      try {
        await Dash.api(path(row.dataset.id), null, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ decision: b.dataset.decision, note }) });
        App.render();
      } catch (e) { msg.textContent = e.message; }
    }));
    act("#adjustment-table button.decide", (id) => `/api/v1/adjustments/${encodeURIComponent(id)}/decision`, false);
    act("#appeal-table button.resolve", (id) => `/api/v1/appeals/${encodeURIComponent(id)}/resolution`, true);
    const form = view.querySelector("#exemption-form");
    if (form) form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const msg = form.querySelector(".msg");
      const start = form.querySelector("input.start").value.trim(), end = form.querySelector("input.end").value.trim();
      if (!Dash.DATE.test(start) || !Dash.DATE.test(end)) { msg.textContent = t("bad_date"); return; }
      try {
        await Dash.api("/api/v1/exemptions", null, { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ organization_id: form.elements.organization_id.value.trim(), start, end, reason: form.elements.reason.value.trim() }) });
        App.render();
      } catch (e) { msg.textContent = e.message; }
    });
  };
})();
