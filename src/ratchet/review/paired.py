"""Score the base model and this change's model on the same held-out rows, with intervals.

The committed metrics of two commits were measured on different rows whenever the data or
the split changed, and even on the same rows a retrain moves them by noise. Here both
models score the rows neither was trained on, and each gated metric gets its paired
change with a confidence interval (`ratchet.review.intervals`).

Any reason the pair cannot be formed (another dataset, features the base model cannot
read, no base model) gives `Pairing.note` instead: the gate then compares committed
metrics as before, and the report says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from ratchet.core import gitrev, io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams, GateParams
from ratchet.dataset import contract
from ratchet.dataset.contract import Contract
from ratchet.pipeline import model, predict
from ratchet.review import baseline, interval_metrics, intervals, shared_rows
from ratchet.review.intervals import Delta


@dataclass
class Pairing:
    """The paired comparison, or why there is none (`note`)."""

    deltas: dict[str, Delta] = field(default_factory=dict)
    rows: int = 0  # rows both models were scored on
    test_rows: int = 0  # this change's test rows (rows - those the base trained on)
    source: str = ""  # "cache" or "reproduced"
    seconds: float = 0.0
    note: str | None = None  # why the comparison is not paired

    def summary(self, base_sha: str) -> str:
        """The report's and the gate's one line about how the pair was formed."""
        if self.note:
            return f"not paired: {self.note}; committed metrics compared instead"
        dropped = self.test_rows - self.rows
        trained = f" ({dropped:,} test rows left out: the base model trained on them)"
        how = (
            f"base model from the DVC cache at {base_sha[:7]} ({self.seconds:.1f} s)"
            if self.source == "cache"
            else f"base model reproduced at {base_sha[:7]} in {self.seconds:.0f} s"
        )
        left_out = trained if dropped else ""
        return f"paired on {self.rows:,} rows unseen by both models{left_out}; {how}"


def predictions(pipeline: Pipeline, feats: pd.DataFrame, task: str) -> np.ndarray:
    """What the interval metrics read: positive-class probabilities, the class-probability
    matrix, or predicted numbers."""
    if task == "binary":
        return predict.model_scores(pipeline, feats)
    if task == "multiclass":
        return pipeline.predict_proba(feats)
    return np.asarray(pipeline.predict(feats), dtype="float64")


def fitted_columns(pipeline: Pipeline) -> list[str]:
    names = getattr(pipeline, "feature_names_in_", None)
    if names is None:
        raise RatchetError("the base model records no input columns (feature_names_in_)")
    return [str(n) for n in names]


def score_pair(
    base_model: Pipeline,
    base_contract: Contract,
    new_model: Pipeline,
    new_contract: Contract,
    test: pd.DataFrame,
    base_train: pd.DataFrame,
    hook_same: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | str:
    """(y, base predictions, new predictions, test rows) on the shared rows; or why not.

    Pure: models and tables in. Each model reads its own fitted columns of this change's
    feature table, provided the base's are computed the same way here.
    """
    base_cols, new_cols = fitted_columns(base_model), fitted_columns(new_model)
    why = shared_rows.feature_mismatch(base_contract, new_contract, base_cols, hook_same)
    if why:
        return why
    missing = [c for c in base_cols if c not in test]
    if missing:
        return f"this change's test split has no column {missing[0]!r} the base model reads"
    keys = shared_rows.key_columns(base_contract, new_contract, base_train, test)
    rows = test[shared_rows.unseen(test, base_train, keys)]
    if rows.empty:
        return "every test row was in the base's train split"
    y = rows[new_contract.target].to_numpy()
    task = new_contract.task
    y = y.astype("float64") if task == "regression" else y.astype("int64")
    return (
        y,
        predictions(base_model, rows[base_cols], task),
        predictions(new_model, rows[new_cols], task),
        len(test),
    )


def pairable(gate: GateParams, task: str, classes: int, threshold: float) -> list[str]:
    """The gated metrics an interval can be put on (others keep the point comparison)."""
    known = interval_metrics.for_task(task, classes, threshold)
    return [name for name in gate.rules if name in known]


def pair(
    base_sha: str, gate: GateParams, current_params: dict[str, Any], params_path: str
) -> Pairing:
    """The paired comparison of the base commit's model with this change's (I/O shell)."""
    new_contract = contract.current()
    dvc_yaml = params.parse_yaml(_read(baseline.DVC_YAML) or "", baseline.DVC_YAML)
    paths = baseline.pipeline_paths(dvc_yaml, baseline.DVC_YAML)
    new_model = model.load(paths.model)
    test = io.read_parquet(paths.test)
    try:
        found = baseline.fetch(base_sha)
    except RatchetError as exc:
        return Pairing(note=f"no base model ({exc})")
    base_model = model.from_bytes(found.model, f"{base_sha[:7]}:{paths.model}")
    base_contract = model.contract_for(base_model)
    hook = base_contract.spec.hook
    hook_same = bool(hook) and gitrev.show(base_sha, hook) == _read(hook)
    scored = score_pair(
        base_model, base_contract, new_model, new_contract, test, found.train, hook_same
    )
    if isinstance(scored, str):
        return Pairing(note=scored)
    y, base, new, test_rows = scored
    threshold = params.parse_section(
        "evaluate", EvaluateParams, current_params, params_path
    ).threshold if new_contract.task == "binary" else 0.5  # fmt: skip
    classes = base.shape[1] if base.ndim == 2 else 2
    names = pairable(gate, new_contract.task, classes, threshold)
    deltas = intervals.paired_deltas(
        names, new_contract.task, y, base, new, replicates=gate.replicates,
        seed=gate.seed, threshold=threshold, confidence=gate.confidence,
    )  # fmt: skip
    return Pairing(
        deltas={d.metric: d for d in deltas},
        rows=len(y),
        test_rows=test_rows,
        source=found.source,
        seconds=found.seconds,
    )


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None
