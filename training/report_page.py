"""One self-contained HTML page for the evaluation of a training run, pure: (report, figures) -> str.

The page has no external CSS, JS or images (figures are inline base64 PNGs), so the caller can log
it to MLflow as a single artifact and open it anywhere. Every string taken from the report is
HTML-escaped.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from training.evaluate import metric_direction

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Counts print as whole numbers; every other metric to 4 decimals. Which way a metric is better is
# training.evaluate.METRIC_DIRECTIONS; a metric without a direction (n, base_rate) is never marked.
COUNTS = frozenset({"n"})
DATA_FACTS = (("transactions", "transactions"), ("rows", "rows"), ("members", "members"),
              ("first_day", "first day"), ("last_day", "last day"))
EM_DASH = "\u2014"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #e3f4e1; }
img { max-width: 32rem; margin: 0.5rem 1rem 0.5rem 0; border: 1px solid #eee; }
.refused { color: #a33; } .promoted { color: #276; }
"""


def render_report_page(
    report: Mapping[str, Any],
    figures: Mapping[str, Mapping[str, Figure]] | None = None,
    title: str = "memberscore training report",
) -> str:
    """The whole page: run facts, then per task its decision, metric table and figures."""
    figures = figures or {}
    tasks: Mapping[str, Mapping[str, Any]] = report.get("tasks", {})
    names = list(tasks) + [name for name in figures if name not in tasks]
    sections = "\n".join(task_section(name, tasks.get(name, {}), figures.get(name, {})) for name in names)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n{run_facts(report)}\n{sections}\n</body>\n</html>\n"
    )


def run_facts(report: Mapping[str, Any]) -> str:
    """What was judged: project (when the report names one), data file, rows, members, days, fingerprint, cut-offs."""
    facts: dict[str, Any] = {}
    if report.get("project"):
        facts["project"] = report["project"]
    data = report.get("data") or {}
    facts.update({label: _count(data[key]) if key in ("rows", "members") else data[key]
                  for key, label in DATA_FACTS if data.get(key) is not None})
    facts["data fingerprint"] = report.get("data_fingerprint") or data.get("fingerprint") or EM_DASH
    facts.update({f"cut-off {key}": value for key, value in (report.get("cutoffs") or {}).items()})
    items = "".join(f"<dt>{escape(str(key))}</dt><dd>{escape(_text(value))}</dd>" for key, value in facts.items())
    return f"<dl>{items}</dl>"


def task_section(name: str, task: Mapping[str, Any], task_figures: Mapping[str, Figure]) -> str:
    """A task's heading, promotion decision, out-of-time metric table and figures."""
    parts = [f'<section id="task-{escape(name)}">', f"<h2>{escape(name)}</h2>"]
    if "promoted" in task or "decision" in task:
        promoted = bool(task.get("promoted"))
        version = task.get("model_version")
        verdict = "promoted" if promoted else "not promoted"
        if version is not None:
            verdict += f" (version {version})"
        parts.append(
            f'<p class="{"promoted" if promoted else "refused"}"><strong>{escape(verdict)}</strong>: '
            f'<span class="decision">{escape(_text(task.get("decision", "")))}</span></p>'
        )
    if interval := gate_interval(task):
        parts.append(interval)
    if task.get("out_of_time"):
        parts.append(metric_table(task["out_of_time"]))
    if task.get("calibration"):
        parts.append(calibration_note(task["calibration"]))
    parts.extend(figure_tag(f"{name}: {filename}", figure) for filename, figure in task_figures.items())
    parts.append("</section>")
    return "\n".join(parts)


def metric_table(out_of_time: Mapping[str, Mapping[str, float]]) -> str:
    """Rows = scorers (model first, champion last), columns = metrics; the best cell per column marked.

    Best follows ``training.evaluate.metric_direction`` (lower for brier, mae, ece, higher for AUC,
    concordance, gini, ...); a metric without a direction (n, base_rate) is not ranked; ties for best
    are all marked; NaN and missing values show as an em dash; counts print without decimals.
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
            text = _count(value) if metric in COUNTS else _format(value)
            cells.append(f'<td class="best">{text}</td>' if marked else f"<td>{text}</td>")
        rows.append(f'<tr><th scope="row">{escape(scorer)}</th>{"".join(cells)}</tr>')
    body = "\n".join(rows)
    return f'<table class="metrics">\n<tr><th scope="col">scorer</th>{header}</tr>\n{body}\n</table>'


def gate_interval(task: Mapping[str, Any]) -> str:
    """The gate's paired-bootstrap interval (model minus best baseline) and any baseline left out, or ''."""
    parts = []
    interval = task.get("promotion_interval")
    if interval:
        low, high = _number(interval.get("low")), _number(interval.get("high"))
        verdict = "beyond noise" if low > 0 else "not beyond noise"
        parts.append(
            f'<p class="interval">{escape(str(interval.get("metric")))}: model minus '
            f'{escape(str(interval.get("baseline")))} = {_format(_number(interval.get("difference")))}, '
            f'{_number(interval.get("level", 0.95)):.0%} interval {_format(low)} to '
            f'{_format(high)} over {escape(str(interval.get("rounds")))} paired bootstrap resamples '
            f'of the evaluation members: {verdict}</p>')
    for scorer, why in (task.get("baselines_unavailable") or {}).items():
        parts.append(f'<p class="unavailable">baseline {escape(str(scorer))} left out: {escape(str(why))}</p>')
    return "\n".join(parts)


def calibration_note(calibration: Mapping[str, Any]) -> str:
    """One line: what calibrated the model's probabilities, and its ECE on the evaluation rows before and after."""
    if calibration.get("method") in (None, "none"):
        text = f"Probabilities not calibrated: {_text(calibration.get('reason', ''))}"
    else:
        what = {"logit_scale": "log-odds slope", "aft_sigma": "AFT sigma"}.get(str(calibration["method"]), "parameter")
        text = (f"Probabilities calibrated out of time: {what} {_format(_number(calibration.get('parameter')))}, "
                f"fitted on the {_text(calibration.get('fitted_on', ''))} training cut-off "
                f"({_count(calibration.get('rows'))} members)")
        before, after = calibration.get("before") or {}, calibration.get("after") or {}
        ece = next((key for key in after if key.startswith("ece")), None)
        if ece is not None:
            text += f"; {ece} {_format(_number(before.get(ece)))} before, {_format(_number(after.get(ece)))} after"
    return f'<p class="calibration">{escape(text)}.</p>'


def figure_tag(alt: str, figure: Figure) -> str:
    """The figure as an inline base64 PNG <img>."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
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


def _format(value: float) -> str:
    return EM_DASH if math.isnan(value) else f"{value:.4f}"


def _count(value: Any) -> str:
    """A count as a whole number with thousands separators (2,447), never 2447.0000."""
    number = _number(value)
    return _format(number) if math.isnan(number) or number != int(number) else f"{int(number):,}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)
