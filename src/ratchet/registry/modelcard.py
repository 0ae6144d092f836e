"""Model cards: what a registered version is, read from its commit.

Everything comes from git at the version's commit (metrics, params, dvc.lock, the dataset
contract), so a card can be rebuilt anywhere, any time, and always says the same. The
contract says the task: a multiclass card names the classes in the data's own spelling and
shows each one's precision and recall, a regression card names the target; neither speaks
of a threshold or a positive class.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import yaml

from ratchet.core import gitrev
from ratchet.core.errors import RatchetError
from ratchet.dataset import contract

METRICS_FILE = "metrics/evaluate/metrics.json"
DATA_FILE = "metrics/data.json"
# The metrics a version's summary shows, per task (those the metrics file holds).
HEADLINE = {
    "binary": ("roc_auc", "pr_auc", "f1", "log_loss", "brier"),
    "multiclass": ("macro_f1", "balanced_accuracy", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
# The order a card lists a task's metrics in (others the file holds follow).
CARD_ORDER = {
    "multiclass": ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "log_loss",
                   "roc_auc_ovr"),
    "regression": ("rmse", "mae", "r2", "median_ae", "mape"),
}  # fmt: skip
PER_CLASS = ("precision", "recall")  # multiclass metrics kept per class: precision_<class>


@dataclass(frozen=True)
class Facts:
    commit: str
    metrics: dict[str, float]
    data: dict
    train: dict
    hashes: dict[str, str] = field(default_factory=dict)  # DVC-tracked path -> md5
    task: str = "binary"
    target: str | None = None  # the target column, from the contract
    classes: tuple[str, ...] = ()  # multiclass: class names in class order


def task_of(metrics: dict[str, float]) -> str:
    """The task a metrics file was written for, when no contract says it."""
    if "rmse" in metrics:
        return "regression"
    return "multiclass" if "macro_f1" in metrics else "binary"


def _contract_at(repo: str | os.PathLike, commit: str) -> contract.Contract | None:
    """The dataset contract the commit was built with; None if it has none that reads."""
    path = contract.default_path()
    where = path.as_posix() if not path.is_absolute() else contract.CONTRACT_FILE
    text = gitrev.show(commit, where, repo=repo)
    if text is None:
        return None
    try:
        return contract.from_text(text, f"{where} at {commit[:12]}")
    except RatchetError:
        return None  # an older contract format: the metrics still say the task


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
    metrics = json.loads(metrics_text)
    c = _contract_at(repo, commit)
    task = c.task if c is not None else task_of(metrics)
    return Facts(
        commit=commit,
        metrics=metrics,
        data=json.loads(gitrev.show(commit, DATA_FILE, repo=repo) or "{}"),
        train=params.get("train", {}),
        hashes=dict(sorted(hashes.items())),
        task=task,
        target=c.target if c is not None else None,
        classes=c.class_names if c is not None and task == "multiclass" else (),
    )


def headline_metrics(metrics: dict[str, float], task: str | None = None) -> dict[str, float]:
    return {k: metrics[k] for k in HEADLINE[task or task_of(metrics)] if k in metrics}


def headline(metrics: dict[str, float], task: str | None = None) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in headline_metrics(metrics, task).items())


def summary(
    repo: str | os.PathLike, name: str, version: str, commit: str, stage: str | None = None
) -> dict:
    """What `ratchet serve` (GET /model) and `ratchet model get --info` say about a version."""
    f = facts(repo, commit)
    return {
        "name": name,
        "version": version,
        "stage": stage,
        "commit": commit,
        "metrics": headline_metrics(f.metrics, f.task),
    }


def task_line(f: Facts) -> str | None:
    """What the model predicts, for a multiclass or regression card (binary: None, its card
    is as it always was)."""
    if f.task == "binary":
        return None
    target = f" `{f.target}`" if f.target else ""
    if f.task == "multiclass":
        names = class_names(f)
        return f"multiclass:{target} in {len(names)} classes: {', '.join(names)}"
    return f"regression: predicts{target or ' a number'}"


def class_names(f: Facts) -> tuple[str, ...]:
    """The classes in the data's own spelling: the contract's, else the metric keys'."""
    if f.classes:
        return f.classes
    prefix = f"{PER_CLASS[0]}_"
    return tuple(k.removeprefix(prefix) for k in f.metrics if k.startswith(prefix))


def _per_class_keys(f: Facts) -> set[str]:
    return {f"{m}_{contract.class_key(n)}" for n in class_names(f) for m in PER_CLASS}


def card_metrics(f: Facts) -> dict[str, float]:
    """The metrics table of a card: the task's in their usual order, then any others the
    file holds (a multiclass model's per-class values go in their own table)."""
    if f.task not in CARD_ORDER:
        return dict(f.metrics)
    per_class = _per_class_keys(f) if f.task == "multiclass" else set()
    first = [k for k in CARD_ORDER[f.task] if k in f.metrics]
    rest = [k for k in f.metrics if k not in first and k not in per_class]
    return {k: f.metrics[k] for k in (*first, *rest)}


def per_class_table(f: Facts) -> list[str]:
    """Markdown rows: each class's precision and recall on the held-out split."""
    if f.task != "multiclass" or not class_names(f):
        return []
    out = ["| class | " + " | ".join(PER_CLASS) + " |", "| --- |" + " ---: |" * len(PER_CLASS)]
    for name in class_names(f):
        values = [f.metrics.get(f"{m}_{contract.class_key(name)}") for m in PER_CLASS]
        cells = " | ".join("" if v is None else f"{v:.4f}" for v in values)
        out.append(f"| {name} | {cells} |")
    return out


def _data_line(f: Facts, short: bool) -> str:
    rows, rate = f.data.get("rows"), f.data.get("label_rate")
    if f.task != "binary":  # the share of label 1 means nothing without a positive class
        return f"data: rows={rows}" if short else f"- rows: {rows}"
    if short:
        return f"data: rows={rows} label_rate={rate}"
    return f"- rows: {rows}, label rate: {rate}"


def short(name: str, version: str, f: Facts) -> str:
    """The registration tag's message: a few plain lines, readable in `git show`."""
    lines = [f"{name} {version}", "", f"commit: {f.commit}"]
    if task_line(f):
        lines.append(f"task: {task_line(f)}".replace("`", ""))
    lines += [
        f"metrics: {headline(f.metrics, f.task)}",
        "params: " + " ".join(f"{k}={v}" for k, v in f.train.items()),
    ]
    if f.data:
        lines.append(_data_line(f, short=True))
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
    if task_line(f):
        out.append(f"- task: {task_line(f)}")
    out += ["", "## Metrics (held-out split)", "", "| metric | value |", "| --- | ---: |"]
    out += [f"| {k} | {v:.4f} |" for k, v in card_metrics(f).items()]
    if per_class_table(f):
        out += ["", "## Per class (held-out split)", "", *per_class_table(f)]
    out += ["", "## Training parameters", "", "| param | value |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in f.train.items()]
    if f.data:
        out += ["", "## Data", "", _data_line(f, short=False)]
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
