"""Model cards: what a registered version is, read from its commit.

Everything comes from git at the version's commit (metrics, params, dvc.lock), so a card
can be rebuilt anywhere, any time, and always says the same.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import yaml

from ratchet.core import gitrev
from ratchet.core.errors import RatchetError

METRICS_FILE = "metrics/evaluate/metrics.json"
DATA_FILE = "metrics/data.json"
# The metrics a version's summary shows, those of its task that the metrics file holds.
HEADLINE = (
    *("roc_auc", "pr_auc", "f1", "log_loss", "brier"),  # binary (log_loss: multiclass too)
    *("macro_f1", "balanced_accuracy"),  # multiclass
    *("rmse", "mae", "r2"),  # regression
)


@dataclass(frozen=True)
class Facts:
    commit: str
    metrics: dict[str, float]
    data: dict
    train: dict
    hashes: dict[str, str] = field(default_factory=dict)  # DVC-tracked path -> md5


def facts(repo: str | os.PathLike, commit: str) -> Facts:
    metrics_text = gitrev.show(commit, METRICS_FILE, repo=repo)
    if metrics_text is None:
        raise RatchetError(f"{METRICS_FILE} at {commit[:12]}: not found (run dvc repro, commit)")
    params = yaml.safe_load(gitrev.show(commit, "params.yaml", repo=repo) or "") or {}
    lock = yaml.safe_load(gitrev.show(commit, "dvc.lock", repo=repo) or "") or {}
    hashes = {}
    for stage in lock.get("stages", {}).values():
        for out in stage.get("outs", []):
            if out.get("md5") and not out["path"].startswith(("metrics/", "reports/")):
                hashes[out["path"]] = out["md5"]
    return Facts(
        commit=commit,
        metrics=json.loads(metrics_text),
        data=json.loads(gitrev.show(commit, DATA_FILE, repo=repo) or "{}"),
        train=params.get("train", {}),
        hashes=dict(sorted(hashes.items())),
    )


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {k: metrics[k] for k in HEADLINE if k in metrics}


def headline(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in headline_metrics(metrics).items())


def summary(
    repo: str | os.PathLike, name: str, version: str, commit: str, stage: str | None = None
) -> dict:
    """What `ratchet serve` (GET /model) and `ratchet model get --info` say about a version."""
    return {
        "name": name,
        "version": version,
        "stage": stage,
        "commit": commit,
        "metrics": headline_metrics(facts(repo, commit).metrics),
    }


def short(name: str, version: str, f: Facts) -> str:
    """The registration tag's message: a few plain lines, readable in `git show`."""
    lines = [
        f"{name} {version}",
        "",
        f"commit: {f.commit}",
        f"metrics: {headline(f.metrics)}",
        "params: " + " ".join(f"{k}={v}" for k, v in f.train.items()),
    ]
    if f.data:
        lines.append(f"data: rows={f.data.get('rows')} label_rate={f.data.get('label_rate')}")
    lines += [f"md5 {path}: {md5}" for path, md5 in f.hashes.items()]
    return "\n".join(lines) + "\n"


def markdown(
    name: str, version: str, f: Facts, *, registered: str = "", stages: list[str] | None = None
) -> str:
    """The full card, for a release page or `ratchet model card`."""
    out = [f"# {name} {version}", ""]
    out.append(f"- commit: `{f.commit}`")
    if registered:
        out.append(f"- registered: {registered}")
    out.append(f"- stages: {', '.join(stages) if stages else 'none'}")
    out += ["", "## Metrics (held-out split)", "", "| metric | value |", "| --- | ---: |"]
    out += [f"| {k} | {v:.4f} |" for k, v in f.metrics.items()]
    out += ["", "## Training parameters", "", "| param | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in f.train.items()]
    if f.data:
        out += ["", "## Data", ""]
        out.append(f"- rows: {f.data.get('rows')}, label rate: {f.data.get('label_rate')}")
    out += ["", "## Files (md5, from dvc.lock)", "", "| path | md5 |", "| --- | --- |"]
    out += [f"| `{p}` | `{m}` |" for p, m in f.hashes.items()]
    out += [
        "",
        "## Load it",
        "",
        "```python",
        "from ratchet import load_model",
        f'model = load_model("{version}")',
        "```",
        "",
    ]
    return "\n".join(out)
