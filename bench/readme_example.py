"""The README's example answer, written from a fresh ``make run`` rather than by hand.

``make run`` trains project ``demo`` on the bundled CDNOW data and serves it; the README shows what
``POST /score`` then answers for member 100 and an unknown id. Hand-copied numbers drift from what a
user sees (another CPU, another version), so this script repeats that flow in throw-away stores
(never the user's ``mlruns/`` or ``var/``), asks the real server, and writes the answer between the
README's ``<!-- example:begin -->`` and ``<!-- example:end -->`` markers. ``tests/test_readme.py``
repeats it and checks the README's numbers within ``TOLERANCE``.

    .venv/bin/python -m bench.readme_example --write      # regenerate the README's example
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench.measure import free_port, stop_process_group, wait_until_answering

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DATA, MAPPING, PROJECT = REPO / "data/cdnow/cdnow_master.parquet", REPO / "mappings/cdnow.yaml", "demo"
REQUEST = {"member_ids": ["100", "unknown-id"], "explain": 1}
BEGIN, END = "<!-- example:begin -->", "<!-- example:end -->"
KEY = "readme-example-key-0123456789"
# How far a fresh run on another CPU may move a number: boosters differ in the last float bits across
# instruction sets, which moves early-stopping and so probabilities by ~0.01 and days by ~2%.
TOLERANCE = {"probability": 0.03, "relative": 0.05}
READY_TIMEOUT_S = 180.0


def _memberscore() -> list[str]:
    return [str(Path(sys.executable).with_name("memberscore"))]


def _env(root: Path) -> dict[str, str]:
    """Throw-away stores, as ``make run`` would create them in a fresh checkout."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlruns' / 'mlflow.db'}",
            "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"), "BENTOML_HOME": str(root / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "True", "MEMBERSCORE_API_KEYS": KEY}


def fresh_answer(root: Path) -> dict[str, Any]:
    """Train project ``demo`` on the bundled data in ``root``'s stores, serve it, and ask ``REQUEST``."""
    env = _env(root)
    (root / "mlruns").mkdir(parents=True, exist_ok=True)
    subprocess.run([*_memberscore(), "train", "--project", PROJECT, "--transactions", str(DATA),
                    "--mapping", str(MAPPING)], cwd=root, env=env, check=True, capture_output=True, text=True)
    port = free_port()
    with open(root / "serve.log", "wb") as log:
        server = subprocess.Popen([*_memberscore(), "serve", "--project", PROJECT, "--host", "127.0.0.1",
                                   "--port", str(port)], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(server, base, root / "serve.log", READY_TIMEOUT_S, poll_s=0.5)
        response = httpx.post(f"{base}/score", json=REQUEST, headers={"X-API-Key": KEY}, timeout=60)
        response.raise_for_status()
        return response.json()
    finally:
        stop_process_group(server)


def shortened(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with floats rounded to 3 decimals and reasons cut to one per model, for reading."""
    def cut(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 3)
        if isinstance(value, dict):
            return {k: cut(v) for k, v in value.items()}
        if isinstance(value, list):
            return [cut(v) for v in value]
        return value

    short = cut(answer)
    for result in short["results"]:
        result["reasons"] = result.get("reasons", [])[:1]
        result["model_reasons"] = {task: reasons[:1] for task, reasons in result.get("model_reasons", {}).items()}
    return short


def render(answer: dict[str, Any]) -> str:
    """The README block, valid JSON: each member's fields wrapped at ``WIDTH``, each model's reasons
    on their own line."""
    short = shortened(answer)
    results = ",\n".join(_member(result) for result in short["results"])
    rest = _wrapped([f"{json.dumps(k)}: {_compact(v)}" for k, v in short.items() if k != "results"], " ")
    return f"```json\n{{\"results\": [\n{results}],\n{rest}}}\n```"


WIDTH = 100


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _member(result: dict[str, Any]) -> str:
    fields = [f"{json.dumps(k)}: {_compact(v)}" for k, v in result.items() if k != "model_reasons"]
    reasons = result.get("model_reasons", {})
    by_model = ",\n".join(f"     {json.dumps(task)}: {_compact(why)}" for task, why in reasons.items())
    model_reasons = f'"model_reasons": {{\n{by_model}}}' if reasons else '"model_reasons": {}'
    return "  {" + _wrapped([*fields, model_reasons], "   ").lstrip() + "}"


def _wrapped(fields: list[str], indent: str) -> str:
    """Fields joined by ", ", a new line (at ``indent``) before one that would pass ``WIDTH``."""
    lines = [indent]
    for field in fields:
        if len(lines[-1]) > len(indent) and len(lines[-1]) + len(field) + 2 > WIDTH:
            lines[-1] += ","
            lines.append(indent)
        lines[-1] += (", " if len(lines[-1]) > len(indent) and not lines[-1].endswith(",") else "") + field
    return "\n".join(lines)


def readme_answer(text: str) -> dict[str, Any]:
    """The JSON between the README's example markers."""
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    return json.loads(block.strip().removeprefix("```json").removesuffix("```"))


def splice(text: str, block: str) -> str:
    """``text`` with the part between the markers replaced by ``block``."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{block}\n{text[end:]}"


def differences(shown: Any, fresh: Any, path: str = "") -> list[str]:
    """Where the README's (shortened) answer and a fresh one disagree beyond ``TOLERANCE``.

    Numbers named like probabilities (``p_*``, ``*_probability``) may move by an absolute
    ``probability``; other numbers by a ``relative`` share; dates of the next purchase follow the
    median days; text, codes and versions must be equal. Reason lists compare by their features'
    presence only (which feature ranks first can swap when two contributions are close).
    """
    name = path.rsplit(".", 1)[-1]
    if isinstance(shown, dict) and isinstance(fresh, dict):
        missing = [f"{path}.{k}: missing in the fresh answer" for k in shown if k not in fresh]
        return missing + [d for k in shown if k in fresh for d in differences(shown[k], fresh[k], f"{path}.{k}")]
    if isinstance(shown, list) and isinstance(fresh, list):
        if name in ("reasons", "churn", "next_purchase", "upsell", "value") or "model_reasons" in path:
            return []
        if len(shown) != len(fresh):
            return [f"{path}: {len(shown)} items shown, {len(fresh)} fresh"]
        return [found for i, (a, b) in enumerate(zip(shown, fresh)) for found in differences(a, b, f"{path}[{i}]")]
    if isinstance(shown, (int, float)) and isinstance(fresh, (int, float)) and not isinstance(shown, bool):
        if name.startswith("p_") or name.endswith("_probability"):
            close = abs(shown - fresh) <= TOLERANCE["probability"]
        else:
            close = abs(shown - fresh) <= TOLERANCE["relative"] * max(abs(fresh), 1e-9) + 0.001
        return [] if close else [f"{path}: README {shown}, fresh {fresh}"]
    if name == "next_purchase_date":
        return []  # follows next_purchase_median_days, checked above
    return [] if shown == fresh else [f"{path}: README {shown!r}, fresh {fresh!r}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the fresh answer into README.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="memberscore-readme-") as tmp:
        answer = fresh_answer(Path(tmp))
    if args.write:
        README.write_text(splice(README.read_text(encoding="utf-8"), render(answer)), encoding="utf-8")
    else:
        print(render(answer))
        print("\n".join(differences(readme_answer(README.read_text(encoding="utf-8")), answer)) or "README agrees")


if __name__ == "__main__":
    main()
