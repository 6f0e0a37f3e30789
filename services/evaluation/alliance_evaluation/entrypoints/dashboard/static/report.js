/* 可打印的季度报告：同一套 API，A4 版式。The printable quarterly report, from the same API. */
"use strict";
(async () => {
  const view = document.getElementById("view");
  const err = document.getElementById("error");
  const E = Dash.esc;
  const render = async () => {
    applyI18n();
    view.dataset.ready = "";
    if (!Dash.token()) { Dash.showLogin(); return; }
    const url = new URL(location.href);
    try {
      const period = url.searchParams.get("period") || (await Dash.json("/api/v1/dashboard/periods")).periods[0];
      const classes = ["state_owned", "private", "emerging"];
      const [o, tr, queue, ...ranked] = await Promise.all([
        Dash.json("/api/v1/overview", { period }),
        Dash.json("/api/v1/dashboard/trend", { period, quarters: 6 }),
        Dash.json("/api/v1/dashboard/queue", { page_size: 1 }),
        // each ownership class is its own peer group (同类组): its top and bottom ten
        ...classes.flatMap((ownership) => [
          Dash.json("/api/v1/dashboard/rankings", { period, ownership, page_size: 10 }),
          Dash.json("/api/v1/dashboard/rankings", { period, ownership, page_size: 10, order: "asc" }),
        ]),
      ]);
      const c = o.coverage || {};
      const rows = (items) => items.map((i) => `<tr><td class="n">${i.rank ?? "—"}<span class="muted"> / ${i.group_size}</span></td><td>${E(i.name)}</td><td>${E(Dash.groupLabel(i.group))}</td><td class="n">${Dash.num(i.score)}</td><td>${E(Dash.label(i.grade))}</td></tr>`).join("");
      const head = `<thead><tr><th class="n">${t("rank")}</th><th>${t("name")}</th><th>${t("peer_group")}</th><th class="n">${t("score")}</th><th>${t("grade")}</th></tr></thead>`;
      const groups = classes.map((own, n) => {
        const [top, bottom] = [ranked[2 * n], ranked[2 * n + 1]];
        if (!top.total) return "";
        return `<div class="grid2 peer" data-ownership="${own}"><div class="panel"><h2>${E(t(own))} · ${t("group_top10")}</h2><table>${head}<tbody>${rows(top.items)}</tbody></table></div>
        <div class="panel"><h2>${E(t(own))} · ${t("group_bottom10")}</h2><table>${head}<tbody>${rows(bottom.items)}</tbody></table></div></div>`;
      }).join("");
      view.innerHTML = `<h1>${t("title")}<br>${E(period)} ${t("report_title")}</h1>
        <p class="muted" style="text-align:center">${t("generated_at")}: ${Dash.time(o.computed_at)}</p>
        <table id="summary"><tbody>
          <tr><th>${t("institutions")}</th><td class="n">${Dash.int(o.institutions)}</td><th>${t("branches")}</th><td class="n">${Dash.int(c.branches)}</td><th>${t("joint_branches")}</th><td class="n">${Dash.int(c.joint_branches)}</td></tr>
          <tr><th>${t("members")}</th><td class="n">${Dash.int(c.members)}</td><th>${t("pocket_members")}</th><td class="n">${Dash.int(c.pocket_members)}</td><th>${t("vetoed")}</th><td class="n">${Dash.int(o.vetoed)}</td></tr>
          <tr><th>${t("completeness")}</th><td class="n">${Dash.pct(o.completeness)}</td><th>${t("timeliness")}</th><td class="n">${Dash.pct(o.timeliness)}</td><th>${t("lagging_count")}</th><td class="n">${Dash.int(queue.total)}</td></tr>
        </tbody></table>
        <div class="grid2"><div class="panel"><h2>${t("grades")}</h2><div id="chart-grades" class="chart"></div></div>
        <div class="panel"><h2>${t("trend")}</h2><div id="chart-trend" class="chart"></div></div></div>
        <div class="panel"><h2>${t("by_class")}</h2><div id="chart-classes" class="chart"></div>
        <table><thead><tr><th>${t("ownership")}</th><th>${t("reporting_level")}</th><th class="n">${t("institutions")}</th><th class="n">${t("completeness")}</th><th class="n">${t("timeliness")}</th><th class="n">${t("average_score")}</th></tr></thead>
        <tbody>${o.by_class.map((x) => `<tr><td>${E(t(x.ownership))}</td><td>${E(x.reporting_level)}</td><td class="n">${x.institutions}</td><td class="n">${Dash.pct(x.completeness)}</td><td class="n">${Dash.pct(x.timeliness)}</td><td class="n">${Dash.num(x.average_score)}</td></tr>`).join("")}</tbody></table></div>
        ${groups}`;
      Dash.gradePie("chart-grades", o.grades);
      Dash.trendChart("chart-trend", tr.items, false);
      Dash.classChart("chart-classes", o.by_class);
      view.dataset.ready = "report";
    } catch (e) {
      err.hidden = false; err.textContent = e.message; view.dataset.ready = "error";
    }
  };
  document.getElementById("lang").onclick = () => { localStorage.setItem("dashboard.lang", lang() === "zh" ? "en" : "zh"); render(); };
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault(); sessionStorage.setItem("dashboard.token", document.getElementById("login-token").value.trim()); location.reload();
  });
  render();
})();
