// The marketers' page KPI panel: one line chart per membership KPI, and the alerts (GET /kpis, GET /alerts).
// Loaded by marketer.html into its #kpi-panel container; it holds no data and uses the API key the
// page keeps in this tab. Its text is English msgids of the page's `page` catalogue, translated by the
// page's own t(); KPI names come translated from the API (`labels`, in the page's language).
"use strict";
(() => {
  const KEY_STORAGE = "memberscore.apiKey"; // the page's own key slot
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SHARES = new Set(["repurchase_rate", "repurchase_spend_share", "churn_rate", "multi_category_share",
                          "tier_up_share", "tier_down_share"]);
  const CHARTED = ["active_members", "new_members", "repurchase_rate", "repurchase_spend_share", "churn_rate",
                   "average_order_value", "purchase_frequency", "categories_per_member", "multi_category_share",
                   "tier_up_share", "tier_down_share", "spend"];
  // The page's translator (marketer.html: window.memberscoreI18n): English msgids from the `page`
  // catalogue; before the page has set it up (or without it) the English text itself.
  const i18n = () => window.memberscoreI18n;
  /** Marks a msgid for extraction where it is defined (it is translated where it is shown). */
  const N_ = (message) => message;
  const t = (message) => (i18n() ? i18n().t(message) : message);
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    node.append(...children);
    return node;
  }
  /** An element whose text the page re-translates on a language switch (data-msgid keeps the English). */
  const text = (tag, message, attrs = {}) => el(tag, { ...attrs, "data-i18n": "", "data-msgid": message }, t(message));

  function svg(tag, attrs = {}, content) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (content !== undefined) node.textContent = content;
    return node;
  }

  function shown(kpi, value) {
    if (value === null || value === undefined) return "–";
    const language = i18n() ? i18n().language() : "en";
    if (SHARES.has(kpi)) {
      return Number(value).toLocaleString(language, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
    }
    const digits = Number.isInteger(value) ? 0 : 2;
    return Number(value).toLocaleString(language, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  async function api(path) {
    const lang = document.documentElement.lang;
    const query = lang === "zh-CN" || lang === "en" ? `${path}${path.includes("?") ? "&" : "?"}lang=${lang}` : path;
    const response = await fetch(query, { headers: { "X-API-Key": sessionStorage.getItem(KEY_STORAGE) || "" } });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && body.error) || `The service answered ${response.status}.`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  /** The KPIs and alerts a key may see: the chain's, or for a key scoped to stores its stores' (by=store). */
  async function fetchKpis(freq) {
    try {
      return await Promise.all([api(`kpis?freq=${freq}`), api(`alerts?freq=${freq}`)]);
    } catch (err) {
      if (err.status !== 403) throw err;
    }
    return Promise.all([api(`kpis?freq=${freq}&by=store`), api(`alerts?freq=${freq}&by=store`)]);
  }

  /** [group, rows] per store for a by=store answer, else one group of every row. */
  function groups(kpis) {
    if (kpis.by !== "store") return [[null, kpis.rows]];
    const byStore = new Map();
    for (const row of kpis.rows) byStore.set(row.store, [...(byStore.get(row.store) || []), row]);
    return [...byStore.entries()];
  }

  /** One KPI's line over the periods; periods with an alert on this KPI drawn as red points. */
  function lineChart(kpi, label, rows, alerted) {
    const width = 360, height = 150, left = 52, right = 10, top = 10, bottom = 24;
    const points = rows.map((row, i) => ({ i, start: row.period_start, value: row[kpi] }));
    const values = points.filter((p) => p.value !== null).map((p) => p.value);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
    if (!values.length) return chart;
    const low = Math.min(0, ...values), high = Math.max(...values) || 1;
    const x = (i) => left + (rows.length > 1 ? (i * (width - left - right)) / (rows.length - 1) : 0);
    const y = (v) => top + (height - top - bottom) * (1 - (v - low) / (high - low || 1));
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(low), y2: y(low), stroke: "#d9e2ec" }));
    chart.append(svg("text", { x: left - 4, y: y(high) + 4, "text-anchor": "end", class: "small" }, shown(kpi, high)));
    chart.append(svg("text", { x: left - 4, y: y(low), "text-anchor": "end", class: "small" }, shown(kpi, low)));
    chart.append(svg("text", { x: left, y: height - 6, class: "small" }, rows[0].period_start));
    chart.append(svg("text", { x: width - right, y: height - 6, "text-anchor": "end", class: "small" },
                     rows[rows.length - 1].period_start));
    let path = "", pen = false; // a period without a value (nothing to divide by) breaks the line
    for (const p of points) {
      if (p.value === null) { pen = false; continue; }
      path += `${pen ? "L" : "M"}${x(p.i).toFixed(1)},${y(p.value).toFixed(1)} `;
      pen = true;
    }
    chart.append(svg("path", { d: path.trim(), fill: "none", stroke: "#3b6fb6", "stroke-width": 2 }));
    for (const p of points) {
      if (p.value === null) continue;
      const alert = alerted.has(p.start);
      const dot = svg("circle", { cx: x(p.i), cy: y(p.value), r: alert ? 4 : 2, fill: alert ? "#b42318" : "#3b6fb6" });
      dot.append(svg("title", {}, `${p.start}: ${shown(kpi, p.value)}`));
      chart.append(dot);
    }
    return chart;
  }

  function alertLine(alert) {
    const sign = alert.change >= 0 ? "+" : "";
    const change = alert.unit === "points" ? fmt(t("{change} points"), { change: `${sign}${alert.change.toFixed(1)}` })
                                           : `${sign}${alert.change.toFixed(1)}%`;
    return el("li", {}, fmt(t("{period} {kpi}: {value} against {reference} in {reference_period} ({change}, threshold {threshold})"), {
      period: alert.period_start, kpi: alert.kpi_label, value: shown(alert.kpi, alert.value),
      reference: shown(alert.kpi, alert.reference), reference_period: alert.reference_start, change,
      threshold: alert.threshold }));
  }

  async function draw(panel, freq) {
    const status = panel.querySelector(".kpi-status");
    status.textContent = t("Loading KPIs…");
    status.classList.remove("error");
    try {
      const [kpis, alerts] = await fetchKpis(freq);
      const charts = panel.querySelector(".kpi-charts");
      const list = panel.querySelector(".kpi-alerts");
      charts.replaceChildren();
      for (const [store, rows] of groups(kpis)) {
        const named = (label) => (store === null ? label : `${label} · ${store}`);
        for (const kpi of CHARTED.filter((k) => rows.length && k in rows[0])) {
          const alerted = new Set(alerts.alerts.filter((a) => a.kpi === kpi && (store === null || a.group === store))
            .map((a) => a.period_start));
          const label = named(kpis.labels[kpi] || kpi);
          charts.append(el("figure", { class: "card" }, el("h3", {}, label), lineChart(kpi, label, rows, alerted)));
        }
      }
      list.replaceChildren(...(alerts.alerts.length ? alerts.alerts.map(alertLine)
                                                    : [text("li", N_("No alert: every KPI is within its thresholds."))]));
      status.textContent = "";
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    }
  }

  function build(container) {
    const freq = el("select", { id: "kpi-freq" },
                    text("option", N_("Month"), { value: "month" }), text("option", N_("Week"), { value: "week" }));
    const panel = el("section", { "aria-labelledby": "kpi-title" },
      text("h2", N_("Membership KPIs over time"), { id: "kpi-title" }),
      text("p", N_("Each complete period, computed from purchases before its end. Red points are periods with an alert."), { class: "hint" }),
      el("p", { class: "inline" }, text("label", N_("Period"), { for: "kpi-freq" }), freq),
      el("p", { class: "kpi-status", role: "status", "aria-live": "polite" }),
      text("h3", N_("Alerts")), el("ul", { class: "kpi-alerts" }), el("div", { class: "kpi-charts grid" }));
    container.replaceChildren(panel);
    freq.addEventListener("change", () => draw(panel, freq.value));
    return () => draw(panel, freq.value);
  }

  function start() {
    const container = document.getElementById("kpi-panel");
    const content = document.getElementById("content");
    if (!container) return;
    const refresh = build(container);
    // The page shows #content once its key is accepted: load then, and again at each reconnection.
    const whenShown = () => { if (!content || !content.hidden) refresh(); };
    if (content) new MutationObserver(whenShown).observe(content, { attributes: true, attributeFilter: ["hidden"] });
    window.addEventListener("memberscore:language", whenShown); // KPI names and numbers in the new language
    whenShown();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
