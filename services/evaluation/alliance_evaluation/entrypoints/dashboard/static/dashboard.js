/* 驾驶舱入口：登录、期间、语言切换、路由。Bootstrap: sign-in, period, language switch, routing. */
"use strict";
const App = (window.App = { state: { period: null } });

App.route = () => {
  const [name, ...rest] = (location.hash.replace(/^#\/?/, "") || "").split("/");
  return { name: name || (App.state.readsAll ? "overview" : "institution"), arg: rest.length ? decodeURIComponent(rest.join("/")) : null };
};

App.render = async () => {
  const view = document.getElementById("view");
  const err = document.getElementById("error");
  const { name, arg } = App.route();
  view.dataset.ready = "";
  err.hidden = true;
  document.querySelectorAll("#nav a[data-route]").forEach((a) => a.classList.toggle("active", a.dataset.route === name || (name === "branch" && a.dataset.route === "institution")));
  document.getElementById("report-link").href = `/report?period=${App.state.period}`;
  Object.keys(Dash.charts).forEach((k) => delete Dash.charts[k]);
  const page = Views[name] || Views.overview;
  view.innerHTML = `<p class="muted">${t("loading")}</p>`;
  try {
    await page(view, App.state, arg);
    view.dataset.ready = name;
  } catch (e) {
    view.innerHTML = "";
    err.hidden = false;
    err.dataset.status = e.status || "";
    err.textContent = `${e.status === 403 ? t("forbidden") + "：" : ""}${e.message}`;
    view.dataset.ready = "error";
  }
};

App.start = async () => {
  applyI18n();
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("dashboard.token", document.getElementById("login-token").value.trim());
    location.reload();
  });
  document.getElementById("logout").onclick = () => { sessionStorage.removeItem("dashboard.token"); location.hash = ""; location.reload(); };
  let me = null;
  const showWho = () => {  // the role by its name, in the language shown; the account in the tooltip
    if (!me) return;
    const who = document.getElementById("whoami");
    who.textContent = `${t(me.role)}${me.institution_name ? ` · ${me.institution_name}` : ""}`;
    who.title = me.subject;
  };
  document.getElementById("lang").onclick = () => {
    localStorage.setItem("dashboard.lang", lang() === "zh" ? "en" : "zh");
    applyI18n(); showWho(); App.render();
  };
  if (!Dash.token()) { Dash.showLogin(); return; }
  try { me = await Dash.json("/api/v1/dashboard/me"); } catch (e) { return; }
  Object.assign(App.state, { role: me.role, readsAll: me.reads_all, institutionId: me.institution_id });
  showWho();
  document.querySelectorAll("#nav .secretariat").forEach((a) => { a.hidden = !me.reads_all; });
  const { current, periods } = await Dash.json("/api/v1/dashboard/periods");
  const all = [...new Set([...(periods || []), current])].sort().reverse();
  const wanted = new URL(location.href).searchParams.get("period") || sessionStorage.getItem("dashboard.period");
  App.state.period = all.includes(wanted) ? wanted : current;  // by default, the quarter we are in
  const sel = document.getElementById("period");
  sel.innerHTML = all.map((p) => `<option ${p === App.state.period ? "selected" : ""}>${p}</option>`).join("");
  sel.onchange = () => { App.state.period = sel.value; sessionStorage.setItem("dashboard.period", sel.value); App.render(); };
  window.addEventListener("hashchange", App.render);
  await App.render();
};
App.start();
