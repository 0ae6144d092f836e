"""Editing the pipeline's files for `ratchet init`: dvc.yaml and params.yaml, changed with
ruamel.yaml's round trip so their comments and layout survive, and several files replaced
together (each staged in a temporary file first; all put back if one step fails).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ratchet.core.errors import RatchetError
from ratchet.core.params import LINEAR, PARAMS_FILE

DVC_FILE = "dvc.yaml"
VALIDATED_DIR = "data/validated"
SAMPLE_STAGE = "sample"  # the bundled sample's stage: present until a repository has its data


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()
    y.width = 4096
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return y


def _dump(y, data) -> str:
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


def _replace_in(value: Any, old: str, new: str) -> Any:
    """`value` (a string, possibly a folded/literal scalar) with `old` replaced by `new`."""
    if not isinstance(value, str) or old not in value:
        return value
    from ruamel.yaml.scalarstring import FoldedScalarString

    replaced = value.replace(old, new)
    if isinstance(value, FoldedScalarString):
        folded = FoldedScalarString(replaced)
        at, delta = value.index(old), len(new) - len(old)
        folded.fold_pos = [f if f < at else f + delta for f in getattr(value, "fold_pos", [])]
        return folded
    return type(value)(replaced) if type(value) is not str else replaced


def _replace_paths(node: Any, old: str, new: str) -> None:
    """Replace path `old` by `new` in every string and mapping key under `node`."""
    if isinstance(node, dict):
        for key in list(node):
            value = node[key]
            _replace_paths(value, old, new)
            node[key] = _replace_in(value, old, new)
            if isinstance(key, str) and key == old:
                node.insert(list(node).index(key), new, node.pop(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _replace_paths(value, old, new)
            node[i] = _replace_in(value, old, new)


def _option(cmd: str, flag: str) -> str | None:
    words = cmd.split()
    return words[words.index(flag) + 1] if flag in words[:-1] else None


def rewire_pipeline(text: str, raw_path: str, name: str) -> tuple[str, list[str]]:
    """dvc.yaml with the sample stage removed and validate reading `raw_path`.

    The validated table and the model artifact are named after the dataset. Returns the new
    text and one line per change.
    """
    y = _yaml()
    doc = y.load(text)
    stages = doc.get("stages") or {}
    if "validate" not in stages:
        raise RatchetError(f"{DVC_FILE}: no 'validate' stage to point at the data")
    notes = []
    if SAMPLE_STAGE in stages:
        del stages[SAMPLE_STAGE]
        notes.append(f"removed stage '{SAMPLE_STAGE}' (the bundled synthetic sample)")
    old_raw = _option(str(stages["validate"].get("cmd", "")), "--input")
    if old_raw is None:
        raise RatchetError(f"{DVC_FILE}: stage validate's cmd has no --input PATH")
    if old_raw != raw_path:
        _replace_paths(stages["validate"], old_raw, raw_path)
        notes.append(f"stage validate reads {raw_path} (was {old_raw})")
    old_validated = _option(str(stages["validate"].get("cmd", "")), "--output")
    validated = f"{VALIDATED_DIR}/{name}.parquet"
    if old_validated and old_validated != validated:
        _replace_paths(stages, old_validated, validated)
        notes.append(f"the validated table is {validated} (was {old_validated})")
    artifacts = doc.get("artifacts") or {}
    models = [k for k, v in artifacts.items() if (v or {}).get("type") == "model"]
    wanted = f"{name}-model"
    if len(models) == 1 and models[0] != wanted:
        spec = artifacts.pop(models[0])
        spec["desc"] = f"{name} classifier (scikit-learn Pipeline, skops format)"
        if "labels" in spec:
            spec["labels"] = [name, "tabular"]
        artifacts.insert(0, wanted, spec)
        notes.append(f"the model artifact is {wanted} (was {models[0]})")
    return _dump(y, doc), notes


def retune_params(text: str, rows: int, *, gate: bool = True) -> tuple[str, list[str]]:
    """params.yaml with row-count bounds for this file and (gate=True) regression-only gate
    rules: the sample's absolute floors and ceilings say nothing about other data."""
    y = _yaml()
    doc = y.load(text)
    notes = []
    validate = doc.get("validate")
    if validate is None:
        raise RatchetError(f"{PARAMS_FILE}: missing section 'validate'")
    low, high = max(1, rows // 2), rows * 10
    validate["rows_min"], validate["rows_max"] = low, high
    notes.append(f"validate.rows_min/rows_max: {low}/{high} (half and 10x the {rows} rows)")
    rules = (doc.get("gate") or {}).get("rules") or {} if gate else {}
    for metric, rule in rules.items():
        dropped = [k for k in ("min", "max") if k in rule]
        for key in dropped:
            del rule[key]
        if dropped:
            notes.append(
                f"gate.rules.{metric}: dropped the sample's {'/'.join(dropped)} (absolute "
                "limits must come from your data); kept its allowed regression"
            )
    return _dump(y, doc), notes


@dataclass
class _Write:
    """A file to put in place: its new content staged in a temporary file beside it."""

    target: Path
    staged: Path
    backup: Path | None = None


def stage(target: Path, fill: Callable[[Path], None]) -> _Write:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    staged = Path(tmp)
    try:
        fill(staged)
        umask = os.umask(0)
        os.umask(umask)
        staged.chmod(0o666 & ~umask)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return _Write(target, staged)


def replace_all(writes: list[_Write], after: Callable[[], None]) -> None:
    """Move every staged file into place, then run `after`; on any failure put back what was
    there before (and remove what was not)."""
    done: list[_Write] = []
    try:
        for w in writes:
            if w.target.exists():
                w.backup = w.target.with_name(f".{w.target.name}.{os.getpid()}.bak")
                os.replace(w.target, w.backup)
            os.replace(w.staged, w.target)
            done.append(w)
        after()
    except BaseException:
        for w in reversed(done):
            if w.backup is not None:
                os.replace(w.backup, w.target)
            else:
                w.target.unlink(missing_ok=True)
        for w in writes:
            w.staged.unlink(missing_ok=True)
            if w not in done and w.backup is not None and w.backup.exists():
                os.replace(w.backup, w.target)
        raise
    for w in writes:
        if w.backup is not None:
            w.backup.unlink(missing_ok=True)


# What the evaluate stage writes for each task (dvc.yaml `plots:`), the plots the pull-request
# report draws, and the gate's defaults. Binary's are the template's own.
_EVAL = "metrics/evaluate/plots"
_CONFUSION_FILE = f"{_EVAL}/sklearn/confusion_matrix.json"
PER_CLASS_PR_DIR = f"{_EVAL}/sklearn/precision_recall_by_class"  # one <class key>.json each
_IMPORTANCE = {
    "Feature-Importance": {
        "template": "bar_horizontal_sorted",
        "x": "importance",
        "y": {f"{_EVAL}/custom/importance.json": "feature"},
    }
}
_CONFUSION = {
    "Confusion-Matrix": {
        "template": "confusion",
        "x": "actual",
        "y": {_CONFUSION_FILE: "predicted"},
    }
}
# DVC's confusion_normalized divides each cell by its `y` value's total: with the actual
# class as y, every actual class's row sums to 1 (its recall on the diagonal).
_CONFUSION_NORMALIZED = {
    "Confusion-Matrix-Normalized": {
        "template": "confusion_normalized",
        "x": "predicted",
        "y": {_CONFUSION_FILE: "actual"},
        "x_label": "Predicted",
        "y_label": "Actual (each row sums to 1)",
    }
}
_REGRESSION_PLOTS: list[dict[str, Any]] = [
    {
        "Predicted-vs-Actual": {
            "template": "scatter",
            "x": "actual",
            "y": {f"{_EVAL}/custom/predicted_actual.json": "predicted"},
            "x_label": "Actual",
            "y_label": "Predicted",
        }
    },
    {
        "Residuals": {
            "template": "scatter",
            "x": "predicted",
            "y": {f"{_EVAL}/custom/residuals.json": "residual"},
            "x_label": "Predicted",
            "y_label": "Actual - predicted",
        }
    },
    {
        "Residual-Histogram": {
            "template": "bar_horizontal",
            "x": "count",
            "y": {f"{_EVAL}/custom/residual_histogram.json": "residual"},
            "x_label": "Test rows",
            "y_label": "Actual - predicted (bin centre)",
        }
    },
    _IMPORTANCE,
]


def _per_class_pr(class_keys: list[str]) -> dict[str, Any]:
    """One-vs-rest precision-recall, one y-file per class: DVC draws each as its own series."""
    return {
        "Precision-Recall-by-Class": {
            "template": "simple",
            "x": "recall",
            "y": {f"{PER_CLASS_PR_DIR}/{key}.json": "precision" for key in class_keys},
            "x_label": "Recall (one class vs the rest)",
            "y_label": "Precision",
        }
    }


def task_plots(task: str, class_keys: list[str]) -> list[dict[str, Any]]:
    """dvc.yaml `plots:` for `task` (multiclass: `class_keys` name the per-class files)."""
    if task == "multiclass":
        return [_CONFUSION, _CONFUSION_NORMALIZED, _per_class_pr(class_keys), _IMPORTANCE]
    return _REGRESSION_PLOTS


TASKS = ("multiclass", "regression")  # the tasks whose plots and gate differ from the template
TASK_GATE: dict[str, tuple[str, dict[str, dict[str, Any]]]] = {
    "multiclass": (
        "macro_f1",
        {
            "macro_f1": {"direction": "higher", "max_regression": 0.02},
            "log_loss": {"direction": "lower", "max_regression": 0.02},
        },
    ),
    "regression": (
        "rmse",
        {
            "rmse": {"direction": "lower", "max_relative_regression": 0.05},
            "mae": {"direction": "lower", "max_relative_regression": 0.05},
        },
    ),
}


def _plain(node: Any) -> Any:
    """A ruamel.yaml node as plain dicts and lists (to compare with a definition)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _flow_map(value: dict[str, Any]):
    from ruamel.yaml.comments import CommentedMap

    m = CommentedMap(value)
    m.fa.set_flow_style()
    return m


def _flow_list(value: list[str]):
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(value)
    seq.fa.set_flow_style()
    return seq


def retask_pipeline(text: str, task: str, class_keys: Sequence[str] = ()) -> tuple[str, list[str]]:
    """dvc.yaml with the plots evaluate writes for `task` (binary: left as it is)."""
    if task not in TASKS:
        return text, []
    y = _yaml()
    doc = y.load(text)
    plots = task_plots(task, list(class_keys))
    wanted = [next(iter(p)) for p in plots]
    if _plain(doc.get("plots")) == plots:
        return text, []
    doc["plots"] = plots
    for spec in (doc.get("artifacts") or {}).values():
        if (spec or {}).get("type") == "model" and task == "regression":
            spec["desc"] = str(spec.get("desc", "")).replace("classifier", "regression model")
    return _dump(y, doc), [f"plots: {', '.join(wanted)} (what evaluate draws for {task})"]


def retask_params(text: str, task: str) -> tuple[str, list[str]]:
    """params.yaml with the gate rules, report plots, train estimator and sweep grids of
    `task` (binary: the template's own, left as they are)."""
    y = _yaml()
    doc = y.load(text)
    notes = _retask_gate(doc, task) + _retask_train(doc, task) + _retask_grids(doc, task)
    return (_dump(y, doc), notes) if notes else (text, [])


def _retask_gate(doc, task: str) -> list[str]:
    if task not in TASK_GATE:
        return []
    gate, report = doc.get("gate"), doc.get("report")
    if gate is None or report is None:
        raise RatchetError(f"{PARAMS_FILE}: missing section 'gate' or 'report'")
    primary, rules = TASK_GATE[task]
    if gate.get("primary") == primary:
        return []
    gate["primary"] = primary
    gate["rules"] = {metric: _flow_map(rule) for metric, rule in rules.items()}
    shown = [next(iter(p)) for p in task_plots(task, [])]
    report["plots"] = _flow_list(shown)
    return [
        f"gate.primary: {primary}; gate.rules: {', '.join(rules)} (the {task} defaults)",
        f"report.plots: {', '.join(shown)}",
    ]


def _linear_for(value: Any, task: str) -> Any:
    """Another task's linear baseline becomes this task's (ridge <-> logistic_regression)."""
    return LINEAR[task] if value in LINEAR.values() else value


def _retask_train(doc, task: str) -> list[str]:
    train = doc.get("train") or {}
    notes = []
    if "estimator" in train and _linear_for(train["estimator"], task) != train["estimator"]:
        train["estimator"] = LINEAR[task]
        notes.append(f"train.estimator: {LINEAR[task]} (the {task} linear baseline)")
    if task == "regression" and train.get("class_weight") is not None:
        train["class_weight"] = None
        notes.append("train.class_weight: null (class weights apply to classification)")
    return notes


def _retask_grids(doc, task: str) -> list[str]:
    """Sweep grids whose every combination trains a `task` model: the linear baseline
    swapped for the task's, class_weight values dropped for a regression."""
    notes = []
    grids = (doc.get("sweep") or {}).get("grids") or []
    for i, grid in enumerate(grids):
        values = grid.get("train.estimator")
        if values is not None:
            wanted = list(dict.fromkeys(_linear_for(v, task) for v in values))
            if wanted != list(values):
                values[:] = wanted
                notes.append(
                    f"sweep.grids[{i}]: train.estimator {', '.join(map(str, wanted))} "
                    f"(the {task} linear baseline is {LINEAR[task]})"
                )
        weights = grid.get("train.class_weight")
        if task == "regression" and weights is not None and weights != [None]:
            del grid["train.class_weight"]
            notes.append(f"sweep.grids[{i}]: dropped train.class_weight (classification only)")
    grids[:] = [grid for grid in grids if grid]  # a grid of class weights alone is gone
    return notes
