"""Typed access to params.yaml.

Each stage asks only for the sections dvc.yaml lists for it, so a stage cannot quietly
depend on a knob DVC does not track. Types and ranges are checked here, once, so a typo
in params.yaml fails with the key's dotted name instead of deep inside scikit-learn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ratchet.core.errors import RatchetError

PARAMS_FILE = "params.yaml"

Probability = Annotated[float, Field(gt=0.0, lt=1.0)]


class _Section(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored default.
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


class SampleParams(_Section):
    rows: Annotated[int, Field(ge=100, le=100_000_000)]
    seed: int
    drift: bool = False


class ValidateParams(_Section):
    rows_min: Annotated[int, Field(ge=1)]
    rows_max: Annotated[int, Field(ge=1)]
    allow_extra_columns: list[str] = []
    policy: dict[str, Literal["error", "warn"]] = {}

    @model_validator(mode="after")
    def _rows_in_order(self) -> ValidateParams:
        if self.rows_min > self.rows_max:
            raise ValueError(f"rows_min ({self.rows_min}) is above rows_max ({self.rows_max})")
        return self


class FeaturizeParams(_Section):
    test_size: Probability  # random split: share of rows held out for evaluation
    seed: int
    # random: seeded (stratified) test rows; time: rows after `cutoff` are the test set.
    split: Literal["random", "time"] = "random"
    time_column: str | None = None  # split: time; a datetime column of the contract
    cutoff: str | None = None  # split: time; ISO date or timestamp, e.g. 2025-07-01
    # Model selection never sees the test rows: a holdout carved from the non-test rows, or
    # k-fold cross-validation on the train rows (done by the train stage).
    validation: Literal["holdout", "cv"] = "holdout"
    valid_size: Probability = 0.2  # holdout: share of the non-test rows
    folds: Annotated[int, Field(ge=2, le=20)] = 5  # cv: number of folds


class TrainParams(_Section):
    estimator: Literal["hist_gradient_boosting", "logistic_regression", "ridge"]
    seed: int
    learning_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    max_iter: Annotated[int, Field(ge=1)]
    max_depth: Annotated[int, Field(ge=1)] | None
    max_leaf_nodes: Annotated[int, Field(ge=2)]
    min_samples_leaf: Annotated[int, Field(ge=1)]
    l2_regularization: Annotated[float, Field(ge=0.0)]
    C: Annotated[float, Field(gt=0.0)]
    class_weight: Literal["balanced"] | None


# Each task's linear baseline: logistic regression classifies, ridge (alpha = 1 / C) regresses.
LINEAR = {"binary": "logistic_regression", "multiclass": "logistic_regression",
          "regression": "ridge"}  # fmt: skip


def task_mismatch(p: TrainParams, task: str) -> str | None:
    """Why these train params cannot train a `task` model (naming the key), else None.

    Checked by the train stage and, before anything is queued, by a sweep's grid check."""
    if p.estimator not in ("hist_gradient_boosting", LINEAR[task]):
        return (
            f"'train.estimator': {p.estimator} does not fit a {task} task "
            f"(use hist_gradient_boosting or {LINEAR[task]})"
        )
    if task == "regression" and p.class_weight is not None:
        return "'train.class_weight': applies to classification; null for regression"
    return None


class EvaluateParams(_Section):
    threshold: Probability
    importance_repeats: Annotated[int, Field(ge=1, le=100)]
    importance_rows: Annotated[int, Field(ge=100)] = 10_000
    calibration_bins: Annotated[int, Field(ge=2, le=100)]
    seed: int


class RegistryParams(_Section):
    stages: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]], Field(min_length=1)
    ]
    branch: str
    default_bump: Literal["major", "minor", "patch"]
    remote: str

    @model_validator(mode="after")
    def _unique_stages(self) -> RegistryParams:
        if len(set(self.stages)) != len(self.stages):
            raise ValueError(f"stages must be unique, got {self.stages}")
        return self


class ShadowParams(_Section):
    """`ratchet shadow`; no pipeline stage reads it."""

    top: Annotated[int, Field(ge=0, le=1000)]
    min_agreement: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # Regression: predictions at most this far apart (target units) agree; None: automatic.
    tolerance: Annotated[float, Field(ge=0.0)] | None = None


class MetricRule(_Section):
    """One metric's rule in the merge gate."""

    direction: Literal["higher", "lower"]
    min: float | None = None  # absolute floor
    max: float | None = None  # absolute ceiling
    max_regression: Annotated[float, Field(ge=0.0)] | None = None  # in the metric's units
    max_relative_regression: Annotated[float, Field(ge=0.0)] | None = None  # share of base


class GateParams(_Section):
    metrics: str
    primary: str
    rules: Annotated[dict[str, MetricRule], Field(min_length=1)]
    # paired: both models scored on the same unseen rows, and a regression fails only when
    # its interval shows it is not noise; point: committed metrics, compared as numbers.
    compare: Literal["paired", "point"] = "paired"
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    replicates: Annotated[int, Field(ge=100, le=100_000)] = 1000
    seed: int = 0


class SweepParams(_Section):
    """Default grids of `make sweep` and the sweep workflow; no pipeline stage reads them."""

    # Each grid: dotted params key -> values to try (checked in ratchet.sweep).
    grids: Annotated[
        list[Annotated[dict[str, list[str | int | float | bool | None]], Field(min_length=1)]],
        Field(min_length=1),
    ]


class ReportParams(_Section):
    plots: list[str]
    publish_images: bool


class MonitorParams(_Section):
    current: str
    drift_share: Annotated[float, Field(gt=0.0, le=1.0)]
    method: str | None = None
    threshold: Annotated[float, Field(gt=0.0)] | None = None
    per_column_method: dict[str, str] = {}
    per_column_threshold: dict[str, Annotated[float, Field(gt=0.0)]] = {}
    ignore_columns: list[str] = []
    prediction_threshold: Annotated[float, Field(gt=0.0)]
    reference_rows: Annotated[int, Field(ge=100)]
    current_rows: Annotated[int, Field(ge=100)]
    seed: int


class ServeParams(_Section):
    """`ratchet serve`, the REST service; no pipeline stage reads them."""

    max_batch: Annotated[int, Field(ge=1, le=100_000)]
    max_body_bytes: Annotated[int, Field(ge=1_024)] | None = None  # None: from max_batch
    read_timeout: Annotated[float, Field(gt=0, le=3_600)] = 10.0
    host: str
    port: Annotated[int, Field(ge=1, le=65_535)]
    workers: Annotated[int, Field(ge=1, le=64)] = 1


SECTIONS: dict[str, type[_Section]] = {
    "sample": SampleParams,
    "validate": ValidateParams,
    "featurize": FeaturizeParams,
    "train": TrainParams,
    "evaluate": EvaluateParams,
    "registry": RegistryParams,
    "monitor": MonitorParams,
    "gate": GateParams,
    "report": ReportParams,
    "sweep": SweepParams,
    "serve": ServeParams,
}

S = TypeVar("S", bound=_Section)


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RatchetError(f"{p}: file not found (run from the repository root)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RatchetError(f"{p}: cannot read ({exc})") from None
    return parse_yaml(text, p)


def parse_yaml(text: str, source: Any) -> dict[str, Any]:
    """A params document from text; `source` names it in errors (a path, or REV:path)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RatchetError(f"{source}: not valid YAML ({_one_line(exc)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RatchetError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
    return data


def section(name: str, model: type[S], path: str | os.PathLike = PARAMS_FILE) -> S:
    """Load and check one section of params.yaml."""
    return parse_section(name, model, read_yaml(path), path)


def parse_section(name: str, model: type[S], data: dict[str, Any], path: Any = PARAMS_FILE) -> S:
    if name not in data:
        raise RatchetError(f"{path}: missing section '{name}'")
    raw = data[name]
    if not isinstance(raw, dict):
        raise RatchetError(f"{path}: '{name}' must be a mapping, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join([name, *(str(p) for p in err["loc"])])
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        if err["type"] == "missing":
            raise RatchetError(f"{path}: missing key '{key}'{more}") from None
        if err["type"] == "extra_forbidden":
            raise RatchetError(f"{path}: unknown key '{key}'{more}") from None
        got = err.get("input")
        raise RatchetError(f"{path}: '{key}' {err['msg'].lower()}, got {got!r}{more}") from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
