/* 各页面的渲染：总览、排名、钻取、工作台、热力图。Each page of the dashboard. */
"use strict";
const V = (window.Views = {});
const $ = (sel, root) => (root || document).querySelector(sel);
const E = Dash.esc;

const pager = (data, go) => {
  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  const div = document.createElement("div");
  div.className = "pager";
  div.innerHTML = `<button data-p="${data.page - 1}" ${data.page <= 1 ? "disabled" : ""}>${t("prev")}</button>
    <span class="page-info">${t("page_of", { p: data.page, n: pages, t: data.total })}</span>
    <button data-p="${data.page + 1}" ${data.page >= pages ? "disabled" : ""}>${t("next")}</button>`;
  div.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => go(Number(b.dataset.p))));
  return div;
};

const exportButton = (table, params) =>
  `<button class="export" data-table="${table}" data-params='${E(JSON.stringify(params))}'>${t("export")}</button>`;
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button.export");
  if (b) Dash.download(b.dataset.table, JSON.parse(b.dataset.params), b);
});

// how final the numbers are: an open quarter's are judged on what is due so far
const standingLine = (x) => (x && x.as_of ? `<p class="standing ${x.provisional ? "provisional" : "final"}" id="standing">${E(x.provisional
  ? t("standing_open").replace("{m}", Number(x.as_of.slice(5, 7))).replace("{d}", Number(x.as_of.slice(8, 10))).replace("{date}", x.as_of)
  : t("standing_final"))}</p>` : "");

V.overview = async (view, s) => {
  const [o, tr] = await Promise.all([
    Dash.json("/api/v1/overview", { period: s.period }),
    Dash.json("/api/v1/dashboard/trend", { period: s.period, quarters: 6 }),
  ]);
  const card = (k, v, id) => `<div class="card" id="kpi-${id || k}"><div class="k">${t(k)}</div><div class="v">${v}</div></div>`;
  const c = o.coverage || {};
  const levels = ["L1", "L2", "L3"];
  const owners = [...new Set(o.by_class.map((x) => x.ownership))];
  const cell = (own, lvl) => (o.by_class.find((x) => x.ownership === own && x.reporting_level === lvl) || {}).institutions || 0;
  view.innerHTML = `
    ${standingLine(o)}
    <div class="cards">
      ${card("institutions", Dash.int(o.institutions))}${card("branches", Dash.int(c.branches))}
      ${card("joint_branches", Dash.int(c.joint_branches))}${card("members", Dash.int(c.members))}
      ${card("pocket_members", Dash.int(c.pocket_members))}${card("completeness", Dash.pct(o.completeness))}
      ${card("timeliness", Dash.pct(o.timeliness))}${card("no_data", Dash.int(o.no_data))}${card("vetoed", Dash.int(o.vetoed))}${card("rejections", Dash.int(o.rejections))}
    </div>
    <div class="grid2">
      <div class="panel"><h2>${t("grades")}</h2><div id="chart-grades" class="chart"></div></div>
      <div class="panel"><h2>${t("trend")} ${exportButton("trend", { period: s.period })}</h2><div id="chart-trend" class="chart"></div></div>
    </div>
    <div class="panel"><h2>${t("by_class")} ${exportButton("overview", { period: s.period })}</h2>
      <div class="grid2"><div id="chart-classes" class="chart"></div>
      <div><table id="matrix"><thead><tr><th>${t("ownership")} \\ ${t("reporting_level")}</th>${levels.map((l) => `<th class="n">${l}</th>`).join("")}<th class="n">∑</th></tr></thead>
      <tbody>${owners.map((own) => `<tr data-ownership="${E(own)}"><td>${E(t(own))}</td>${levels.map((l) => `<td class="n" data-level="${l}">${cell(own, l)}</td>`).join("")}<td class="n">${levels.reduce((a, l) => a + cell(own, l), 0)}</td></tr>`).join("")}</tbody></table>
      <table id="classes"><thead><tr><th>${t("ownership")}</th><th>${t("reporting_level")}</th><th class="n">${t("institutions")}</th><th class="n">${t("completeness")}</th><th class="n">${t("timeliness")}</th><th class="n">${t("average_score")}</th>${Dash.GRADES.map((g) => `<th class="n">${t(g)}</th>`).join("")}</tr></thead>
      <tbody>${o.by_class.map((x) => `<tr><td>${E(t(x.ownership))}</td><td>${E(x.reporting_level)}</td><td class="n">${x.institutions}</td><td class="n">${Dash.pct(x.completeness)}</td><td class="n">${Dash.pct(x.timeliness)}</td><td class="n">${Dash.num(x.average_score)}</td>${Dash.GRADES.map((g) => `<td class="n">${x.grades[g] || 0}</td>`).join("")}</tr>`).join("")}</tbody></table></div></div>
    </div>`;
  view.insertAdjacentHTML("beforeend", maturityPanel(o));
  if ((o.by_level || []).length) Dash.levelChart("chart-levels", o.by_level);
  Dash.gradePie("chart-grades", o.grades);
  Dash.trendChart("chart-trend", tr.items, false);
  Dash.classChart("chart-classes", o.by_class);
};

// 按上报成熟度公平比较: each level against its own expectation, and how they are compared
const maturityPanel = (o) => (o.by_level && o.by_level.length ? `<div class="panel" id="maturity"><h2>${t("maturity_fair")}</h2>
  <p class="muted" id="maturity-note">${E(bi(o.maturity_note || ""))}</p>
  <div class="grid2"><div id="chart-levels" class="chart"></div>
  <table id="by-level" style="align-self: start"><thead><tr><th>${t("reporting_level")}</th><th class="n">${t("institutions")}</th><th class="n">${t("grace_days")}</th><th class="n">${t("completeness")}</th><th class="n">${t("level_target")}</th><th class="n">${t("timeliness")}</th><th class="n">${t("level_target")}</th><th class="n">${t("level_meeting")}</th></tr></thead>
  <tbody>${o.by_level.map((x) => `<tr data-level="${E(x.reporting_level)}"><td>${E(x.reporting_level)}</td><td class="n">${x.institutions}</td><td class="n">${x.grace_days ?? "—"}</td><td class="n">${Dash.pct(x.completeness)}</td><td class="n muted">${Dash.pct(x.expected_completeness)}</td><td class="n">${Dash.pct(x.timeliness)}</td><td class="n muted">${Dash.pct(x.expected_timeliness)}</td><td class="n">${x.meeting_expectation} / ${x.judged}</td></tr>`).join("")}</tbody></table></div></div>` : "");

Dash.levelChart = (id, levels) => Dash.chart(id, {
  tooltip: { trigger: "axis" }, legend: { bottom: 0 },
  grid: { left: 40, right: 20, top: 20, bottom: 50 },
  xAxis: { type: "category", data: levels.map((x) => x.reporting_level) },
  yAxis: { type: "value", min: 0, max: 100 },
  series: [
    { name: t("completeness"), type: "bar", itemStyle: { color: "#5b8ff9" }, data: levels.map((x) => x.completeness) },
    { name: t("timeliness"), type: "bar", itemStyle: { color: "#e98f36" }, data: levels.map((x) => x.timeliness) },
    { name: `${t("completeness")} · ${t("level_target")}`, type: "scatter", symbol: "rect", symbolSize: [28, 3], itemStyle: { color: "#1d39c4" }, data: levels.map((x) => x.expected_completeness) },
    { name: `${t("timeliness")} · ${t("level_target")}`, type: "scatter", symbol: "rect", symbolSize: [28, 3], itemStyle: { color: "#ad4e00" }, data: levels.map((x) => x.expected_timeliness) },
  ],
});

const groupLabel = Dash.groupLabel;

V.rankings = async (view, s) => {
  const f = (s.rank = s.rank || { level: s.readsAll ? "institution" : "branch", sort: "score", order: "desc", page: 1, q: "", ownership: "", sector: "", reporting_level: "", grouping: "ownership" });
  const params = { period: s.period, level: f.level, ownership: f.ownership, sector: f.sector, reporting_level: f.reporting_level, grouping: f.grouping, q: f.q, sort: f.sort, order: f.order, page: f.page, page_size: 50 };
  const data = await Dash.json("/api/v1/dashboard/rankings", params);
  const grouped = data.grouping !== "all";
  const opt = (v, label, cur) => `<option value="${v}" ${v === cur ? "selected" : ""}>${label}</option>`;
  const col = (key, label, n) => `<th class="sortable ${n ? "n" : ""} ${f.sort === key ? `sorted ${f.order}` : ""}" data-sort="${key}">${t(label)}</th>`;
  view.innerHTML = `<div class="panel"><h2>${t("nav_rankings")} ${exportButton("rankings", { ...params, page: undefined, page_size: undefined, sort: undefined, order: undefined })}</h2>
    <div class="filters">
      <select id="f-level">${opt("institution", t("level_institution"), f.level)}${opt("branch", t("level_branch"), f.level)}</select>
      <label>${t("ownership")} <select id="f-ownership">${opt("", t("all"), f.ownership)}${["state_owned", "private", "emerging"].map((o) => opt(o, t(o), f.ownership)).join("")}</select></label>
      <label>${t("reporting_level")} <select id="f-level2">${opt("", t("all"), f.reporting_level)}${["L1", "L2", "L3"].map((o) => opt(o, o, f.reporting_level)).join("")}</select></label>
      <label>${t("sector")} <input id="f-sector" value="${E(f.sector)}" size="8"></label>
      <label>${t("grouping")} <select id="f-grouping">${["ownership", "ownership_sector", "ownership_level", "ownership_sector_level", "all"].map((g) => opt(g, t(`grouping_${g}`), f.grouping)).join("")}</select></label>
      <input id="f-q" type="search" placeholder="${t("search")}" value="${E(f.q)}">
      <span class="muted" id="groups">${grouped ? `${t("peer_groups")}: ${data.groups.length} · ${t("shown")}: ${data.group_size}` : t("all_note")}</span>
    </div>
    <table id="ranking" data-grouping="${E(data.grouping)}"><thead><tr><th class="n" id="rank-head">${t(grouped ? "rank" : "rank_all")}</th><th>${t("peer_group")}</th>${col("object_id", "id")}${col("name", "name")}<th>${t("ownership")}</th><th>${t("sector")}</th><th>${t("reporting_level")}</th>${col("score", "score", 1)}<th>${t("grade")}</th>${col("completeness", "completeness", 1)}${col("timeliness", "timeliness", 1)}</tr></thead>
    <tbody>${data.items.length ? data.items.map((i) => `<tr class="click" data-id="${E(i.id)}" data-group="${E(i.group.key)}"><td class="n rank">${i.rank ?? "—"}<span class="muted"> / ${i.group_size}</span></td><td class="group">${E(groupLabel(i.group))}</td><td class="id">${E(i.id)}</td><td>${E(i.name)}${kindBadge(i.kind)}</td><td>${E(Dash.label(i.ownership))}</td><td>${E(i.sector || "—")}</td><td>${E(i.reporting_level || "—")}</td><td class="n">${Dash.num(i.score)}</td><td><span class="badge ${E(i.grade)}">${E(Dash.label(i.grade))}</span>${i.vetoed ? ` <span class="badge fail">${t("vetoed")}</span>` : ""}</td><td class="n">${Dash.pct(i.completeness)}</td><td class="n">${Dash.pct(i.timeliness)}</td></tr>`).join("") : `<tr><td colspan="11" class="muted">${t("empty")}</td></tr>`}</tbody></table></div>`;
  view.querySelector(".panel").appendChild(pager(data, (p) => { f.page = p; App.render(); }));
  const set = (k, v) => { f[k] = v; f.page = 1; App.render(); };
  $("#f-level").onchange = (e) => set("level", e.target.value);
  $("#f-ownership").onchange = (e) => set("ownership", e.target.value);
  $("#f-level2").onchange = (e) => set("reporting_level", e.target.value);
  $("#f-grouping").onchange = (e) => set("grouping", e.target.value);
  $("#f-sector").onchange = (e) => set("sector", e.target.value.trim());
  $("#f-q").onchange = (e) => set("q", e.target.value.trim());
  view.querySelectorAll("th.sortable").forEach((th) => th.addEventListener("click", () => {
    f.order = f.sort === th.dataset.sort && f.order === "desc" ? "asc" : "desc"; set("sort", th.dataset.sort);
  }));
  view.querySelectorAll("tr.click").forEach((tr) => tr.addEventListener("click", () => {
    location.hash = `#/${f.level === "branch" ? "branch" : "institution"}/${encodeURIComponent(tr.dataset.id)}`;
  }));
};

// the way a branch is set up (联合建、挂靠建、临时党支部), said next to its name; a plain 党支部 says nothing
const kindBadge = (kind) => (kind && kind !== "branch" && kind !== "committee" ? ` <span class="badge kind" data-kind="${E(kind)}">${E(t(kind))}</span>` : "");
// 证据事件: every event id opens the event (what it says, how and when it came, from which upload row or batch)
const eventLink = (id) => `<a class="event-link" href="#/event/${encodeURIComponent(id)}"><code class="event-id">${E(id)}</code></a>`;
const indicatorName = (k) => t(k === "branches" ? "branches_ind" : k);
const breakdownTable = (card) => `<table class="breakdown"><thead><tr><th>${t("indicator")}</th><th class="n">${t("value")}</th><th>${t("requirement")}</th><th class="n">${t("weight")}</th><th class="n">${t("points")}</th><th>${t("evidence")}</th><th>${t("note")}</th></tr></thead>
  <tbody>${card.breakdown.map((r) => `<tr data-indicator="${E(r.indicator)}"><td>${E(indicatorName(r.indicator))}</td><td class="n">${Dash.num(r.value)}</td><td>${E(bi(r.requirement))}</td><td class="n">${Dash.num(r.weight)}</td><td class="n">${Dash.num(r.points)}</td>
  <td class="evidence">${r.evidence_count ? `<span class="muted">${r.evidence_count}</span> ` : ""}${r.evidence.slice(0, 12).map((id) => eventLink(id)).join("")}${r.evidence_count > 12 ? "…" : ""}</td><td class="muted">${E(bi(r.note))}</td></tr>`).join("")}</tbody></table>`;

// 机构指标: the institution's score in its parts, the branches' indicators weighted by member-days
const partName = (r) => `${indicatorName(r.indicator)}${r.indicator === "political" ? `（${t(r.scope === "branches" ? "scope_branches" : "scope_institution")}）` : ""}`;
const indicatorsTable = (card) => `<table class="breakdown" id="indicators"><thead><tr><th>${t("indicator")}</th><th class="n">${t("value")}</th><th>${t("requirement")}</th><th class="n">${t("weight")}</th><th class="n">${t("points")}</th><th>${t("evidence")}</th><th>${t("by_branch")}</th></tr></thead>
  <tbody>${card.indicators.map((r) => `<tr data-indicator="${E(r.indicator)}" data-scope="${E(r.scope)}"><td>${E(partName(r))}</td><td class="n">${Dash.num(r.value)}</td><td>${E(bi(r.requirement))}</td><td class="n">${Dash.num(r.weight)}</td><td class="n">${Dash.num(r.points)}</td>
  <td class="evidence">${r.evidence_count ? `<span class="muted">${r.evidence_count}</span> ` : ""}${r.evidence.slice(0, 8).map((id) => eventLink(id)).join("")}${r.evidence_count > 8 ? "…" : ""}</td>
  <td>${(r.branches || []).filter((b) => b.evidence_count || b.value !== null).map((b) => `<a class="branch-link id" href="#/branch/${encodeURIComponent(b.organization_id)}" title="${E(t("value"))} ${Dash.num(b.value)} · ${E(t("points"))} ${Dash.num(b.points)}">${E(b.organization_id)} (${b.evidence_count})</a>`).join(" ") || `<span class="muted">${E(bi(r.note) || "—")}</span>`}</td></tr>`).join("")}</tbody></table>`;

const indicatorChart = (id, card) => Dash.chart(id, {
  tooltip: { trigger: "axis" },
  legend: { bottom: 0 },
  grid: { left: 130, right: 20, top: 10, bottom: 40 },
  yAxis: { type: "category", data: card.breakdown.map((r) => indicatorName(r.indicator)), inverse: true },
  xAxis: { type: "value", min: 0 },
  series: [
    { name: t("weight"), type: "bar", barGap: "-100%", itemStyle: { color: "#eee" }, data: card.breakdown.map((r) => r.weight) },
    { name: t("points"), type: "bar", itemStyle: { color: "#c23531" }, data: card.breakdown.map((r) => r.points) },
  ],
});

// 本级期望: the institution's completeness and timeliness against its own reporting level's expectation
const levelLine = (a) => (a ? `<div class="k" id="against-level">${t("level_expected", { l: E(a.reporting_level), c: Dash.pct(a.expected_completeness), t: Dash.pct(a.expected_timeliness) })}
  ${a.meets === null ? "" : `<span class="badge ${a.meets ? "excellent" : "fail"}">${t(a.meets ? "level_meets" : "level_below")}</span>`}</div>` : "");

const header = (card) => `${standingLine(card)}<div class="cards">
  <div class="card"><div class="k">${t("name")}</div><div class="v" id="card-name">${E(card.name || card.id)}</div>${kindBadge(card.kind)}</div>
  <div class="card"><div class="k">${t("score")}</div><div class="v" id="card-score">${Dash.num(card.score)}</div></div>
  <div class="card"><div class="k">${t("grade")}</div><div class="v">${E(Dash.label(card.grade))}${card.vetoed ? ` · ${t("vetoed")}` : ""}</div></div>
  <div class="card"><div class="k">${t("completeness")} / ${t("timeliness")}</div><div class="v">${Dash.pct(card.completeness)} / ${Dash.pct(card.timeliness)}</div>${levelLine(card.against_level)}</div>
  <div class="card"><div class="k">${t("ruleset")}</div><div class="v">${E(card.ruleset)}</div></div></div>`;

const changesPanel = (ch) => {
  if (!ch) return "";
  const moved = ch.indicators || [];
  const rows = moved.map((m) => `<tr><td>${E(indicatorName(m.indicator))}</td><td class="n">${Dash.num(m.before.points)}</td><td class="n">${Dash.num(m.after.points)}</td>
    <td class="evidence">${m.events_added.slice(0, 10).map((id) => `<code>+${E(id)}</code>`).join("")}</td><td class="evidence">${m.events_removed.slice(0, 10).map((id) => `<code>−${E(id)}</code>`).join("")}</td></tr>`).join("");
  const hist = (ch.history || []).map((h) => `<tr><td>${Dash.time(h.computed_at)}</td><td class="n">${Dash.num(h.score)}</td><td>${E(Dash.label(h.grade))}</td><td>${E(h.ruleset)}</td><td>${E(Dash.label((h.trigger || "").split(":")[0]))}</td></tr>`).join("");
  return `<div class="panel" id="changes"><h2>${t("why_changed")}</h2>
    ${ch.from ? `<p>${t("score")}: ${Dash.num(ch.score_before)} → <b>${Dash.num(ch.score_after)}</b></p>` : `<p class="muted">${t("no_change")}</p>`}
    ${moved.length ? `<table><thead><tr><th>${t("indicator")}</th><th class="n">${t("before")}</th><th class="n">${t("after")}</th><th>${t("events_added")}</th><th>${t("events_removed")}</th></tr></thead><tbody>${rows}</tbody></table>` : ""}
    <h2>${t("history")}</h2><table><thead><tr><th>${t("computed_at")}</th><th class="n">${t("score")}</th><th>${t("grade")}</th><th>${t("ruleset")}</th><th>${t("trigger")}</th></tr></thead><tbody>${hist}</tbody></table></div>`;
};

// 挂靠党支部: branches of other institutions attached to this institution's committees, in its tree
// with their kind and their own institution (they are scored there; the secretariat sees how)
const attachedPanel = (att) => !att || !att.items.length ? "" : `<div class="panel" id="attached-branches"><h2>${t("attached_branches")}</h2><p class="muted">${t("attached_hint")}</p>
  <table id="attached"><thead><tr><th>${t("name")}</th><th>${t("attached_to")}</th><th>${t("own_institution")}</th>${"grade" in att.items[0] ? `<th class="n">${t("score")}</th><th>${t("grade")}</th>` : ""}</tr></thead>
  <tbody>${att.items.map((b) => `<tr class="${"grade" in b ? "click" : ""}" data-id="${E(b.organization_id)}"><td>${E(b.name || b.organization_id)}${kindBadge(b.kind)}</td><td>${E(b.parent_name || "—")}</td>
  <td>${E(b.institutions.map((i) => i.name || i.id).join("、"))}</td>${"grade" in b ? `<td class="n">${Dash.num(b.score)}</td><td>${E(Dash.label(b.grade))}</td>` : ""}</tr>`).join("")}</tbody></table></div>`;

// 数据质量: the institution's flagged events by kind (the flags activity raised at ingest), and the events of a kind
const flagNames = (flags) => flags.map((f) => t(f.flag)).join("、");
const flaggedEvents = (dq) => `<table id="flagged-events" data-flag="${E(dq.flag || "")}"><thead><tr><th>${t("evidence")}</th><th>${t("event_kind")}</th><th>${t("level_branch")}</th><th>${t("event_day")}</th><th>${t("flags")}</th><th>${t("channel")}</th></tr></thead>
  <tbody>${dq.items.map((e) => `<tr data-id="${E(e.id)}"><td>${eventLink(e.id)}</td><td>${E(t(e.kind))}</td>
  <td>${e.organization_id ? `<a class="branch-link id" href="#/branch/${encodeURIComponent(e.organization_id)}">${E(e.organization_id)}</a>` : `<span class="id">${E(e.member_id || "—")}</span>`}</td>
  <td>${E(e.day || "—")}</td><td>${E(flagNames(e.flags))}</td><td>${E(t(e.channel || "—"))}</td></tr>`).join("")}</tbody></table>
  ${dq.total > dq.items.length ? `<p class="muted">${t("page_of", { p: dq.page, n: Math.ceil(dq.total / dq.page_size), t: dq.total })}</p>` : ""}`;
const dataQualityPanel = (dq) => !dq ? "" : `<div class="panel" id="data-quality"><h2>${t("data_quality")}</h2><p class="muted">${t("data_quality_hint")}</p>
  ${dq.kinds.length ? `<table id="flag-kinds"><thead><tr><th>${t("flag_kind")}</th><th class="n">${t("flagged_events")}</th></tr></thead>
  <tbody>${dq.kinds.map((k) => `<tr class="flag-kind click" data-flag="${E(k.flag)}"><td class="label">${E(t(k.flag))}</td><td class="n">${k.events}</td></tr>`).join("")}</tbody></table>
  <div id="flagged"></div>` : `<p id="no-flags">${t("no_flags")}</p>`}</div>`;

const bindDataQuality = (view, s, id) => view.querySelectorAll("#data-quality tr.flag-kind").forEach((row) => row.addEventListener("click", async () => {
  const dq = await Dash.json("/api/v1/dashboard/data-quality", { period: s.period, institution_id: id, flag: row.dataset.flag, page_size: 200 });
  view.querySelectorAll("#data-quality tr.flag-kind").forEach((r) => r.classList.toggle("active", r === row));
  view.querySelector("#flagged").innerHTML = flaggedEvents(dq);
}));

V.institution = async (view, s, id) => {
  id = id || s.lastInstitution || s.institutionId;
  if (!id) { location.hash = "#/rankings"; return; }
  s.lastInstitution = id;
  const [card, ch, tr, dq, att] = await Promise.all([
    Dash.json(`/api/v1/periods/${s.period}/institutions/${encodeURIComponent(id)}`),
    Dash.json(`/api/v1/periods/${s.period}/institutions/${encodeURIComponent(id)}/changes`).catch(() => null),
    Dash.json("/api/v1/dashboard/trend", { period: s.period, quarters: 6, institution_id: id }),
    Dash.json("/api/v1/dashboard/data-quality", { period: s.period, institution_id: id, page_size: 1 }).catch(() => null),
    Dash.json("/api/v1/dashboard/attached-branches", { period: s.period, institution_id: id }).catch(() => null),
  ]);
  view.innerHTML = `${header(card)}
    <div class="grid2"><div class="panel"><h2>${t("indicator")}</h2><div id="chart-indicators" class="chart"></div></div>
    <div class="panel"><h2>${t("trend")}</h2><div id="chart-trend" class="chart"></div></div></div>
    ${card.indicators ? `<div class="panel"><h2>${t("institution_indicators")}</h2><p class="muted">${t("indicators_hint")}</p>${indicatorsTable(card)}</div>` : ""}
    <div class="panel"><h2>${t("nav_drill")} ${exportButton("institution", { period: s.period, institution_id: id })}</h2>${breakdownTable(card)}</div>
    <div class="panel"><h2>${t("branches_of")}</h2><table id="branches"><thead><tr><th>${t("id")}</th><th>${t("name")}</th><th class="n">${t("score")}</th><th>${t("grade")}</th><th class="n">${t("completeness")}</th><th>${t("missing")}</th></tr></thead>
    <tbody>${card.branches.map((b) => `<tr class="click" data-id="${E(b.id)}"><td class="id">${E(b.id)}</td><td>${E(b.name)}${kindBadge(b.kind)}</td><td class="n">${Dash.num(b.score)}</td><td>${E(Dash.label(b.grade))}</td><td class="n">${Dash.pct(b.completeness)}</td><td class="muted missing">${E((b.missing || []).map((m) => t(m)).join("、") || "—")}</td></tr>`).join("")}</tbody></table></div>
    ${attachedPanel(att)}
    ${dataQualityPanel(dq)}
    ${changesPanel(ch)}`;
  indicatorChart("chart-indicators", card);
  Dash.trendChart("chart-trend", tr.items, true);
  bindDataQuality(view, s, id);
  view.querySelectorAll("#branches tr.click, #attached tr.click").forEach((row) => row.addEventListener("click", () => { location.hash = `#/branch/${encodeURIComponent(row.dataset.id)}`; }));
};

// 解锁例外: a closed period opened to this branch (or its institution) until a moment, who asked, who granted, why
const unlockPanel = (card, canEdit) => {
  const items = card.unlocks || [];
  if (!items.length && !canEdit) return "";
  const L = (key) => `data-label="${E(t(key))}"`;  // a phone shows each row as a card, each cell with its label
  const rows = items.map((u) => `<tr data-unlock="${E(u.id)}" data-status="${E(u.status)}"><td ${L("unlock_scope")}>${E(u.organization_id ? t("level_branch") : t("level_institution"))}</td>
    <td ${L("unlock_requested_by")}>${E(u.requested_by)}</td><td class="id" ${L("unlock_granted_by")}>${E(u.granted_by)}</td><td ${L("unlock_reason")}>${E(u.reason)}</td><td ${L("unlock_until")}>${E(Dash.time(u.until))}</td>
    <td ${L("status")}><span class="badge unlock-${E(u.status)}">${E(t("unlock_" + u.status))}</span>${u.revoked_at ? `<br><span class="muted">${E(Dash.time(u.revoked_at))}</span>` : ""}</td>
    <td>${canEdit && u.status === "active" ? `<button class="revoke">${t("unlock_revoke")}</button>` : ""}</td></tr>`).join("");
  const form = canEdit ? `<form id="unlock-form" class="filters"><input name="requested_by" placeholder="${t("unlock_requested_by")}" required maxlength="200">
    <input name="reason" placeholder="${t("unlock_reason")}" required minlength="4" maxlength="2000">
    <label>${t("unlock_until")} ${Dash.dateInput("until-day", "", t("unlock_until"))}
      <input name="until_time" value="18:00" maxlength="5" inputmode="numeric" pattern="\\d{2}:\\d{2}" aria-label="${t("unlock_until")}"></label>
    <button type="submit">${t("unlock_grant")}</button> <span class="msg muted" role="status"></span></form>` : "";
  return `<div class="panel" id="unlocks"><h2>${t("unlocks")}</h2><p class="muted">${t("unlocks_hint")}</p>
    ${items.length ? `<table id="unlock-table"><thead><tr><th>${t("unlock_scope")}</th><th>${t("unlock_requested_by")}</th><th>${t("unlock_granted_by")}</th><th>${t("unlock_reason")}</th><th>${t("unlock_until")}</th><th>${t("status")}</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : `<p class="muted">${t("unlocks_none")}</p>`}
    ${form}</div>`;
};

// 上级代办: the branch's reports filed for it by its Party committee or the secretariat
const onBehalfPanel = (card) => !(card.filed_on_behalf || []).length ? "" : `<div class="panel" id="on-behalf"><h2>${t("on_behalf")}</h2>
  <p class="muted">${t("on_behalf_hint")}</p><table><thead><tr><th>${t("event_type")}</th><th>${t("event_day")}</th><th>${t("filed_by")}</th><th>${t("review_state")}</th></tr></thead>
  <tbody>${card.filed_on_behalf.map((a) => `<tr data-event="${E(a._id)}"><td>${E(a.kind ? t(a.kind) : t(a.type))}<br>${eventLink(a._id)}</td><td>${E(a.held_on || "—")}</td>
    <td class="id">${E(a.filed_by || "—")}</td><td>${E(t("review_" + (a.review_state || "pending")))}</td></tr>`).join("")}</tbody></table></div>`;

V.branch = async (view, s, id) => {
  const card = await Dash.json(`/api/v1/periods/${s.period}/organizations/${encodeURIComponent(id)}`);
  const canEdit = s.role === "secretariat";
  view.innerHTML = `<p><a href="#/institution/${encodeURIComponent(card.institution_id)}">← ${t("back")}</a></p>${header(card)}
    <div class="panel"><h2>${t("indicator")}</h2><div id="chart-indicators" class="chart"></div></div>
    <div class="panel"><h2>${t("nav_drill")}</h2>${breakdownTable(card)}</div>${onBehalfPanel(card)}${unlockPanel(card, canEdit)}`;
  indicatorChart("chart-indicators", card);
  const unlocks = `/api/v1/periods/${s.period}/unlocks`;
  const failed = (msg, e) => { msg.textContent = (e && e.message ? e.message.split(" / ")[0] : "") || "操作失败"; };
  view.querySelectorAll("#unlock-table button.revoke").forEach((b) => b.addEventListener("click", async () => {
    const msg = view.querySelector("#unlocks .msg") || b;
    try { await Dash.api(`${unlocks}/${encodeURIComponent(b.closest("tr").dataset.unlock)}`, null, { method: "DELETE" }); App.render(); }
    catch (e) { failed(msg, e); }
  }));
  const form = view.querySelector("#unlock-form");
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const day = form.querySelector("input.until-day").value.trim();
    const until = new Date(`${day}T${String(f.get("until_time")).trim()}:00+08:00`);  // Beijing time, as typed
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(until.getTime())) { form.querySelector(".msg").textContent = t("unlock_until_hint"); return; }
    const body = { organization_id: id, requested_by: f.get("requested_by"), reason: f.get("reason"), until: until.toISOString() };
    try {
      await Dash.api(unlocks, null, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      App.render();
    } catch (e) { failed(form.querySelector(".msg"), e); }
  });
};

const followFields = (f) => ({ contacted: !!f.contacted, contacted_on: f.contacted_on || null, reason: f.reason || "", promised_on: f.promised_on || null });
const followValue = (k, v) => (k === "contacted" ? t(v ? "yes" : "no") : v === null || v === undefined || v === "" ? "—" : String(v));
// 跟进记录历史: who saved, when, and what each save changed (newest first)
const followHistory = (history) => (history && history.length ? `<details class="history"><summary>${t("follow_history")} (${history.length})</summary><ul>${history.map((h) =>
  `<li data-version="${h.version}"><span class="who id">${E(h.by)}</span> ${E(Dash.time(h.at))}：${Object.entries(h.changes).map(([k, c]) =>
    `${E(t(k))} ${E(followValue(k, c.from))} → ${E(followValue(k, c.to))}`).join("；") || "—"}</li>`).join("")}</ul></details>` : "");

V.queue = async (view, s) => {
  const q = (s.queue = s.queue || { page: 1, status: "" });
  const data = await Dash.json("/api/v1/dashboard/queue", { page: q.page, page_size: 50, status: q.status });
  const canEdit = s.role === "secretariat";
  const dis = canEdit ? "" : "disabled";
  const rows = data.items.map((i) => {
    const f = i.follow_up;
    return `<tr data-org="${E(i.organization_id)}" data-version="${f.version}" data-saved='${E(JSON.stringify(followFields(f)))}'><td><b>${E(i.name || i.organization_id)}</b><br><span class="muted id">${E(i.organization_id)}</span></td>
      <td>${E(i.institution_name || i.institution_id)}</td><td><span class="badge ${E(i.status)}">${E(t(i.status))}</span></td>
      <td class="n days">${i.days_since_last_meeting ?? "—"}</td><td>${E(i.last_meeting_on || "—")}</td>
      <td class="n">${i.reminders_sent}</td><td>${i.reminders.map((r) => `<span class="badge ${E(r.status)}" title="${E(t(r.channel))} ${E(r.recipient || "")} ${E(Dash.time(r.at))}">${E(t(r.channel))}·${E(Dash.label(r.status))}${r.reason ? `：${E(r.reason)}` : ""}</span>`).join("") || "—"}</td>
      <td class="follow"><label><input type="checkbox" class="contacted" ${f.contacted ? "checked" : ""} ${dis}> ${t("contacted")}</label>
      ${Dash.dateInput("contacted_on", f.contacted_on, t("contacted_on"), dis)}<br>
      <input type="text" class="reason" value="${E(f.reason || "")}" placeholder="${t("reason")}" ${dis}>
      ${Dash.dateInput("promised_on", f.promised_on, t("promised_on"), dis)}
      ${canEdit ? `<button class="save">${t("save")}</button>` : ""} <span class="msg muted">${f.updated_by ? `<span class="id">${E(f.updated_by)}</span> ${Dash.time(f.updated_at)}` : ""}</span>
      ${followHistory(f.history)}</td></tr>`;
  }).join("");
  view.innerHTML = `<div class="panel"><h2>${t("nav_queue")} ${exportButton("queue", { period: s.period, status: q.status })}</h2>
    <div class="filters"><select id="q-status"><option value="">${t("all")}</option><option value="lagging" ${q.status === "lagging" ? "selected" : ""}>${t("lagging")}</option><option value="at_risk" ${q.status === "at_risk" ? "selected" : ""}>${t("at_risk")}</option></select></div>
    <table id="queue"><thead><tr><th>${t("level_branch")}</th><th>${t("level_institution")}</th><th>${t("status")}</th><th class="n">${t("days_since")}</th><th>${t("last_meeting")}</th><th class="n">${t("reminders")}</th><th>${t("delivery")}</th><th>${t("contacted")} / ${t("reason")} / ${t("promised_on")}</th></tr></thead>
    <tbody>${rows || `<tr><td colspan="8" class="muted">${t("empty")}</td></tr>`}</tbody></table></div>`;
  view.querySelector(".panel").appendChild(pager(data, (p) => { q.page = p; App.render(); }));
  $("#q-status").onchange = (e) => { q.status = e.target.value; q.page = 1; App.render(); };
  view.querySelectorAll("button.save").forEach((b) => b.addEventListener("click", async () => {
    const tr = b.closest("tr"); const msg = tr.querySelector(".msg");
    if ([...tr.querySelectorAll("input.date")].some((d) => d.value && !Dash.DATE.test(d.value))) {
      msg.textContent = t("bad_date"); msg.className = "msg conflict"; return;
    }
    // a save names only what was changed here: what someone else saved meanwhile is not overwritten
    const now = {
      contacted: tr.querySelector(".contacted").checked, contacted_on: tr.querySelector(".contacted_on").value || null,
      reason: tr.querySelector(".reason").value.trim(), promised_on: tr.querySelector(".promised_on").value || null,
    };
    const saved = JSON.parse(tr.dataset.saved);
    const body = { version: Number(tr.dataset.version) };
    for (const [k, v] of Object.entries(now)) if (v !== saved[k]) body[k] = v;
    try {
      const res = await Dash.api(`/api/v1/dashboard/queue/${encodeURIComponent(tr.dataset.org)}/follow-up`, null,
        { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      const record = await res.json();
      tr.dataset.version = record.version; tr.dataset.saved = JSON.stringify(followFields(record));
      msg.textContent = `${t("saved")} (v${record.version})`; msg.className = "msg saved";
      tr.querySelector(".history")?.remove();
      tr.querySelector("td.follow").insertAdjacentHTML("beforeend", followHistory(record.history));
    } catch (e) { msg.textContent = e.status === 409 ? t("conflict") : e.message; msg.className = "msg conflict"; }
  }));
};

// 组织生活热力图: a table, so every name is read whole (wrapped, and in its cell's title) next to its
// institution; the chosen quarter's months by default, the 12 months ending with it on the switch
const HEAT_STEPS = [[4, "heat-4"], [2, "heat-2"], [1, "heat-1"], [0, "heat-0"]];  // 0 · 1 · 2–3 · ≥4 meetings
const heatClass = (n) => HEAT_STEPS.find(([min]) => n >= min)[1];
const monthLabel = (m) => {
  const [y, mo] = m.split("-").map(Number);
  return lang() === "zh" ? `${y}年${mo}月` : new Date(Date.UTC(y, mo - 1, 1)).toLocaleString("en-GB", { month: "short", year: "numeric", timeZone: "UTC" });
};
// a column's head: the year and the month each kept whole, so a narrow column breaks between them
const monthHead = (m) => (lang() === "zh" ? `<span>${m.slice(0, 4)}年</span><span>${Number(m.slice(5, 7))}月</span>` : E(monthLabel(m)).replace(" ", " <wbr>"));
// a month before the branch opened or after it closed is not a month it could meet in
const heatOpen = (row, m) => (!row.opened || m >= row.opened.slice(0, 7)) && (!row.closed || m <= row.closed.slice(0, 7));
const heatInstitutions = (row) => row.institutions.map((i) => i.name || i.id).join("、");

V.heatmap = async (view, s) => {
  const h = (s.heat = s.heat || { page: 1, q: "", span: "quarter" });
  const data = await Dash.json("/api/v1/dashboard/heatmap", { period: s.period, page: h.page, page_size: 30, q: h.q, span: h.span });
  const spanButton = (span) => `<button type="button" data-span="${span}" aria-pressed="${h.span === span}" class="${h.span === span ? "on" : ""}">${t(`heat_span_${span}`)}</button>`;
  const cell = (row, m, n) => {
    const month = monthLabel(m);
    if (!heatOpen(row, m)) return `<td class="heat na" data-month="${m}" title="${E(`${row.name || ""} · ${month}：${t("heat_not_open")}`)}">·</td>`;
    return `<td class="heat n ${heatClass(n)}" data-month="${m}" data-count="${n}" title="${E(t("heat_cell", { name: row.name || "", month, n }))}">${n}</td>`;
  };
  const legend = [["heat-0", "0"], ["heat-1", "1"], ["heat-2", "2–3"], ["heat-4", "≥4"]].map(([cls, n]) => `<span class="heat ${cls}">${n}</span>`).join("");
  view.innerHTML = `<div class="panel" id="heat-panel"><h2>${t("nav_heat")} ${exportButton("heatmap", { period: s.period, q: h.q, span: h.span })}</h2>
    <p class="muted">${t("heat_hint")}</p>
    <div class="filters"><input id="h-q" type="search" placeholder="${t("search")}" value="${E(h.q)}">
      <span class="switch" id="h-span" role="group" aria-label="${E(t("months"))}">${spanButton("quarter")}${spanButton("trailing_12")}</span>
      <span class="heat-legend" title="${E(t("heat_hint"))}">${t("heat_legend")} ${legend}</span></div>
    <div class="heat-scroll"><table id="heatmap" data-span="${E(data.span)}" data-months="${data.months.length}"><thead><tr>
      <th class="heat-branch">${t("heat_branch")}</th><th class="heat-inst">${t("heat_institution")}</th>
      ${data.months.map((m) => `<th class="n month" data-month="${m}">${monthHead(m)}</th>`).join("")}<th class="last">${t("last_meeting")}</th></tr></thead>
    <tbody>${data.items.length ? data.items.map((row) => `<tr data-org="${E(row.organization_id)}">
      <td class="heat-branch" title="${E(`${row.name || row.organization_id}${row.kind && row.kind !== "branch" ? ` · ${t(row.kind)}` : ""}`)}"><a class="branch-link" href="#/branch/${encodeURIComponent(row.organization_id)}">${E(row.name || row.organization_id)}</a>${kindBadge(row.kind)}</td>
      <td class="heat-inst" title="${E(heatInstitutions(row))}">${E(heatInstitutions(row))}</td>
      ${data.months.map((m, x) => cell(row, m, row.counts[x])).join("")}<td class="last">${E(row.last_meeting_on || "—")}</td></tr>`).join("")
      : `<tr><td colspan="${data.months.length + 3}" class="muted">${t("empty")}</td></tr>`}</tbody></table></div></div>`;
  view.querySelector(".panel").appendChild(pager(data, (p) => { h.page = p; App.render(); }));
  $("#h-q").onchange = (e) => { h.q = e.target.value.trim(); h.page = 1; App.render(); };
  view.querySelectorAll("#h-span button").forEach((b) => b.addEventListener("click", () => { h.span = b.dataset.span; App.render(); }));
};

const DATA_LABELS = { organization_id: "level_branch", meeting_kind: "meeting_kind", held_at: "held_at", attendee_ids: "attendees", expected_count: "expected_count", topic: "topic", member_id: "member", date: "date", minutes: "minutes", course: "course", month: "month", amount_cny: "amount_cny", kind: "kind", participant_ids: "attendees", hours: "hours" };
const dataValue = (k, v) => (Array.isArray(v) ? `${v.length}：${v.join("、")}` : k === "meeting_kind" ? t(v) : k.endsWith("_at") ? Dash.time(v) : String(v ?? "—"));

V.event = async (view, s, id) => {
  const e = await Dash.json(`/api/v1/events/${encodeURIComponent(id)}`);
  const p = e.provenance || {};
  const rows = (pairs) => pairs.map(([k, v, cls]) => `<tr><th>${E(k)}</th><td class="${cls || ""}">${v}</td></tr>`).join("");
  const data = Object.entries(e.data || {}).filter(([k]) => k in DATA_LABELS).map(([k, v]) => [t(DATA_LABELS[k] || k), E(dataValue(k, v)), /_id$|_ids$/.test(k) ? "id" : ""]);
  view.innerHTML = `<p><a href="javascript:history.back()">← ${t("back")}</a></p>
    <div class="panel" id="event"><h2>${t("evidence")} <code class="event-id">${E(e.id)}</code></h2>
    <div class="grid2"><div><h3>${t("event_says")}</h3><table><tbody>${rows([[t("event_type"), E(t(e.type))], ...data])}</tbody></table></div>
    <div><h3>${t("event_came")}</h3><table><tbody>${rows([
      [t("received_at"), E(Dash.time(e.received_at))], [t("channel"), E(t(e.channel))], [t("reporting_level"), E(e.reporting_level || "—")],
      [t("file_name"), E(p.file_name || "—")], [t("row"), E(p.row ?? "—")], [t("batch_id"), E(p.batch_id || "—"), "id"],
      [t("filed_by"), E(e.filed_by || "—"), "id"], [t("on_behalf"), E(e.on_behalf_of ? t("on_behalf_yes") : t("no"))],
      [t("late"), t(e.late ? "yes" : "no")], [t("flags"), E(e.flags.map((f) => t(f)).join("、") || t("none"))],
      ...(e.review ? [[t("review_state"), `<span class="badge review-${E(e.review.state)}">${E(t("review_" + e.review.state))}</span>${
        e.review.history.filter((h) => h.comment).map((h) => `<br><span class="muted">${E(t("review_" + h.state))}：${E(h.comment)}</span>`).join("")}`]] : []),
    ])}</tbody></table></div></div></div>`;
};
