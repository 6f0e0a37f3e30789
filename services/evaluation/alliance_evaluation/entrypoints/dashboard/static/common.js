/* 令牌、API 调用、导出下载、格式化、图表：驾驶舱与报告共用。Token, API calls, downloads, formatting, charts. */
"use strict";
const Dash = (window.Dash = {});
Dash.charts = (window.__charts = {});

Dash.token = () => {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {  // keep it in this tab's session only, and out of the address bar
    sessionStorage.setItem("dashboard.token", fromUrl);
    url.searchParams.delete("token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return sessionStorage.getItem("dashboard.token");
};

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status; this.code = body && body.error && body.error.code;
  }
}
Dash.ApiError = ApiError;

Dash.api = async (path, params, init) => {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  const headers = { Authorization: `Bearer ${Dash.token()}`, ...(init && init.headers) };
  const res = await fetch(url, { ...init, headers });
  if (res.status === 401) { Dash.showLogin(); throw new ApiError(401, await res.json().catch(() => null)); }
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return res;
};
Dash.json = async (path, params) => (await Dash.api(path, params)).json();

// an export is a job (POST: 202 with its status URL): the button says how long it has been
// preparing, then the workbook the job made is saved; a city's 30,000 branches take a while
Dash.download = async (table, params, button) => {
  const label = button && button.textContent;
  const started = Date.now();
  const tick = (job) => {
    if (!button) return;
    const s = Math.round((Date.now() - started) / 1000), p = job && job.progress;
    button.textContent = p && p.total > 1 ? t("export_progress", { p: Math.floor((100 * p.done) / p.total), s }) : t("export_running", { s });
  };
  if (button) button.disabled = true;
  try {
    tick();
    let job = await (await Dash.api(`/api/v1/dashboard/exports/${table}.xlsx`, params, { method: "POST" })).json();
    while (job.state === "queued" || job.state === "running") {
      await new Promise((r) => setTimeout(r, 500));
      job = await Dash.json(job.status_url);
      tick(job);
    }
    if (job.state !== "succeeded") throw new ApiError((job.error && job.error.status) || 503, { error: job.error });
    const blob = await (await Dash.api(job.result.download_url)).blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = job.result.file_name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 5000);
    if (button) button.textContent = label;
  } catch (e) {
    if (button) {  // the reason, as the server gave it, on hover
      button.textContent = t("export_failed");
      button.title = bi(e.message);
    }
    throw e;
  } finally {
    if (button) button.disabled = false;
  }
};

Dash.showLogin = () => {
  const box = document.getElementById("login");
  if (box) box.hidden = false;
};

Dash.esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
Dash.num = (v, digits = 2) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
Dash.int = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN"));
Dash.pct = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(2)}%`);
Dash.label = (v) => (v === null || v === undefined || v === "" ? "—" : t(v));
// 同类组 (peer group): "国有 · 银行 · L2"; the all-institutions list has none
Dash.groupLabel = (g) => (!g || g.key === "all" ? t("all") : [g.ownership && t(g.ownership), g.sector, g.reporting_level].filter(Boolean).join(" · "));
// dates typed and shown as 年-月-日 (2026-12-01) whatever the browser's locale; the 日历 button opens
// the browser's own calendar and writes its choice back in that form
Dash.DATE = /^\d{4}-\d{2}-\d{2}$/;
Dash.dateInput = (cls, value, title, disabled) => `<span class="date-field"><input type="text" class="date ${cls}" value="${Dash.esc(value || "")}"
  placeholder="${t("date_hint")}" title="${Dash.esc(title)}" inputmode="numeric" maxlength="10" pattern="\\d{4}-\\d{2}-\\d{2}" ${disabled || ""}><input type="date" class="picker" tabindex="-1" aria-hidden="true" ${disabled || ""}><button type="button" class="pick" title="${Dash.esc(title)}" ${disabled || ""}>日历</button></span>`;
document.addEventListener("click", (ev) => {
  const b = ev.target.closest("button.pick");
  if (!b) return;
  const picker = b.parentElement.querySelector("input.picker");
  picker.value = b.parentElement.querySelector("input.date").value;
  try { picker.showPicker(); } catch (e) { picker.click(); }
});
document.addEventListener("change", (ev) => {
  if (ev.target.matches("input.picker")) ev.target.parentElement.querySelector("input.date").value = ev.target.value;
});
Dash.time = (v) => {
  if (!v) return "—";
  const d = new Date(v);
  return d.toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB", { timeZone: "Asia/Shanghai", hour12: false });
};

Dash.chart = (id, option) => {
  const el = document.getElementById(id);
  if (!el) return null;
  const old = echarts.getInstanceByDom(el);
  if (old) old.dispose();
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({ animation: false, textStyle: { fontFamily: "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif" }, ...option });
  Dash.charts[id] = chart;
  return chart;
};
window.addEventListener("resize", () => Object.values(Dash.charts).forEach((c) => !c.isDisposed() && c.resize()));

Dash.gradeColors = { excellent: "#c23531", good: "#e98f36", pass: "#5b8ff9", fail: "#8c8c8c" };
Dash.GRADES = ["excellent", "good", "pass", "fail"];

Dash.gradePie = (id, grades) => Dash.chart(id, {
  tooltip: { trigger: "item" },
  legend: { bottom: 0 },
  series: [{
    type: "pie", radius: ["35%", "65%"], label: { formatter: "{b}: {c}" },
    data: Dash.GRADES.map((g) => ({ name: t(g), value: (grades || {})[g] || 0, itemStyle: { color: Dash.gradeColors[g] } })),
  }],
});

Dash.trendChart = (id, items, institution) => Dash.chart(id, {
  tooltip: { trigger: "axis" },
  legend: { bottom: 0 },
  grid: { left: 40, right: 20, top: 20, bottom: 50 },
  xAxis: { type: "category", data: items.map((i) => i.period) },
  yAxis: { type: "value", min: 0, max: 100 },
  series: [
    { name: t(institution ? "score" : "average_score"), type: "line", connectNulls: true, data: items.map((i) => (institution ? i.score : i.average_score)) },
    { name: t("completeness"), type: "line", connectNulls: true, data: items.map((i) => i.completeness) },
    { name: t("timeliness"), type: "line", connectNulls: true, data: items.map((i) => i.timeliness) },
  ],
});

Dash.classChart = (id, byClass) => Dash.chart(id, {
  tooltip: { trigger: "axis" },
  legend: { bottom: 0 },
  grid: { left: 40, right: 40, top: 20, bottom: 60 },
  xAxis: { type: "category", data: byClass.map((c) => `${t(c.ownership)} · ${c.reporting_level}`) },
  yAxis: [{ type: "value", minInterval: 1 }, { type: "value", min: 0, max: 100 }],
  series: [
    ...Dash.GRADES.map((g) => ({ name: t(g), type: "bar", stack: "g", itemStyle: { color: Dash.gradeColors[g] }, data: byClass.map((c) => c.grades[g] || 0) })),
    { name: t("average_score"), type: "line", yAxisIndex: 1, data: byClass.map((c) => c.average_score) },
  ],
});
