// The marketers' page model-health panel: how the served scores came true (backtests beside their
// baselines), drift from the champions' training data, and when the daily refresh last ran and
// retrained (GET /monitoring). Loaded by marketer.html into its #health-panel container; it holds no
// data and uses the API key the page keeps in this tab. Its text is English msgids of the page's
// `page` catalogue, translated by the page's own t() / tn() / tp(); the refresh reasons come
// translated from the API (lang=).
"use strict";
(() => {
  const KEY_STORAGE = "memberscore.apiKey"; // the page's own key slot
  const SVG_NS = "http://www.w3.org/2000/svg";
  const i18n = () => window.memberscoreI18n;
  /** Marks a msgid for extraction where it is defined (it is translated where it is shown). */
  const N_ = (message) => message;
  const t = (message) => (i18n() ? i18n().t(message) : message);
  const tn = (singular, plural, count) => (i18n() ? i18n().tn(singular, plural, count) : (count === 1 ? singular : plural));
  const tp = (context, message) => (i18n() ? i18n().tp(context, message) : message);
  const fmt = (template, values) => template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  const language = () => (i18n() ? i18n().language() : "en");

  // The same msgids as the page's own task and metric names (one translation in the catalogue).
  const TASK_NAMES = { churn: N_("churn"), next_purchase: N_("next purchase"), upsell: N_("upsell"),
                       value: N_("value"), value_12m: N_("12-month value") };
  const METRIC_NAMES = { roc_auc: N_("ROC AUC"), pr_auc: N_("PR AUC"), concordance: N_("concordance (C-index)"),
                         normalized_gini: N_("normalised Gini"), gini: N_("Gini"), calibration_error: N_("calibration error"),
                         hit_rate: N_("hit rate"), top_decile_capture: N_("top-decile capture") };
  const LEVEL_ORDER = { ok: 0, warn: 1, alert: 2 };
  const words = (code) => String(code).replace(/_/g, " ");
  const taskName = (task) => (TASK_NAMES[task] ? t(TASK_NAMES[task]) : words(task));
  const metricName = (metric) => (METRIC_NAMES[metric] ? t(METRIC_NAMES[metric]) : words(metric));
  // Coded values named in their own context: "alert" is a drift level and a refresh outcome.
  const levelName = (level) => ({ ok: tp("drift_level", "ok"), warn: tp("drift_level", "warn"),
                                  alert: tp("drift_level", "alert") })[level] || level;
  const outcomeName = (outcome) => ({ ok: tp("refresh_outcome", "ok"), retrained: tp("refresh_outcome", "retrained"),
                                      alert: tp("refresh_outcome", "alert") })[outcome] || outcome;
  const number = (value) => (value === null || value === undefined ? "–"
    : Number(value).toLocaleString(language(), { minimumFractionDigits: 3, maximumFractionDigits: 3 }));
  const moment = (iso) => String(iso).replace("T", " ").replace(/(:\d\d)?Z$/, " UTC");

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
  const row = (cells, header = false) => el("tr", {}, ...cells.map(([value, num]) =>
    el(header ? "th" : "td", { ...(header ? { scope: "col" } : {}), ...(num ? { class: "num" } : {}) }, value)));

  async function monitoring() {
    const response = await fetch(`monitoring?lang=${encodeURIComponent(language())}`,
                                 { headers: { "X-API-Key": sessionStorage.getItem(KEY_STORAGE) || "" } });
    const body = await response.json().catch(() => null);
    if (response.status === 403) throw new Error(t("Model health covers every store's members: a key scoped to stores cannot see it."));
    if (!response.ok) throw new Error((body && body.error) || fmt(t("The service answered {status}."), { status: response.status }));
    return body;
  }

  /** The best baseline of one metric row: the highest, or the lowest where lower is better. */
  function bestBaseline(metricRow) {
    const known = Object.entries(metricRow.baselines || {}).filter(([, v]) => v !== null && v !== undefined);
    if (!known.length) return null;
    const better = metricRow.direction === "lower" ? (a, b) => a < b : (a, b) => a > b;
    return known.reduce((best, item) => (better(item[1], best[1]) ? item : best));
  }

  /** task -> metric -> points (one per backtest, oldest first). */
  function series(backtests) {
    const tasks = new Map();
    for (const backtest of backtests) {
      for (const m of backtest.metrics || []) {
        if (!tasks.has(m.task)) tasks.set(m.task, new Map());
        const metrics = tasks.get(m.task);
        if (!metrics.has(m.metric)) metrics.set(m.metric, []);
        metrics.get(m.metric).push({ as_of: backtest.as_of, members: backtest.members, served: m.served,
                                     served_by: m.served_by, direction: m.direction, best: bestBaseline(m) });
      }
    }
    return tasks;
  }

  /** Served (solid) and best baseline (dashed) over the backtests of one metric. */
  function lineChart(label, points) {
    const width = 360, height = 130, left = 48, right = 10, top = 10, bottom = 22;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });
    const values = points.flatMap((p) => [p.served, p.best && p.best[1]]).filter((v) => v !== null && v !== undefined);
    if (!values.length) return chart;
    const low = Math.min(...values), high = Math.max(...values);
    const x = (i) => left + (points.length > 1 ? (i * (width - left - right)) / (points.length - 1) : (width - left - right) / 2);
    const y = (v) => top + (height - top - bottom) * (high === low ? 0.5 : 1 - (v - low) / (high - low));
    chart.append(svg("text", { x: left - 4, y: y(high) + 4, "text-anchor": "end", class: "small" }, number(high)));
    chart.append(svg("text", { x: left - 4, y: y(low), "text-anchor": "end", class: "small" }, number(low)));
    chart.append(svg("text", { x: left, y: height - 5, class: "small" }, points[0].as_of));
    if (points.length > 1) {
      chart.append(svg("text", { x: width - right, y: height - 5, "text-anchor": "end", class: "small" }, points[points.length - 1].as_of));
    }
    const line = (name, value, attrs) => {
      const drawn = points.map((p, i) => [i, value(p)]).filter(([, v]) => v !== null && v !== undefined);
      if (!drawn.length) return;
      const d = drawn.map(([i, v], k) => `${k ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      chart.append(svg("path", { d, fill: "none", "stroke-width": 2, class: name, ...attrs }));
      for (const [i, v] of drawn) {
        const dot = svg("circle", { cx: x(i), cy: y(v), r: 3, class: name, fill: attrs.stroke });
        dot.append(svg("title", {}, `${points[i].as_of}: ${number(v)}`));
        chart.append(dot);
      }
    };
    line("baseline", (p) => p.best && p.best[1], { stroke: "#9aa5b1", "stroke-dasharray": "4 3" });
    line("served", (p) => p.served, { stroke: "#3b6fb6" });
    return chart;
  }

  function metricBlock(task, metric, points) {
    const label = `${taskName(task)} · ${metricName(metric)}`;
    const direction = points[points.length - 1].direction === "lower" ? t("lower is better") : t("higher is better");
    const head = row([[t("Snapshot")], [t("Served"), true], [t("Best baseline")], [t("Served by")], [t("Members"), true]], true);
    const body = points.map((p) => row([[p.as_of], [number(p.served), true],
      [p.best ? `${words(p.best[0])} ${number(p.best[1])}` : "–"], [p.served_by || "–"],
      [p.members === undefined ? "–" : Number(p.members).toLocaleString(language()), true]]));
    return el("figure", { class: "backtest", "data-task": task, "data-metric": metric },
      el("h4", {}, `${metricName(metric)} (${direction})`), lineChart(label, points),
      el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body))));
  }

  function backtestSection(backtests) {
    const part = el("div", { class: "health-backtests" }, text("h3", N_("How the served scores came true")));
    if (!backtests || !backtests.length) {
      part.append(text("p", N_("No backtest has matured yet: a snapshot's scores are checked once their horizon has passed."), { class: "empty" }));
      return part;
    }
    part.append(el("p", { class: "small legend" }, el("span", { class: "key served" }, t("served")), " — ",
                   el("span", { class: "key baseline" }, t("best baseline (dashed)"))));
    for (const [task, metrics] of series(backtests)) {
      const card = el("article", { class: "card", "data-task": task }, el("h3", {}, taskName(task)));
      for (const [metric, points] of metrics) card.append(metricBlock(task, metric, points));
      part.append(card);
    }
    return part;
  }

  const worst = (column) => ((LEVEL_ORDER[column.missing_level] || 0) > (LEVEL_ORDER[column.psi_level] || 0)
    ? column.missing_level : column.psi_level) || "ok";

  function driftSection(document) {
    const part = el("div", { class: "health-drift" }, text("h3", N_("Drift from the champions' training data")));
    const drift = document.drift;
    if (!drift || !drift.columns) {
      part.append(text("p", N_("No drift check against the champions' training data yet."), { class: "empty" }));
    } else {
      const tasks = Object.entries((drift.reference && drift.reference.tasks) || {});
      if (tasks.length) {
        part.append(el("p", { class: "small" }, fmt(t("Compared with the training data of {models}."),
          { models: tasks.map(([task, version]) => `${taskName(task)} v${version}`).join(", ") })));
      }
      const scores = drift.columns.filter((c) => c.kind === "score");
      if (scores.length) {
        const head = row([[t("Score")], [t("PSI"), true], [t("Drift level")]], true);
        part.append(el("table", { class: "drift-scores" }, el("thead", {}, head), el("tbody", {}, ...scores.map((c) =>
          el("tr", { "data-level": worst(c) }, el("td", {}, words(c.column)), el("td", { class: "num" }, number(c.psi)),
             el("td", { class: `level ${worst(c)}` }, levelName(worst(c))))))));
      }
      const features = drift.columns.filter((c) => c.kind === "feature" && worst(c) !== "ok").length;
      part.append(el("p", { class: "drift-features" }, features
        ? fmt(tn("{count} feature beyond its thresholds", "{count} features beyond their thresholds", features), { count: features })
        : t("No feature beyond its thresholds.")));
    }
    const previous = document.drift_previous || document;
    if (previous.reference && typeof previous.breaches === "number") {
      part.append(el("p", { class: "small drift-previous" }, fmt(tn(
        "Since the previous snapshot ({as_of}): {count} breach", "Since the previous snapshot ({as_of}): {count} breaches",
        previous.breaches), { as_of: previous.reference.as_of, count: previous.breaches })));
    }
    return part;
  }

  function refreshSection(refresh) {
    const part = el("div", { class: "health-refresh" }, text("h3", N_("Daily refresh")));
    if (!refresh) {
      part.append(text("p", N_("The daily refresh has not run yet."), { class: "empty" }));
      return part;
    }
    const outcome = outcomeName(refresh.outcome);
    part.append(el("p", { class: `last-run ${refresh.outcome}` },
                   fmt(t("Last run: {time} ({outcome})"), { time: moment(refresh.last_run), outcome })));
    if ((refresh.reasons || []).length) part.append(el("ul", { class: "refresh-reasons" }, ...refresh.reasons.map((r) => el("li", {}, r))));
    part.append(el("p", { class: "last-retrain" }, refresh.last_retrain
      ? fmt(t("Last retrain: {time} ({tasks})"), { time: moment(refresh.last_retrain),
                                                   tasks: (refresh.last_retrained || []).map(taskName).join(", ") })
      : t("No retrain logged yet.")));
    return part;
  }

  async function draw(panel) {
    const status = panel.querySelector(".health-status");
    const body = panel.querySelector(".health-body");
    status.textContent = t("Loading model health…");
    status.classList.remove("error");
    try {
      const document = await monitoring();
      body.replaceChildren(backtestSection(document.backtests), driftSection(document), refreshSection(document.refresh));
      status.textContent = "";
    } catch (err) {
      body.replaceChildren();
      status.textContent = err.message;
      status.classList.add("error");
    }
  }

  function build(container) {
    const panel = el("section", { "aria-labelledby": "health-title" },
      text("h2", N_("Model health"), { id: "health-title" }),
      text("p", N_("How the served scores did once their outcomes were known, beside the simple rules they have to beat; whether members or scores have drifted from what the models were trained on; and when the daily refresh last ran and retrained."), { class: "hint" }),
      el("p", { class: "health-status", role: "status", "aria-live": "polite" }), el("div", { class: "health-body" }));
    container.replaceChildren(panel);
    return () => draw(panel);
  }

  function start() {
    const container = document.getElementById("health-panel");
    const content = document.getElementById("content");
    if (!container) return;
    const refresh = build(container);
    // The page shows #content once its key is accepted: load then, and again at each reconnection.
    const whenShown = () => { if (!content || !content.hidden) refresh(); };
    if (content) new MutationObserver(whenShown).observe(content, { attributes: true, attributeFilter: ["hidden"] });
    window.addEventListener("memberscore:language", whenShown); // names, numbers and reasons in the new language
    whenShown();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
