// 三会一课填报: sign in, pick the branch, the kind, the day and the attendees by name, submit, and see
// the quarter. What was typed stays on the page until it is accepted (a retry of the same meeting is
// answered as already submitted, never counted twice: its event id follows from its content).
"use strict";
const $ = (sel) => document.querySelector(sel);
const TOKEN = "fpba_form_token";
const WEEKDAYS = ["一", "二", "三", "四", "五", "六", "日"];
// where a reason's field (a template header, a CloudEvent path or a form field) shows on the page
const FIELDS = {
  organization_id: "organization_id", "党组织编号": "organization_id",
  meeting_kind: "meeting_kind", "会议类型": "meeting_kind",
  held_at: "held_at", "召开时间": "held_at", time: "held_at",
  attendee_ids: "attendee_ids", "参会党员编号": "attendee_ids",
  expected_count: "expected_count", "应到人数": "expected_count",
  topic: "topic", "会议主题": "topic",
};
const LABELS = { organization_id: "党支部", meeting_kind: "会议类型", held_at: "召开日期和时间",
  attendee_ids: "参会党员", expected_count: "应到人数", topic: "会议主题" };
const state = { token: null, today: null, sheet: null, month: null, resubmits: null };

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const zhPart = (text) => String(text || "").split(" / ")[0];
const fieldOf = (name) => { const bare = String(name || "").replace(/^data\./, "").replace(/\[\d+\]$/, "").replace(/\.\d+$/, ""); return FIELDS[bare] || FIELDS[name]; };

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (options.body) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  return { ok: resp.ok, status: resp.status, body };
}

// -- signing in ---------------------------------------------------------------------------------
function signedIn(token) {
  state.token = token;
  sessionStorage.setItem(TOKEN, token);
  return start();
}

function signOut() {
  sessionStorage.removeItem(TOKEN);
  state.token = null;
  location.hash = "";
  location.reload();
}

async function showSignIn() {
  $("#report").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-out").hidden = true;
  $("#whoami").textContent = "";
  const inst = $("#si-institution");
  if (!inst) return; // production: the organisation's SSO signs in
  const answer = await api("/api/v1/forms/sign-in");
  if (!answer.ok) { $("#si-error").textContent = zhPart(answer.body?.error?.message) || "无法读取机构列表"; return; }
  const items = answer.body.items;
  inst.innerHTML = items.map((i) => `<option value="${esc(i.id)}">${esc(i.name)}</option>`).join("");
  const fill = () => {
    const chosen = items.find((i) => i.id === inst.value);
    $("#si-branch").innerHTML = (chosen ? chosen.branches : []).map((b) => `<option value="${esc(b.id)}">${esc(b.name)}（${esc(b.kind)}）</option>`).join("");
  };
  inst.onchange = fill;
  fill();
  $("#si-go").onclick = async () => {
    $("#si-error").textContent = "";
    const got = await api("/api/v1/forms/sign-in", { method: "POST", body: JSON.stringify({ institution_id: inst.value, organization_id: $("#si-branch").value }) });
    if (got.ok) await signedIn(got.body.token);
    else $("#si-error").textContent = zhPart(got.body?.error?.message) || `登录失败（${got.status}）`;
  };
}

// -- the form -----------------------------------------------------------------------------------
async function start() {
  const context = await api("/api/v1/forms/context");
  if (context.status === 401 || context.status === 403) {
    sessionStorage.removeItem(TOKEN);
    state.token = null;
    await showSignIn();
    if (context.status === 403) $("#si-error") && ($("#si-error").textContent = zhPart(context.body?.error?.message));
    return;
  }
  if (!context.ok) { $("#result").className = "bad"; $("#result").textContent = "暂时无法读取，请稍后重试"; return; }
  $("#sign-in").hidden = true;
  $("#report").hidden = false;
  $("#sign-out").hidden = false;
  $("#whoami").textContent = [context.body.role, context.body.institution].filter(Boolean).join(" · ");
  const branches = context.body.branches;
  $("#f-branch").innerHTML = branches.length
    ? branches.map((b) => `<option value="${esc(b.id)}">${esc(b.name)}</option>`).join("")
    : `<option value="">没有可填报的党支部</option>`;
  $("#f-branch").onchange = () => loadBranch();
  await loadBranch();
}

async function loadBranch() {
  const id = $("#f-branch").value;
  if (!id) return;
  const answer = await api(`/api/v1/forms/branches/${encodeURIComponent(id)}`);
  if (!answer.ok) { showErrors([{ field: "organization_id", reason: answer.body?.error?.message || "无法读取该支部" }]); return; }
  const sheet = answer.body;
  const kept = state.sheet && state.sheet.id === sheet.id ? new Set(checked()) : new Set(); // the same branch again
  state.sheet = sheet;
  state.today = sheet.today;
  if (!state.month) state.month = sheet.today.slice(0, 7);
  $("#names-note").hidden = sheet.names_known;
  $("#roll").innerHTML = sheet.roll.length ? sheet.roll.map((m, n) => `<label class="member" data-party="${m.party_member ? 1 : 0}"><input type="checkbox" name="attendee" value="${esc(m.id)}">
      <span class="name">${m.name ? esc(m.name) : `党员${n + 1} <code class="id">${esc(m.id)}</code>`}</span><small>${esc(m.status)}</small></label>`).join("")
    : `<p class="empty-list">该支部名册暂无党员</p>`;
  document.querySelectorAll('#roll input[name="attendee"]').forEach((i) => { i.checked = kept.has(i.value); });
  $("#f-expected").value = sheet.roll.filter((m) => m.party_member).length;
  countPicked();
  renderQuarter(sheet);
}

function renderQuarter(sheet) {
  $("#quarter-label").textContent = sheet.quarter;
  const byKind = new Map();
  for (const o of sheet.owed) { if (!byKind.has(o.kind)) byKind.set(o.kind, []); byKind.get(o.kind).push(o); }
  $("#owed").innerHTML = byKind.size ? [...byKind].map(([kind, windows]) => `<li><span class="kind">${esc(kind)}</span><span class="windows">${windows.map((w) =>
    `<span class="badge ${esc(w.standing)}" title="截至${esc(w.due)}">${esc(w.window === sheet.quarter ? "本季度" : w.window)} ${esc(w.standing_zh)}</span>`).join("")}</span></li>`).join("")
    : `<li class="empty-list">本季度没有应报会议</li>`;
  $("#reported").innerHTML = sheet.reported.length ? sheet.reported.map((r) => `<li data-id="${esc(r.id)}" data-review="${esc(r.review.state)}"><strong>${esc(r.kind)}</strong>
      <span class="badge review ${esc(r.review.state)}">${esc(r.review.state_zh)}</span>
      <div class="meta">${esc(r.held_at)} · ${r.attendees}人参会 · ${esc(r.channel)}${r.flags.length ? " · " + esc(r.flags.join("、")) : ""}</div>
      ${r.review.state === "returned" ? `<div class="return-note"><span class="why">退回意见（${esc(r.review.by_role_zh || "审核人")}）：${esc(r.review.comment)}</span>
        <button type="button" class="link fix" data-fix="${esc(r.id)}">修改后重新提交</button></div>` : ""}</li>`).join("")
    : `<li class="empty-list">本季度尚未上报会议</li>`;
}

// -- correcting a returned meeting: its report fills the form, the submission resubmits it ------
$("#reported").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-fix]");
  if (!b || !state.sheet) return;
  const r = state.sheet.reported.find((x) => x.id === b.dataset.fix);
  if (!r || !r.review.reported) return;
  const was = r.review.reported;
  state.resubmits = r.id;
  $("#f-kind").value = was.meeting_kind;
  chooseDay(was.day);
  $("#f-hour").value = was.hour;
  $("#f-minute").value = was.minute;
  const ids = new Set(was.attendee_ids);
  document.querySelectorAll('#roll input[name="attendee"]').forEach((i) => { i.checked = ids.has(i.value); });
  countPicked();
  $("#f-expected").value = was.expected_count ?? "";
  $("#f-topic").value = was.topic;
  $("#fixing-why").textContent = r.review.comment;
  $("#fixing").hidden = false;
  $("#submit").textContent = "重新提交";
  $("#meeting").scrollIntoView({ block: "start", behavior: "smooth" });
});

function stopFixing() {
  state.resubmits = null;
  $("#fixing").hidden = true;
  $("#submit").textContent = "提交";
}
$("#fixing-cancel").addEventListener("click", stopFixing);

function countPicked() {
  const n = document.querySelectorAll('#roll input[name="attendee"]:checked').length;
  $("#picked").textContent = `已选 ${n} 人`;
}

// -- the calendar (年-月-日, weeks from Monday, no day after today) -------------------------------
function pad(n) { return String(n).padStart(2, "0"); }

function renderCalendar() {
  const [y, m] = state.month.split("-").map(Number);
  const first = new Date(Date.UTC(y, m - 1, 1));
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const lead = (first.getUTCDay() + 6) % 7;
  const chosen = $("#f-day").dataset.value;
  const cells = [];
  for (let i = 0; i < lead; i++) cells.push("<span></span>");
  for (let d = 1; d <= days; d++) {
    const day = `${y}-${pad(m)}-${pad(d)}`;
    const cls = [day === state.today ? "today" : "", day === chosen ? "chosen" : ""].join(" ");
    cells.push(`<button type="button" data-day="${day}" class="${cls}" ${day > state.today ? "disabled" : ""}>${d}</button>`);
  }
  $("#calendar").innerHTML = `<div class="head"><button type="button" data-step="-1" aria-label="上个月">‹</button>
    <span>${y}年${m}月</span><button type="button" data-step="1" aria-label="下个月">›</button></div>
    <div class="grid">${WEEKDAYS.map((w) => `<span class="wd">${w}</span>`).join("")}${cells.join("")}</div>
    <div class="foot"><button type="button" class="link" data-day="${state.today}">今天</button><button type="button" class="link" data-close="1">关闭</button></div>`;
}

function chooseDay(day) {
  const button = $("#f-day");
  button.dataset.value = day;
  const [y, m, d] = day.split("-").map(Number);
  button.textContent = `${y}年${m}月${d}日`;
  button.classList.remove("empty");
  $("#calendar").hidden = true;
  clearError("held_at");
}

$("#f-day").addEventListener("click", () => {
  const cal = $("#calendar");
  if (!state.today) return;
  if ($("#f-day").dataset.value) state.month = $("#f-day").dataset.value.slice(0, 7);
  renderCalendar();
  cal.hidden = !cal.hidden;
});
$("#calendar").addEventListener("click", (ev) => {
  const b = ev.target.closest("button");
  if (!b || b.disabled) return;
  if (b.dataset.step) {
    const [y, m] = state.month.split("-").map(Number);
    const next = new Date(Date.UTC(y, m - 1 + Number(b.dataset.step), 1));
    state.month = `${next.getUTCFullYear()}-${pad(next.getUTCMonth() + 1)}`;
    renderCalendar();
  } else if (b.dataset.day) chooseDay(b.dataset.day);
  else if (b.dataset.close) $("#calendar").hidden = true;
});

// -- errors, Chinese first, at the field --------------------------------------------------------
function clearError(field) {
  const box = document.querySelector(`.field[data-field="${field}"]`);
  if (!box) return;
  box.classList.remove("invalid");
  box.querySelector(".error").textContent = "";
}

function showErrors(reasons) {
  const lines = [];
  for (const r of reasons) {
    const field = fieldOf(r.field);
    const text = zhPart(r.reason);
    const box = field && document.querySelector(`.field[data-field="${field}"]`);
    if (box) {
      box.classList.add("invalid");
      const el = box.querySelector(".error");
      el.textContent = el.textContent ? el.textContent + "；" + text : text;
      lines.push(`${LABELS[field]}：${text}`);
    } else lines.push(text);
  }
  const result = $("#result");
  result.className = "bad";
  result.textContent = "未提交：" + lines.join("；");
  const first = document.querySelector(".field.invalid");
  if (first) first.scrollIntoView({ block: "center", behavior: "smooth" });
}

function checked() {
  return [...document.querySelectorAll('#roll input[name="attendee"]:checked')].map((i) => i.value);
}

$("#roll").addEventListener("change", () => { countPicked(); clearError("attendee_ids"); });
$("#all").addEventListener("click", () => { document.querySelectorAll('#roll .member[data-party="1"] input').forEach((i) => { i.checked = true; }); countPicked(); });
$("#none").addEventListener("click", () => { document.querySelectorAll("#roll input").forEach((i) => { i.checked = false; }); countPicked(); });
["f-kind", "f-expected", "f-topic"].forEach((id) => $("#" + id).addEventListener("change", (ev) => clearError(ev.target.name)));
$("#sign-out").addEventListener("click", signOut);

$("#meeting").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  document.querySelectorAll(".field").forEach((f) => clearError(f.dataset.field));
  const day = $("#f-day").dataset.value;
  const missing = [];
  if (!$("#f-branch").value) missing.push({ field: "organization_id", reason: "请选择党支部" });
  if (!$("#f-kind").value) missing.push({ field: "meeting_kind", reason: "请选择会议类型" });
  if (!day) missing.push({ field: "held_at", reason: "请选择召开日期" });
  if ($("#f-expected").value === "" || Number($("#f-expected").value) < 0) missing.push({ field: "expected_count", reason: "请填写应到人数（不小于0的整数）" });
  if (missing.length) { showErrors(missing); return; }
  const body = {
    organization_id: $("#f-branch").value, meeting_kind: $("#f-kind").value,
    held_at: `${day} ${$("#f-hour").value}:${$("#f-minute").value}`,
    attendee_ids: checked(), expected_count: $("#f-expected").value, topic: $("#f-topic").value,
    ...(state.resubmits ? { resubmits: state.resubmits } : {}),
  };
  const result = $("#result");
  const button = $("#submit");
  button.disabled = true;
  result.className = "";
  result.textContent = "提交中…";
  let answer;
  try { answer = await api("/api/v1/forms/meeting", { method: "POST", body: JSON.stringify(body) }); }
  catch (e) { answer = null; }
  button.disabled = false;
  if (!answer || answer.status >= 500 || !answer.body) {
    result.className = "bad";
    result.textContent = "网络或服务暂时不可用，填写内容已保留，请稍后再次提交（不会重复计入）";
    return;
  }
  if (answer.status === 401) { result.className = "bad"; result.textContent = "登录已过期，请重新登录（填写内容已保留）"; return; }
  if (!answer.ok) { const e = answer.body.error || {}; showErrors([{ field: e.field, reason: e.message || `提交失败（${answer.status}）` }]); return; }
  const a = answer.body;
  if (a.rejected && a.rejected.length) { showErrors(a.rejected.flatMap((r) => (r.reasons && r.reasons.length ? r.reasons : [{ field: null, reason: r.reason }]))); return; }
  result.className = "ok";
  if (a.resubmitted) result.textContent = "已重新提交，等待审核";
  else result.textContent = a.accepted ? "已提交，已计入本季度" : "该会议此前已提交，未重复计入";
  stopFixing();
  $("#f-kind").value = "";
  $("#f-topic").value = "";
  document.querySelectorAll("#roll input").forEach((i) => { i.checked = false; });
  countPicked();
  await loadBranch();
});

// -- start: a token from the SSO's return (#token=…), the session, or the sign-in -----------------
(async () => {
  const fromSso = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromSso) { history.replaceState(null, "", location.pathname); await signedIn(fromSso); return; }
  state.token = sessionStorage.getItem(TOKEN);
  if (state.token) await start(); else await showSignIn();
})();
