/* 评价细则草案：上传校验、全部机构模拟评分（what-if）、差异图表与明细、提请发布与第二人审批。
   Draft rulesets: upload and check, what-if for all institutions, the diff as a chart and a table, propose and approve. */
"use strict";
Object.assign(I18N.zh, {
  rs_title: "评价细则草案与模拟评分", rs_back: "返回驾驶舱", rs_upload: "提交草案", rs_upload_button: "上传并校验",
  rs_upload_hint: "YAML 格式同 rulesets/*.yaml；也可通过 API 以 JSON 提交", rs_drafts: "草案", rs_version: "版本",
  rs_created_by: "起草人", rs_periods_in_force: "适用季度", rs_replay_over: "回放季度：", rs_run: "运行模拟（全部机构）",
  rs_diff_period: "差异季度：", rs_rank_plot: "机构排名变化（横轴：现行细则排名；纵轴：草案排名；对角线以下为上升）",
  rs_by_indicator: "各指标影响的对象数（机构与支部）", rs_changed_only: "只看有变化的", rs_score_before: "现行得分", rs_score_after: "草案得分",
  rs_grade: "等级（现行 → 草案）", rs_rank: "排名（现行 → 草案）", rs_moved_by: "变动的指标（得分变化）",
  rs_publish: "发布（需另一位秘书处人员批准）", rs_apply_to: "适用季度：", rs_note: "说明", rs_propose: "提请发布",
  rs_comment: "审批意见", rs_approve: "批准发布", rs_reject: "驳回", rs_problems: "草案未通过校验，请修改后重新上传：",
  rs_field: "字段", rs_reason: "原因", rs_created: "草案已保存", rs_status_draft: "草案", rs_status_proposed: "待批准",
  rs_status_published: "已发布", rs_job_queued: "排队中", rs_job_running: "计算中", rs_job_done: "完成", rs_job_failed: "失败",
  rs_phase_loading: "读取数据", rs_phase_scoring: "计分对比", rs_phase_written: "已写入", rs_phase_queued: "排队",
  rs_changed: "得分变化", rs_grade_changes: "等级变化", rs_rank_up: "排名上升", rs_rank_down: "排名下降", rs_of: "共 {n} 个",
  rs_in_force: "对比基准：现行细则 {v}", rs_proposed_by: "{by} 于 {at} 提请发布，适用 {periods}；待另一位秘书处人员批准",
  rs_published: "已由 {by} 于 {at} 批准发布，适用 {periods}", rs_need_whatif: "发布前须先运行一次模拟并查看差异",
  rs_no_moves: "无", rs_unranked: "不排名", rs_diagonal: "排名不变", rs_grade_changed_legend: "等级变化", rs_grade_same_legend: "等级不变",
  nav_rulesets: "评价细则", rs_rank_now: "现行细则排名", rs_rank_draft: "草案排名",
});
Object.assign(I18N.en, {
  rs_title: "Draft rulesets and what-if", rs_back: "Back to the dashboard", rs_upload: "Submit a draft", rs_upload_button: "Upload and check",
  rs_upload_hint: "YAML as rulesets/*.yaml; JSON through the API", rs_drafts: "Drafts", rs_version: "Version",
  rs_created_by: "Author", rs_periods_in_force: "Quarters", rs_replay_over: "Replay over:", rs_run: "Run the what-if (all institutions)",
  rs_diff_period: "Quarter:", rs_rank_plot: "Institutions' ranks (x: ruleset in force; y: draft; below the diagonal: moved up)",
  rs_by_indicator: "Objects each indicator moved (institutions and branches)", rs_changed_only: "Changed only", rs_score_before: "Score now", rs_score_after: "Score (draft)",
  rs_grade: "Grade (now → draft)", rs_rank: "Rank (now → draft)", rs_moved_by: "Indicators that moved (points)",
  rs_publish: "Publish (a second secretariat user approves)", rs_apply_to: "Applies to:", rs_note: "Note", rs_propose: "Propose publication",
  rs_comment: "Comment", rs_approve: "Approve", rs_reject: "Reject", rs_problems: "The draft did not pass the checks; fix it and upload again:",
  rs_field: "Field", rs_reason: "Reason", rs_created: "Draft saved", rs_status_draft: "Draft", rs_status_proposed: "Awaiting approval",
  rs_status_published: "Published", rs_job_queued: "Queued", rs_job_running: "Running", rs_job_done: "Done", rs_job_failed: "Failed",
  rs_phase_loading: "reading facts", rs_phase_scoring: "scoring both", rs_phase_written: "written", rs_phase_queued: "queued",
  rs_changed: "Score changed", rs_grade_changes: "Grade changed", rs_rank_up: "Moved up", rs_rank_down: "Moved down", rs_of: "of {n}",
  rs_in_force: "Compared with the ruleset in force: {v}", rs_proposed_by: "Proposed by {by} at {at} for {periods}; awaits a second secretariat user",
  rs_published: "Approved by {by} at {at}, applies to {periods}", rs_need_whatif: "Run the what-if and read its diff before proposing",
  rs_no_moves: "none", rs_unranked: "not ranked", rs_diagonal: "same rank", rs_grade_changed_legend: "grade changed", rs_grade_same_legend: "same grade",
  nav_rulesets: "Rulesets", rs_rank_now: "rank now", rs_rank_draft: "rank (draft)",
});

const RS = (window.RS = { draft: null, job: null, level: "institution", page: 1, pageSize: 20, me: null, periods: [] });

const nextQuarter = (p) => { const [y, q] = p.split("-Q").map(Number); return q === 4 ? `${y + 1}-Q1` : `${y}-Q${q + 1}`; };
const checkboxes = (id, periods, checked) => {
  document.getElementById(id).innerHTML = periods.map((p) => `<label><input type="checkbox" value="${p}" ${checked.includes(p) ? "checked" : ""}> ${p}</label>`).join("");
};
const picked = (id) => [...document.querySelectorAll(`#${id} input:checked`)].map((i) => i.value);
const post = async (path, body) => (await Dash.api(path, null, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
const showError = (e) => { const err = document.getElementById("error"); err.hidden = false; err.textContent = e.message; err.dataset.status = e.status || ""; };
const clearError = () => { document.getElementById("error").hidden = true; };

RS.loadDrafts = async () => {
  const { items } = await Dash.json("/api/v1/rulesets/drafts");
  document.querySelector("#drafts tbody").innerHTML = items.map((d) => `<tr class="click" data-id="${Dash.esc(d.id)}">
    <td>${Dash.esc(d.version)}</td><td>${Dash.esc(bi(d.name))}</td><td><span class="badge">${t("rs_status_" + d.status)}</span></td>
    <td>${Dash.esc(d.created_by)}</td><td>${Dash.esc((d.periods || []).join("、") || "—")}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">${t("empty")}</td></tr>`;
  document.querySelectorAll("#drafts tr.click").forEach((tr) => { tr.onclick = () => RS.open(tr.dataset.id); });
  return items;
};

RS.open = async (id) => {
  clearError();
  const d = (RS.draft = await Dash.json(`/api/v1/rulesets/drafts/${id}`));
  document.getElementById("draft").hidden = false;
  document.getElementById("draft-title").textContent = `${d.version} · ${bi(d.name)}`;
  const badge = document.getElementById("draft-status");
  badge.textContent = t("rs_status_" + d.status); badge.className = `badge ${d.status}`;
  const last = d.jobs && d.jobs[0];
  checkboxes("whatif-periods", RS.periods, last ? last.periods : RS.periods.slice(0, 1));
  const future = [...new Set([RS.current, nextQuarter(RS.current), ...RS.periods])].sort();
  checkboxes("publish-periods", future, d.proposal ? d.proposal.periods : [nextQuarter(RS.current)]);
  RS.showPublication();
  if (last) { RS.job = last; await RS.follow(last.id); } else { document.getElementById("diff").hidden = true; document.getElementById("progress").textContent = ""; }
};

RS.showPublication = () => {
  const d = RS.draft, state = document.getElementById("publish-state");
  const propose = document.getElementById("propose-form"), decide = document.getElementById("decide-form");
  propose.hidden = d.status !== "draft"; decide.hidden = d.status !== "proposed";
  if (d.status === "proposed") state.textContent = t("rs_proposed_by", { by: d.proposal.by, at: Dash.time(d.proposal.at), periods: d.proposal.periods.join("、") });
  else if (d.status === "published") state.textContent = t("rs_published", { by: d.decision.by, at: Dash.time(d.decision.at), periods: d.periods.join("、") });
  else state.textContent = d.whatif_job ? "" : t("rs_need_whatif");
};

RS.follow = async (jobId) => {
  const progress = document.getElementById("progress");
  for (;;) {
    const job = (RS.job = await Dash.json(`/api/v1/rulesets/whatif/${jobId}`));
    const p = job.progress || {};
    progress.textContent = `${t("rs_job_" + job.status)} · ${p.done}/${p.total}${p.period ? ` · ${p.period} ${t("rs_phase_" + p.phase)}` : ""}${job.error ? " · " + bi(job.error) : ""}`;
    progress.dataset.status = job.status;
    if (job.status === "done" || job.status === "failed") break;
    await new Promise((r) => setTimeout(r, 500));
  }
  if (RS.job.status === "done") await RS.showDiff();
};

RS.showDiff = async () => {
  const job = RS.job;
  document.getElementById("diff").hidden = false;
  const sel = document.getElementById("diff-period");
  if (!job.periods.includes(sel.value)) sel.innerHTML = job.periods.map((p) => `<option>${p}</option>`).join("");
  const period = sel.value || job.periods[0];
  document.getElementById("in-force").textContent = t("rs_in_force", { v: (job.in_force || {})[period] || "—" });
  const s = job.summary[period] || {};
  const card = (k, v, n) => `<div class="card"><div class="k">${t(k)}</div><div class="v">${v}</div><div class="k">${n}</div></div>`;
  const inst = s.institution || {}, br = s.branch || {};
  document.getElementById("summary").innerHTML = [
    card("rs_changed", `${Dash.int(inst.changed)} ${t("level_institution")}`, t("rs_of", { n: Dash.int(inst.objects) })),
    card("rs_grade_changes", `${Dash.int(inst.grade_changes)} ${t("level_institution")}`, Object.entries(inst.grade_flows || {}).map(([f, n]) => `${f.split("→").map(t).join("→")} ${n}`).join("，") || "—"),
    card("rs_rank_up", Dash.int(inst.up), `max +${inst.max_up || 0}`),
    card("rs_rank_down", Dash.int(inst.down), `max −${inst.max_down || 0}`),
    card("rs_changed", `${Dash.int(br.changed)} ${t("level_branch")}`, t("rs_of", { n: Dash.int(br.objects) })),
    card("rs_grade_changes", `${Dash.int(br.grade_changes)} ${t("level_branch")}`, Object.entries(br.grade_flows || {}).map(([f, n]) => `${f.split("→").map(t).join("→")} ${n}`).join("，") || "—"),
  ].join("");
  // every institution, for the rank plot (ranked ones only: 待评 has no rank)
  const all = [];
  for (let page = 1; ; page++) {
    const r = await Dash.json(`/api/v1/rulesets/whatif/${job.id}/rows`, { period, level: "institution", changed_only: false, sort: "id", page, page_size: 500 });
    all.push(...r.items);
    if (all.length >= r.total || !r.items.length) break;
  }
  const ranked = all.filter((r) => r.rank_before && r.rank_after);
  const max = Math.max(1, ...ranked.map((r) => Math.max(r.rank_before, r.rank_after)));
  const point = (r) => ({ value: [r.rank_before, r.rank_after], name: r.name, r });
  const named = { show: ranked.length <= 30, formatter: (p) => p.data.name, position: "top", fontSize: 11 };
  Dash.chart("rank-chart", {
    tooltip: { formatter: (p) => p.data.r ? `${Dash.esc(p.data.r.name)}<br>${t("rs_rank")}: ${p.data.r.rank_before} → ${p.data.r.rank_after}<br>${t("score")}: ${p.data.r.score_before} → ${p.data.r.score_after}<br>${t(p.data.r.grade_before)} → ${t(p.data.r.grade_after)}` : "" },
    legend: { bottom: 0 },
    grid: { left: 50, right: 30, top: 40, bottom: 70 },
    xAxis: { type: "value", name: t("rs_rank_now"), nameLocation: "middle", nameGap: 25, min: 1, max, minInterval: 1 },
    yAxis: { type: "value", name: t("rs_rank_draft"), min: 1, max, minInterval: 1 },
    series: [
      { name: t("rs_diagonal"), type: "line", data: [[1, 1], [max, max]], symbol: "none", lineStyle: { type: "dashed", color: "#999" } },
      { name: t("rs_grade_same_legend"), type: "scatter", symbolSize: 9, label: named, itemStyle: { color: "#5b8ff9" }, data: ranked.filter((r) => !r.grade_changed).map(point) },
      { name: t("rs_grade_changed_legend"), type: "scatter", symbolSize: 12, label: named, itemStyle: { color: "#c23531" }, data: ranked.filter((r) => r.grade_changed).map(point) },
    ],
  });
  const names = [...new Set([...Object.keys(inst.by_indicator || {}), ...Object.keys(br.by_indicator || {})])];
  const label = (k) => k.endsWith("@institution") ? `${t(k.split("@")[0])}（${t("scope_institution")}）` : t(k);
  Dash.chart("indicator-chart", {
    tooltip: { trigger: "axis" }, legend: { bottom: 0 },
    grid: { left: 120, right: 20, top: 20, bottom: 50 },
    xAxis: { type: "value", minInterval: 1 }, yAxis: { type: "category", data: names.map(label) },
    series: [
      { name: t("level_institution"), type: "bar", data: names.map((n) => (inst.by_indicator || {})[n] || 0), itemStyle: { color: "#b71c1c" } },
      { name: t("level_branch"), type: "bar", data: names.map((n) => (br.by_indicator || {})[n] || 0), itemStyle: { color: "#e98f36" } },
    ],
  });
  await RS.showRows();
};

RS.showRows = async () => {
  const period = document.getElementById("diff-period").value || RS.job.periods[0];
  const r = await Dash.json(`/api/v1/rulesets/whatif/${RS.job.id}/rows`, { period, level: RS.level, changed_only: document.getElementById("changed-only").checked, sort: "rank_change", page: RS.page, page_size: RS.pageSize });
  const cls = (n) => (n > 0 ? "up" : n < 0 ? "down" : "");
  const rank = (x) => (x === null || x === undefined ? t("rs_unranked") : x);
  document.querySelector("#rows tbody").innerHTML = r.items.map((row) => `<tr data-id="${Dash.esc(row.id)}">
    <td>${Dash.esc(row.name)}<div class="muted">${Dash.esc(row.id)} · ${t(row.ownership)} · ${Dash.esc(row.reporting_level)}</div></td>
    <td class="n">${Dash.num(row.score_before)}</td><td class="n ${cls(row.score_delta)}">${Dash.num(row.score_after)} (${row.score_delta > 0 ? "+" : ""}${Dash.num(row.score_delta)})</td>
    <td>${t(row.grade_before)} → <b class="${row.grade_changed ? "badge " + row.grade_after : ""}">${t(row.grade_after)}</b></td>
    <td class="n ${cls(row.rank_change || 0)}">${rank(row.rank_before)} → ${rank(row.rank_after)}</td>
    <td>${row.indicators.map((m) => `<span class="move ${cls(m.delta)}">${row.level === "institution" && m.scope === "institution" ? label2(m) : t(m.indicator)} ${m.delta > 0 ? "+" : ""}${Dash.num(m.delta)}</span>`).join("") || t("rs_no_moves")}</td></tr>`).join("")
    || `<tr><td colspan="6" class="muted">${t("empty")}</td></tr>`;
  const pages = Math.max(1, Math.ceil(r.total / RS.pageSize));
  document.getElementById("page").textContent = t("page_of", { p: RS.page, n: pages, t: r.total });
  document.getElementById("prev").disabled = RS.page <= 1; document.getElementById("next").disabled = RS.page >= pages;
  document.getElementById("view").dataset.ready = "diff";
};
const label2 = (m) => `${t(m.indicator)}（${t("scope_institution")}）`;

RS.start = async () => {
  applyI18n();
  document.getElementById("lang").onclick = () => { localStorage.setItem("dashboard.lang", lang() === "zh" ? "en" : "zh"); location.reload(); };
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault(); sessionStorage.setItem("dashboard.token", document.getElementById("login-token").value.trim()); location.reload();
  });
  if (!Dash.token()) { Dash.showLogin(); return; }
  try {
    RS.me = await Dash.json("/api/v1/dashboard/me");
    document.getElementById("whoami").textContent = `${t(RS.me.role)} · ${RS.me.subject}`;
    const { current, periods } = await Dash.json("/api/v1/dashboard/periods");
    RS.current = current;
    RS.periods = [...new Set([...(periods || []), current])].sort().reverse();
    await RS.loadDrafts();
  } catch (e) { showError(e); document.getElementById("view").dataset.ready = "error"; return; }
  document.getElementById("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault(); clearError();
    const file = document.getElementById("draft-file").files[0];
    if (!file) return;
    const form = new FormData(); form.append("file", file);
    const res = await fetch("/api/v1/rulesets/drafts", { method: "POST", body: form, headers: { Authorization: `Bearer ${Dash.token()}` } });
    const body = await res.json();
    const box = document.getElementById("problems");
    if (res.status === 422) {
      box.innerHTML = `<p class="error">${t("rs_problems")}</p><table><thead><tr><th>${t("rs_field")}</th><th>${t("rs_reason")}</th></tr></thead><tbody>${((body.error && body.error.problems) || [body.error]).map((p) => `<tr><td>${Dash.esc(p.field)}</td><td>${Dash.esc(bi(p.reason || p.message))}</td></tr>`).join("")}</tbody></table>`;
      box.dataset.state = "invalid";
      return;
    }
    if (!res.ok) { showError(new Dash.ApiError(res.status, body)); return; }
    box.innerHTML = `<p class="muted">${t("rs_created")}：${Dash.esc(body.version)}</p>`; box.dataset.state = "created";
    await RS.loadDrafts(); await RS.open(body.id);
  });
  document.getElementById("run-whatif").onclick = async () => {
    clearError();
    try { const job = await post(`/api/v1/rulesets/drafts/${RS.draft.id}/whatif`, { periods: picked("whatif-periods") }); RS.page = 1; await RS.follow(job.id); RS.draft = await Dash.json(`/api/v1/rulesets/drafts/${RS.draft.id}`); RS.showPublication(); }
    catch (e) { showError(e); }
  };
  document.getElementById("diff-period").onchange = () => { RS.page = 1; RS.showDiff(); };
  document.getElementById("changed-only").onchange = () => { RS.page = 1; RS.showRows(); };
  document.querySelectorAll("#level-switch button").forEach((b) => { b.onclick = () => {
    RS.level = b.dataset.level; RS.page = 1;
    document.querySelectorAll("#level-switch button").forEach((x) => x.classList.toggle("on", x === b)); RS.showRows();
  }; });
  document.getElementById("prev").onclick = () => { RS.page -= 1; RS.showRows(); };
  document.getElementById("next").onclick = () => { RS.page += 1; RS.showRows(); };
  const act = async (path, body) => {
    clearError(); const msg = document.getElementById("publish-msg"); msg.textContent = "";
    try { RS.draft = { ...RS.draft, ...(await post(path, body)) }; RS.showPublication(); await RS.loadDrafts();
      document.getElementById("draft-status").textContent = t("rs_status_" + RS.draft.status);
      msg.innerHTML = `<p>✔ ${t("rs_status_" + RS.draft.status)}</p>`; msg.dataset.state = RS.draft.status; }
    catch (e) { msg.innerHTML = `<p class="error">${Dash.esc(bi(e.message))}</p>`; msg.dataset.state = "refused"; }
  };
  document.getElementById("propose").onclick = () => act(`/api/v1/rulesets/drafts/${RS.draft.id}/publication`, { periods: picked("publish-periods"), note: document.getElementById("publish-note").value });
  document.getElementById("approve").onclick = () => act(`/api/v1/rulesets/drafts/${RS.draft.id}/decision`, { decision: "approve", comment: document.getElementById("decision-comment").value });
  document.getElementById("reject").onclick = () => act(`/api/v1/rulesets/drafts/${RS.draft.id}/decision`, { decision: "reject", comment: document.getElementById("decision-comment").value });
  const wanted = new URL(location.href).searchParams.get("draft");
  if (wanted) await RS.open(wanted);
  document.getElementById("view").dataset.ready = document.getElementById("view").dataset.ready || "drafts";
};
RS.start();
