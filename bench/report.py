"""The headline figures of a benchmark run, and bench/RESULTS.md written from results.json."""

from __future__ import annotations

from typing import Any

# headline key -> (goal text, test of the goal) where the issue sets one
GOALS = {
    "features_10m_ratio_to_duckdb": ("<= 1.5", lambda v: v <= 1.5),
    "features_10m_peak_rss_mb": ("< 4096", lambda v: v < 4096),
    "scoring_ratio_to_xgboost": (">= 0.7", lambda v: v >= 0.7),
    "api_single_rps_ratio": (">= 0.5", lambda v: v >= 0.5),
    "api_single_p99_ms": ("< 50", lambda v: v < 50),
    "wrk_score_vs_healthz": (">= 0.8", lambda v: v >= 0.8),
    "wrk_score_vs_starlette": (">= 0.25", lambda v: v >= 0.25),
    "wrk_score_single_p99_ms": ("< 50", lambda v: v < 50),
    "wrk_score_p99_over_p50": ("< 4", lambda v: v < 4),
}


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results.get("sections", {})
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def headline(results: dict[str, Any]) -> dict[str, float | None]:
    """The figures the issue asks for (None where a section did not run)."""
    figures: dict[str, float | None] = {}
    for size in ("1m", "10m"):
        ibis, sql, pandas = (_get(results, "features", f"{size}_{impl}") or {} for impl in ("ibis", "sql", "pandas"))
        figures[f"features_{size}_ratio_to_duckdb"] = _ratio(ibis.get("seconds"), sql.get("seconds"))
        figures[f"features_{size}_ratio_to_pandas"] = _ratio(ibis.get("seconds"), pandas.get("seconds"))
        figures[f"features_{size}_rows_per_s"] = ibis.get("lines_per_s")
        figures[f"features_{size}_peak_rss_mb"] = ibis.get("peak_rss_mb")
    ours, bare = _get(results, "scoring", "ours") or {}, _get(results, "scoring", "bare") or {}
    figures["scoring_rows_per_s"] = ours.get("rows_per_s")
    figures["scoring_ratio_to_xgboost"] = _ratio(ours.get("rows_per_s"), bare.get("rows_per_s"))
    figures["scoring_peak_rss_mb"] = ours.get("peak_rss_mb")
    api = _get(results, "api") or {}
    single, trivial = api.get("score_single", {}), api.get("trivial_single", {})
    figures["api_single_rps"] = single.get("rps")
    figures["api_single_rps_ratio"] = _ratio(single.get("rps"), trivial.get("rps"))
    figures["api_single_p50_ms"] = single.get("p50_ms")
    figures["api_single_p99_ms"] = single.get("p99_ms")
    figures["api_single_2_clients_p50_ms"] = api.get("score_single_2_clients", {}).get("p50_ms")
    figures["api_single_2_clients_p99_ms"] = api.get("score_single_2_clients", {}).get("p99_ms")
    figures["api_single_no_reasons_rps_ratio"] = _ratio(api.get("score_single_no_reasons", {}).get("rps"), trivial.get("rps"))
    figures["api_score_features_rps_ratio"] = _ratio(api.get("score_features_single", {}).get("rps"), trivial.get("rps"))
    figures["api_batch_1000_rps_ratio"] = _ratio(api.get("score_batch_1000", {}).get("rps"),
                                                 api.get("trivial_batch_1000", {}).get("rps"))
    figures["api_batch_1000_p99_ms"] = api.get("score_batch_1000", {}).get("p99_ms")
    wrk = _get(results, "wrk") or {}
    for name in ("score_single", "healthz", "starlette"):
        for measure in ("rps", "p50_ms", "p99_ms"):
            figures[f"wrk_{name}_{measure}"] = wrk.get(name, {}).get(measure)
    for name, ratio in wrk.get("ratios", {}).items():
        figures[f"wrk_{name}"] = ratio
    for name, trained in (_get(results, "training") or {}).items():
        if isinstance(trained, dict) and "seconds" in trained:
            figures[f"training_seconds_{name}"] = trained["seconds"]
    return figures


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "not run"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def render_markdown(results: dict[str, Any]) -> str:
    """RESULTS.md: scale and machine, the headline against the goals, then every section's table."""
    machine = results.get("machine", {})
    lines = ["# memberscore benchmarks", "",
             f"Scale **{results.get('scale')}**; every figure is the median of the runs (how many: under each "
             "section), each run a fresh process; peak RSS is that process's own maximum (`wait4`). "
             "Regenerate with `make bench`.", "",
             f"Machine: {machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gb')} GB; "
             f"load average at start {machine.get('load_average_at_start')}; Python {machine.get('python')}; "
             + ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items()), "",
             "| figure | value | goal | met |", "|---|---:|---|---|"]
    for key, value in headline(results).items():
        goal, test = GOALS.get(key, ("", None))
        met = "" if test is None or value is None else ("yes" if test(value) else "**no**")
        lines.append(f"| {key} | {_fmt(value)} | {goal} | {met} |")
    lines += ["", *_features_table(results), "", *_scoring_table(results), "", *_api_table(results), "",
              *_training_table(results), ""]
    return "\n".join(lines)


def _settings(section: dict[str, Any], with_score_rows: bool = False) -> str:
    """How many runs (and members) a section measured, and how busy the machine was."""
    settings = section.get("settings")
    if not settings:
        return ""
    rows = f" on {settings['score_rows']:,} members" if with_score_rows else ""
    code = f" on code {settings['code']}" if settings.get("code") else ""
    return (f"Ran with {settings.get('runs')} runs per case{rows}{code}, load average "
            f"{settings.get('load_average_at_start')} (1, 5, 15 min) at the section's start.")


def _features_table(results: dict[str, Any]) -> list[str]:
    section = _get(results, "features") or {}
    lines = ["## Feature build (snapshot features as of the end of data, from Parquet)", "", _settings(section), "",
             "ibis = `features.snapshot.snapshot_expression` on DuckDB; sql = the same features as one "
             "hand-written DuckDB query; pandas = the same features in idiomatic pandas (all 25 non-lifetime "
             f"catalogue features). {section.get('agreement', '')}", "",
             "| size | implementation | lines | seconds | of which Ibis build + compile | lines/s | peak RSS MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for key, case in section.items():
        if isinstance(case, dict) and "seconds" in case:
            size, impl = key.split("_", 1)
            compile_seconds = _fmt(case["compile_seconds"]) if "compile_seconds" in case else ""
            lines.append(f"| {size} | {impl} | {_fmt(case.get('lines'))} | {_fmt(case['seconds'])} | {compile_seconds} | "
                         f"{_fmt(case.get('lines_per_s'), 0)} | {_fmt(case.get('peak_rss_mb'), 0)} |")
    return lines


def _scoring_table(results: dict[str, Any]) -> list[str]:
    section = _get(results, "scoring") or {}
    lines = ["## Batch scoring with reasons", "", _settings(section, with_score_rows=True), "",
             "ours = `serving.batch.score_with_reasons_chunked` (every champion's outputs and top-3 reasons per "
             "model, chunks of 20,000); bare = XGBoost `predict` + `pred_contribs` per champion on the whole float32 "
             "matrix (contributions of the explained output: output 0 of the multi-output upsell booster, as ours).", "", "| implementation | rows | models | seconds | rows/s | peak RSS MB |",
             "|---|---:|---:|---:|---:|---:|"]
    for impl in ("ours", "bare"):
        case = section.get(impl)
        if case:
            lines.append(f"| {impl} | {_fmt(case.get('rows'), 0)} | {_fmt(case.get('models'), 0)} | "
                         f"{_fmt(case.get('seconds'))} | {_fmt(case.get('rows_per_s'), 0)} | {_fmt(case.get('peak_rss_mb'), 0)} |")
    return lines


def _api_table(results: dict[str, Any]) -> list[str]:
    section = _get(results, "api") or {}
    lines = ["## HTTP API on loopback (closed loop, fixed duration; client in its own process)", "", _settings(section), "",
             "`/score` looks up scores and reasons precomputed when the snapshot loaded (`serving.lookup`); "
             "`/score_features` runs the models and TreeSHAP on the request's rows.", "",
             "| scenario | clients | requests | rps | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, case in section.items():
        if isinstance(case, dict) and "rps" in case:
            lines.append(f"| {name} | {_fmt(case.get('concurrency'))} | {_fmt(case.get('requests'), 0)} | "
                         f"{_fmt(case['rps'], 1)} | {_fmt(case.get('p50_ms'))} | {_fmt(case.get('p99_ms'))} | "
                         f"{_fmt(case.get('errors'), 0)} |")
    if "server_peak_rss_mb" in section:
        lines += ["", "Server peak RSS (MB): " + ", ".join(f"{k} {_fmt(v, 0)}" for k, v in section["server_peak_rss_mb"].items())]
    return lines


def _training_table(results: dict[str, Any]) -> list[str]:
    section = _get(results, "training") or {}
    lines = ["## `memberscore train` (every task, fresh workspace)", "", _settings(section), "",
             "| data | rows kept | seconds | peak RSS MB | promoted |", "|---|---:|---:|---:|---|"]
    for name, case in section.items():
        if not isinstance(case, dict) or name == "settings":
            continue
        if "skipped" in case:
            lines.append(f"| {name} | | skipped: {case['skipped']} | | |")
            continue
        lines.append(f"| {name} | {_fmt(case.get('rows_kept'))} | {_fmt(case['seconds'], 0)} | "
                     f"{_fmt(case['peak_rss_mb'], 0)} | {', '.join(case.get('promoted', []))} |")
    notes = [f"- {name}: {case['note']}" for name, case in section.items() if isinstance(case, dict) and "note" in case]
    return lines + ([""] + notes if notes else [])
