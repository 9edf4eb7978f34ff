"""One self-contained HTML page for the evaluation of a training run, pure: (report, figures, lang) -> str.

The page has no external CSS, JS or images (figures are inline base64 PNGs), so the caller can log
it to MLflow as a single artifact and open it anywhere. Every string taken from the report is
HTML-escaped. Every sentence the page itself writes comes from the ``page`` message catalogue
(``features.i18n``) in English or Chinese; codes (task, scorer and metric names) stay as they are
in the report, with the display name beside them where the catalogue has one.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from html import escape
from typing import Any

from features.i18n import Language, Translator, parse_language
from training.evaluate import metric_direction

# Counts print as whole numbers; every other metric to 4 decimals. Which way a metric is better is
# training.evaluate.METRIC_DIRECTIONS; a metric without a direction (n, base_rate) is never marked.
COUNTS = frozenset({"n"})
DATA_FACTS = ("transactions", "rows", "members", "first_day", "last_day")  # keys of report["data"], in page order
COUNTED_FACTS = frozenset({"rows", "members"})
EM_DASH = "\u2014"
ENGLISH = Translator("en", "page")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #e3f4e1; }
img { max-width: 32rem; margin: 0.5rem 1rem 0.5rem 0; border: 1px solid #eee; }
.refused { color: #a33; } .promoted { color: #276; }
"""


def N_(message: str) -> str:  # the gettext toolchain's name for "translate later"
    """Mark a msgid for extraction where it is defined; it is translated where it is shown."""
    return message


# Display names of codes the page shows (the code itself is shown when it is not listed).
TASK_NAMES = (("churn", N_("churn")), ("next_purchase", N_("next purchase")), ("upsell", N_("upsell")),
              ("value", N_("value")), ("value_12m", N_("12-month value")))
SCORER_NAMES = (("model", N_("model")), ("champion", N_("champion")))
FACT_NAMES = (("project", N_("project")), ("transactions", N_("transactions")), ("rows", N_("rows")),
              ("members", N_("members")), ("first_day", N_("first day")), ("last_day", N_("last day")),
              ("data_fingerprint", N_("data fingerprint")), ("evaluation", N_("evaluation")),
              ("train", N_("training")), ("training", N_("training")), ("horizon_days", N_("horizon in days")))
# XGBoost's AFT noise Z on log T: normal, logistic or extreme value make T log-normal, log-logistic or Weibull.
DISTRIBUTION_NAMES = (("normal", N_("log-normal (AFT normal)")), ("logistic", N_("log-logistic (AFT logistic)")),
                      ("extreme", N_("Weibull (AFT extreme)")))


def display_name(code: str, names: tuple[tuple[str, str], ...], tr: Translator) -> str:
    """The translated display name of ``code``, or the code itself when it has none."""
    english = dict(names).get(code)
    return code if english is None else tr.gettext(english)


def render_report_page(
    report: Mapping[str, Any],
    figures: Mapping[str, Mapping[str, bytes]] | None = None,
    title: str | None = None,
    lang: Language | str = "en",
) -> str:
    """The whole page in ``lang`` (en or zh-CN): run facts, then per task its decision, metric table and
    figures (PNG bytes per file name, ``training.plots.png``)."""
    tr = Translator(parse_language(lang), "page")
    title = title or tr.gettext("memberscore training report")
    figures = figures or {}
    tasks: Mapping[str, Mapping[str, Any]] = report.get("tasks", {})
    names = list(tasks) + [name for name in figures if name not in tasks]
    sections = "\n".join(task_section(name, tasks.get(name, {}), figures.get(name, {}), tr) for name in names)
    return (
        f'<!DOCTYPE html>\n<html lang="{tr.language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{run_facts(report, tr)}\n{sections}\n</body>\n</html>\n"
    )


def run_facts(report: Mapping[str, Any], tr: Translator = ENGLISH) -> str:
    """What was judged: project (when the report names one), data file, rows, members, days, fingerprint, cut-offs."""
    facts: dict[str, Any] = {}
    if report.get("project"):
        facts[display_name("project", FACT_NAMES, tr)] = report["project"]
    data = report.get("data") or {}
    facts.update({display_name(key, FACT_NAMES, tr): _count(data[key], tr) if key in COUNTED_FACTS else data[key]
                  for key in DATA_FACTS if data.get(key) is not None})
    fingerprint = report.get("data_fingerprint") or data.get("fingerprint") or EM_DASH
    facts[display_name("data_fingerprint", FACT_NAMES, tr)] = fingerprint
    for key, value in (report.get("cutoffs") or {}).items():
        facts[tr.gettext("cut-off {name}").format(name=display_name(key, FACT_NAMES, tr))] = value
    items = "".join(f"<dt>{escape(str(key))}</dt><dd>{escape(_text(value))}</dd>" for key, value in facts.items())
    return f"<dl>{items}</dl>"


def task_section(name: str, task: Mapping[str, Any], task_figures: Mapping[str, bytes],
                 tr: Translator = ENGLISH) -> str:
    """A task's heading, promotion decision, out-of-time metric table and figures."""
    parts = [f'<section id="task-{escape(name)}">', f"<h2>{escape(display_name(name, TASK_NAMES, tr))}</h2>"]
    if "promoted" in task or "decision" in task:
        promoted = bool(task.get("promoted"))
        version = task.get("model_version")
        verdict = tr.gettext("promoted") if promoted else tr.gettext("not promoted")
        if version is not None:
            verdict = tr.gettext("{verdict} (version {version})").format(verdict=verdict, version=version)
        parts.append(
            f'<p class="{"promoted" if promoted else "refused"}"><strong>{escape(verdict)}</strong>'
            f'{escape(tr.gettext(": "))}<span class="decision">{escape(_text(task.get("decision", "")))}</span></p>'
        )
    if interval := gate_interval(task, tr):
        parts.append(interval)
    if task.get("out_of_time"):
        parts.append(metric_table(task["out_of_time"], tr))
    if task.get("calibration"):
        parts.append(calibration_note(task["calibration"], tr))
    parts.extend(figure_tag(f"{name}: {filename}", image) for filename, image in task_figures.items())
    parts.append("</section>")
    return "\n".join(parts)


def metric_table(out_of_time: Mapping[str, Mapping[str, float]], tr: Translator = ENGLISH) -> str:
    """Rows = scorers (model first, champion last), columns = metrics; the best cell per column marked.

    Best follows ``training.evaluate.metric_direction`` (lower for brier, mae, ece, higher for AUC,
    concordance, gini, ...); a metric without a direction (n, base_rate) is not ranked; ties for best
    are all marked; NaN and missing values show as an em dash; counts print without decimals.
    Metric names stay codes (they are the names the MLflow runs and the README use).
    """
    scorers = sorted(out_of_time, key=lambda s: (s != "model", s == "champion"))  # stable: baselines keep order
    metrics = list(dict.fromkeys(m for scorer in scorers for m in out_of_time[scorer]))
    best = {metric: _best_value(metric, [_number(out_of_time[s].get(metric)) for s in scorers]) for metric in metrics}
    header = "".join(f'<th scope="col">{escape(m)}</th>' for m in metrics)
    rows = []
    for scorer in scorers:
        cells = []
        for metric in metrics:
            value = _number(out_of_time[scorer].get(metric))
            marked = best[metric] is not None and value == best[metric]
            text = _count(value, tr) if metric in COUNTS else _format(value, tr)
            cells.append(f'<td class="best">{text}</td>' if marked else f"<td>{text}</td>")
        rows.append(f'<tr><th scope="row">{escape(display_name(scorer, SCORER_NAMES, tr))}</th>{"".join(cells)}</tr>')
    body = "\n".join(rows)
    return f'<table class="metrics">\n<tr><th scope="col">{escape(tr.gettext("scorer"))}</th>{header}</tr>\n{body}\n</table>'


def gate_interval(task: Mapping[str, Any], tr: Translator = ENGLISH) -> str:
    """The gate's paired-bootstrap interval (model minus best baseline) and any baseline left out, or ''."""
    parts = []
    interval = task.get("promotion_interval")
    if interval:
        low, high = _number(interval.get("low")), _number(interval.get("high"))
        verdict = tr.gettext("beyond noise") if low > 0 else tr.gettext("not beyond noise")
        text = tr.gettext("{metric}: model minus {baseline} = {difference}, {level} interval {low} to {high} over "
                          "{rounds} paired bootstrap resamples of the evaluation members: {verdict}").format(
            metric=interval.get("metric"), baseline=interval.get("baseline"),
            difference=_format(_number(interval.get("difference")), tr),
            level=tr.percent(_number(interval.get("level", 0.95)), 0), low=_format(low, tr), high=_format(high, tr),
            rounds=interval.get("rounds"), verdict=verdict)
        if interval.get("sample_rows"):
            text += " " + tr.gettext("(resampled from a seeded sample of {rows} evaluation rows)").format(
                rows=tr.number(interval["sample_rows"]))
        parts.append(f'<p class="interval">{escape(text)}</p>')
    for scorer, why in (task.get("baselines_unavailable") or {}).items():
        text = tr.gettext("baseline {scorer} left out: {reason}").format(scorer=scorer, reason=why)
        parts.append(f'<p class="unavailable">{escape(text)}</p>')
    return "\n".join(parts)


def calibration_note(calibration: Mapping[str, Any], tr: Translator = ENGLISH) -> str:
    """One line: what calibrated the model's probabilities, and its ECE on the evaluation rows before and after.

    A next-purchase model names the distribution its days are read with (chosen out of time by
    held-out log-loss), since that law, not only its sigma, is what the calibration picked.
    """
    method = calibration.get("method")
    if method in (None, "none"):
        text = tr.gettext("Probabilities not calibrated: {reason}").format(reason=_text(calibration.get("reason", "")))
        return f'<p class="calibration">{escape(tr.gettext("{sentence}.").format(sentence=text))}</p>'
    parameter = _format(_number(calibration.get("parameter")), tr)
    if method == "logit_scale":
        what = tr.gettext("log-odds slope {slope}").format(slope=parameter)
    elif method == "aft_sigma" and calibration.get("distribution"):
        what = tr.gettext("{distribution} distribution of days to the next purchase, sigma {sigma}, "
                          "margin spread {slope}").format(
            distribution=display_name(str(calibration["distribution"]), DISTRIBUTION_NAMES, tr), sigma=parameter,
            slope=_format(_number(calibration.get("slope", 1.0)), tr))
    elif method == "aft_sigma":
        what = tr.gettext("AFT sigma {sigma} (the distribution the model was trained with)").format(sigma=parameter)
    else:
        what = tr.gettext("parameter {value}").format(value=parameter)
    rows = _number(calibration.get("rows"))
    members = tr.ngettext("{count} member", "{count} members", 0 if math.isnan(rows) else int(rows)).format(
        count=_count(rows, tr))
    text = tr.gettext("Probabilities calibrated out of time: {what}, fitted on the {cutoff} training cut-off "
                      "({members})").format(what=what, cutoff=_text(calibration.get("fitted_on", "")), members=members)
    before, after = calibration.get("before") or {}, calibration.get("after") or {}
    ece = next((key for key in after if key.startswith("ece")), None)
    if ece is not None:
        text += tr.gettext("; {metric} {before} before, {after} after").format(
            metric=ece, before=_format(_number(before.get(ece)), tr), after=_format(_number(after.get(ece)), tr))
    return f'<p class="calibration">{escape(tr.gettext("{sentence}.").format(sentence=text))}</p>'


def figure_tag(alt: str, image: bytes) -> str:
    """The PNG as an inline base64 <img>."""
    encoded = base64.b64encode(image).decode("ascii")
    return f'<img src="data:image/png;base64,{encoded}" alt="{escape(alt)}">'


def _best_value(metric: str, values: list[float]) -> float | None:
    finite = [v for v in values if not math.isnan(v)]
    direction = metric_direction(metric)
    if direction is None or not finite:
        return None
    return min(finite) if direction == "lower" else max(finite)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _format(value: float, tr: Translator = ENGLISH) -> str:
    """A metric to 4 decimals in the locale's style; NaN as an em dash."""
    return EM_DASH if math.isnan(value) else tr.number(value, 4)


def _count(value: Any, tr: Translator = ENGLISH) -> str:
    """A count as a whole number with the locale's thousands separators (2,447), never 2447.0000."""
    number = _number(value)
    return _format(number, tr) if math.isnan(number) or number != int(number) else tr.number(int(number))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
