// 上报审核: the institution's Party admin (or the secretariat, for emerging institutions without a
// Party organisation) approves a reported meeting or public activity, or returns it with a comment;
// the history lists every step. Chinese first; refusals shown at the comment, as the server words them.
"use strict";
const $ = (sel) => document.querySelector(sel);
const TOKEN = "fpba_review_token";
const state = { token: null, view: "queue", institution: "" };
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const zhPart = (text) => String(text || "").split(" / ")[0];
const when = (iso) => (iso ? iso.slice(0, 16).replace("T", " ") : "");

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (options.body) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await resp.json(); } catch (e) { body = null; }
  return { ok: resp.ok, status: resp.status, body };
}

function signedIn(token) { state.token = token; sessionStorage.setItem(TOKEN, token); return load(); }

async function showSignIn(message) {
  $("#work").hidden = true;
  $("#sign-in").hidden = false;
  $("#sign-out").hidden = true;
  if (document.body.dataset.devSignIn !== "1") { $("#sso-note").hidden = false; return; }
  $("#dev-sign-in").hidden = false;
  if (message) $("#si-error").textContent = message;
  const answer = await api("/api/v1/forms/sign-in");
  const items = answer.ok ? answer.body.items : [];
  $("#si-who").innerHTML = `<option value="">秘书处</option>` + items.map((i) => `<option value="${esc(i.id)}">${esc(i.name)} 党务管理员</option>`).join("");
  $("#si-go").onclick = async () => {
    $("#si-error").textContent = "";
    const who = $("#si-who").value;
    const got = await api("/api/v1/reviews/sign-in", { method: "POST", body: JSON.stringify({ institution_id: who || null }) });
    if (got.ok) await signedIn(got.body.token);
    else $("#si-error").textContent = zhPart(got.body?.error?.message) || `登录失败（${got.status}）`;
  };
}

async function load() {
  const params = new URLSearchParams({ view: state.view });
  if (state.institution) params.set("institution_id", state.institution);
  const answer = await api(`/api/v1/reviews?${params}`);
  if (answer.status === 401 || answer.status === 403) {
    sessionStorage.removeItem(TOKEN);
    state.token = null;
    await showSignIn(answer.status === 403 ? zhPart(answer.body?.error?.message) : "");
    return;
  }
  if (!answer.ok) { $("#list").innerHTML = `<p class="error">暂时无法读取，请稍后重试</p>`; return; }
  const a = answer.body;
  $("#sign-in").hidden = true;
  $("#work").hidden = false;
  $("#sign-out").hidden = false;
  $("#whoami").textContent = a.role === "secretariat" ? "秘书处" : `机构党务管理员 · ${a.institutions.map((i) => i.name).join("、")}`;
  $("#scope").textContent = a.role === "secretariat" ? "秘书处审核未建立党组织的新兴金融机构的上报" : "";
  const select = $("#f-institution");
  if (a.role === "secretariat" && a.institutions.length) {
    $("#inst-field").hidden = false;
    if (select.options.length === 1) select.innerHTML += a.institutions.map((i) => `<option value="${esc(i.id)}">${esc(i.name)}</option>`).join("");
  }
  $(`#n-${state.view}`).textContent = `(${a.total})`;
  document.querySelectorAll(".tabs button").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.view === state.view)));
  $("#list").innerHTML = a.items.length ? a.items.map(card).join("")
    : `<p class="card empty-list">${state.view === "queue" ? "没有待审核的上报" : "尚无审核记录"}</p>`;
  $("#list").dataset.view = state.view;
}

function card(i) {
  const people = i.type === "fpba.meeting.held.v1" ? `${i.people}人参会${i.expected != null ? `（应到${i.expected}人）` : ""}` : `${i.people}人参加${i.hours != null ? ` · ${i.hours}小时` : ""}`;
  const steps = i.history.length ? `<ol class="steps">${i.history.map((s) => `<li>${esc(when(s.at))} ${esc(s.by_role_zh)}：${esc(s.state_zh)}${s.comment ? `<span class="comment">「${esc(s.comment)}」</span>` : ""}${s.as ? "（已更正后重新提交）" : ""}</li>`).join("")}</ol>` : "";
  const open = i.state === "pending" || i.state === "resubmitted";
  const actions = state.view === "queue" && open ? `<div class="field" data-field="comment"><label for="c-${esc(i.id)}">审核意见 <small>（退回时必填）</small></label>
      <textarea id="c-${esc(i.id)}" maxlength="1000" placeholder="例如：参会人员名单不完整，请补充后重新提交"></textarea><p class="error" role="alert"></p></div>
    <div class="actions"><button type="button" class="approve" data-act="approve" data-id="${esc(i.id)}">通过</button>
      <button type="button" class="return" data-act="return" data-id="${esc(i.id)}">退回</button></div>` : "";
  return `<article class="card item" data-id="${esc(i.id)}" data-state="${esc(i.state)}">
    <h3>${esc(i.kind_zh || i.type_zh)} <span class="badge review ${esc(i.state)}">${esc(i.state_zh)}</span></h3>
    <div class="where">${esc(i.organization_name)} · ${esc(i.institution_name)}</div>
    <dl><dt>召开时间</dt><dd>${esc(i.held_at || "")}</dd><dt>人数</dt><dd>${esc(people)}</dd>
      ${i.topic ? `<dt>主题</dt><dd>${esc(i.topic)}</dd>` : ""}
      <dt>上报</dt><dd>${esc(when(i.received_at))} · ${esc(i.channel_zh)}</dd>
      ${i.flags_zh.length ? `<dt>提示</dt><dd>${esc(i.flags_zh.join("、"))}</dd>` : ""}</dl>
    ${steps}${actions}</article>`;
}

$("#list").addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-act]");
  if (!b) return;
  const item = b.closest(".item");
  const box = item.querySelector('.field[data-field="comment"]');
  const comment = item.querySelector("textarea").value.trim();
  box.classList.remove("invalid");
  box.querySelector(".error").textContent = "";
  if (b.dataset.act === "return" && !comment) {
    box.classList.add("invalid");
    box.querySelector(".error").textContent = "退回须填写退回意见";
    item.querySelector("textarea").focus();
    return;
  }
  item.querySelectorAll("button").forEach((x) => { x.disabled = true; });
  const answer = await api(`/api/v1/submissions/${encodeURIComponent(b.dataset.id)}/${b.dataset.act}`, { method: "POST", body: JSON.stringify({ comment }) });
  if (!answer.ok) {
    item.querySelectorAll("button").forEach((x) => { x.disabled = false; });
    box.classList.add("invalid");
    box.querySelector(".error").textContent = zhPart(answer.body?.error?.message) || `操作失败（${answer.status}）`;
    return;
  }
  item.dataset.state = answer.body.state;
  const badge = item.querySelector(".badge.review");
  badge.className = `badge review ${answer.body.state}`;
  badge.textContent = answer.body.state_zh;
  item.querySelector(".actions").outerHTML = `<p class="done">${b.dataset.act === "approve" ? "已通过" : "已退回，已通知上报人"}</p>`;
  box.remove();
  const n = $("#n-queue");
  const left = Math.max(0, Number((n.textContent.match(/\d+/) || [1])[0]) - 1);
  n.textContent = `(${left})`;
});

document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
  state.view = b.dataset.view;
  delete $("#list").dataset.view;
  load();
}));
$("#f-institution").addEventListener("change", (ev) => { state.institution = ev.target.value; load(); });
$("#sign-out").addEventListener("click", () => { sessionStorage.removeItem(TOKEN); state.token = null; location.hash = ""; location.reload(); });

(async () => {
  const given = new URLSearchParams(location.hash.slice(1)).get("token") || new URLSearchParams(location.search).get("token");
  if (given) { history.replaceState(null, "", location.pathname); await signedIn(given); return; }
  state.token = sessionStorage.getItem(TOKEN);
  if (state.token) await load(); else await showSignIn();
})();
