"""The dataset contract: the one file that knows the user's dataset.

`dataset/contract.yaml` names the target, the id and the task, says how to read raw cells
(missing-value tokens, trimming, label mapping), types and bounds every column, states the
dataset-level expectations with their reasons and declares engineered features as
expressions. The pandera schema, the model's column roles, the service's request model,
smoke-test rows and the drift columns are all derived from it; no Python names a column.

It is a file of its own rather than a section of params.yaml: `ratchet init` writes and
rewrites it whole, a registered model carries it byte for byte, and the stages that read
it list it as a DVC dependency, so editing it reruns exactly those stages.

This module is pure: `parse(mapping)` checks a loaded YAML document and returns a
`Contract`; `load(path)` adds the file reading. Every error is one line naming the key.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ratchet.core.errors import RatchetError
from ratchet.dataset import expressions

CONTRACT_FILE = "dataset/contract.yaml"
ENV_VAR = "RATCHET_CONTRACT"  # another contract file, e.g. for a second dataset

Task = Literal["binary", "multiclass", "regression"]
ColumnType = Literal["integer", "float", "category", "boolean", "text", "datetime"]
Role = Literal["feature", "ignore", "id", "target"]
# Dataset-level checks: measure(column) must lie in [min, max].
MEASURES = (
    "mean", "median", "null_share", "unique_share", "label_rate", "min", "max", "std", "distinct",
    "min_class_share", "max_class_share", "zero_share",
)  # fmt: skip
_QUANTILE = re.compile(r"^p(\d{1,2})$")  # p5, p95: quantiles
TASKS_BUILT = ("binary", "multiclass", "regression")  # tasks the pipeline trains today
MAX_CLASSES = 50  # a multiclass target with more distinct values is probably the wrong column


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    type: ColumnType
    role: Role = "feature"
    nullable: bool = False
    min: int | float | None = None  # int stays int: checks and reports show 18, not 18.0
    max: int | float | None = None
    categories: list[str] | None = None  # category: the allowed values
    unknown: str | None = None  # category: map values outside `categories` to this bucket
    pattern: str | None = None  # text/id: a regular expression every value matches
    unique: bool = False
    example: int | float | str | bool | None = None  # shown in the service's API docs
    why: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        if (self.min is not None or self.max is not None) and self.type not in ("integer", "float"):
            raise ValueError(f"min/max apply to integer and float columns, not {self.type}")
        if self.type == "category":
            if not self.categories:
                raise ValueError("a category column needs `categories` (the allowed values)")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("`categories` lists a value twice")
            if self.unknown is not None and self.unknown in self.categories:
                raise ValueError(f"`unknown` bucket {self.unknown!r} is also a category")
        elif self.categories is not None or self.unknown is not None:
            raise ValueError("`categories`/`unknown` apply to category columns only")
        if self.pattern is not None:
            if self.type != "text":
                raise ValueError("`pattern` applies to text columns only")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"`pattern` is not a regular expression ({exc})") from None
        if self.example is not None and not _allows(self, self.example):
            raise ValueError(f"`example` {self.example!r} breaks the column's own rules")
        return self


class ExpectationSpec(_Strict):
    column: str  # a column, or "table"
    check: str  # one of MEASURES, or pNN for a quantile
    min: float | None = None
    max: float | None = None
    why: str

    @model_validator(mode="after")
    def _bounded(self) -> ExpectationSpec:
        if self.check not in MEASURES and not _QUANTILE.match(self.check):
            raise ValueError(
                f"unknown check {self.check!r}; use one of {', '.join(MEASURES)} or pNN"
            )
        if self.min is None and self.max is None:
            raise ValueError("needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


class ContractSpec(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    task: Task
    target: str
    id: str | None = None
    # raw label -> class number, e.g. {"Yes": 1, "No": 0}; multiclass: the sorted class
    # names numbered 0, 1, 2, ...; regression: none (the target is a number)
    labels: dict[str, int] | None = None
    missing: list[str] = [""]  # cells read as missing, compared after trimming
    trim: bool = True  # strip spaces around text cells
    columns: Annotated[dict[str, ColumnSpec], Field(min_length=1)]
    expectations: list[ExpectationSpec] = []
    features: dict[str, str] = {}  # name -> expression over columns
    hook: str | None = None  # optional Python module with `features(frame) -> dict`


@dataclass(frozen=True)
class Contract:
    """A checked contract, with the roles resolved and the feature expressions parsed."""

    spec: ContractSpec
    features: dict[str, expressions.Expression] = field(default_factory=dict)
    path: str = CONTRACT_FILE
    text: str = ""  # the YAML source: what a trained model carries

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task(self) -> str:
        return self.spec.task

    @property
    def target(self) -> str:
        return self.spec.target

    @property
    def id(self) -> str | None:
        return self.spec.id

    @property
    def columns(self) -> dict[str, ColumnSpec]:
        return self.spec.columns

    def with_role(self, *roles: str) -> list[str]:
        return [name for name, c in self.columns.items() if c.role in roles]

    @property
    def inputs(self) -> list[str]:
        """Columns a scoring request carries: the id (if any) and the raw features."""
        return self.with_role("id", "feature")

    @property
    def raw_features(self) -> list[str]:
        return self.with_role("feature")

    @property
    def categorical(self) -> dict[str, tuple[str, ...]]:
        """Category features and their categories (plus the unknown bucket, if open)."""
        out = {}
        for name in self.raw_features:
            c = self.columns[name]
            if c.type == "category":
                out[name] = (*c.categories, *([c.unknown] if c.unknown is not None else []))
        return out

    @property
    def text_columns(self) -> list[str]:
        """Columns read as text: ids, categories, free text (never parsed as numbers)."""
        return [n for n, c in self.columns.items() if c.type in ("text", "category", "boolean")]

    @property
    def engineered(self) -> tuple[str, ...]:
        return tuple(self.features)

    def example_record(self) -> dict[str, Any] | None:
        """A request record for the API docs: each column's `example`, else a value its
        rules allow; None when a column needs an example the rules cannot give (a pattern)."""
        record: dict[str, Any] = {}
        for name in self.inputs:
            c = self.columns[name]
            value = c.example if c.example is not None else _allowed_value(c)
            if value is None and not c.nullable:
                return None
            record[name] = value
        return record

    @property
    def class_names(self) -> tuple[str, ...]:
        """Classification: each class number's raw label, in class order."""
        if self.spec.labels:
            return tuple(k for k, _ in sorted(self.spec.labels.items(), key=lambda kv: kv[1]))
        return ("0", "1")

    @property
    def label_values(self) -> tuple[int, ...]:
        if self.spec.labels:
            return tuple(sorted(set(self.spec.labels.values())))
        return (0, 1)


def _allows(c: ColumnSpec, value: Any) -> bool:
    """Whether `value` passes the column's type and rules (for its `example`)."""
    if c.type in ("integer", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if c.type == "integer" and value != int(value):
            return False
        return (c.min is None or value >= c.min) and (c.max is None or value <= c.max)
    if c.type == "boolean":
        return isinstance(value, bool)
    if not isinstance(value, str):
        return False
    if c.type == "category":
        return value in c.categories or c.unknown is not None
    return c.pattern is None or re.fullmatch(c.pattern, value) is not None


def _allowed_value(c: ColumnSpec) -> Any:
    if c.type == "category":
        return c.categories[0]
    if c.type == "boolean":
        return False
    if c.type in ("integer", "float"):
        low = c.min if c.min is not None else (0 if c.max is None or c.max >= 0 else c.max)
        high = c.max if c.max is not None else low
        middle = (low + high) / 2
        # Six significant digits: the docs show 0.15, not 0.15000000000000002.
        return int(middle) if c.type == "integer" else float(f"{middle:.6g}")
    if c.type == "text" and c.pattern is None:
        return "example"
    return None  # datetime, or text that must match a pattern


def parse(document: Any, where: str = CONTRACT_FILE, text: str | None = None) -> Contract:
    """Check a loaded YAML document; one line naming the key for the first problem."""
    if not isinstance(document, Mapping):
        raise RatchetError(f"{where}: expected a mapping of keys, got {type(document).__name__}")
    try:
        spec = ContractSpec.model_validate(dict(document))
    except ValidationError as exc:
        raise RatchetError(f"{where}: {_first_error(exc)}") from None
    _check_roles(spec, where)
    known = frozenset(spec.columns) - {spec.target}
    features: dict[str, expressions.Expression] = {}
    for name, formula in spec.features.items():
        key = f"{where}: 'features.{name}'"
        if name in spec.columns:
            raise RatchetError(f"{key}: a column of the data has this name already")
        parsed = expressions.parse(formula, known | frozenset(features), key)
        for used in parsed.columns:
            role = spec.columns[used].role if used in spec.columns else "feature"
            if role != "feature":
                raise RatchetError(f"{key}: uses '{used}', whose role is {role}, not feature")
            if used in spec.columns and spec.columns[used].type not in (
                "integer",
                "float",
                "boolean",
            ):
                raise RatchetError(
                    f"{key}: uses '{used}', a {spec.columns[used].type} column; "
                    "expressions work on numbers"
                )
        features[name] = parsed
    for i, e in enumerate(spec.expectations):
        if e.column != "table" and e.column not in spec.columns:
            raise RatchetError(f"{where}: 'expectations[{i}].column': unknown column {e.column!r}")
        if e.check == "label_rate" and (e.column != spec.target or spec.task != "binary"):
            raise RatchetError(
                f"{where}: 'expectations[{i}].check': label_rate applies to a binary target only"
            )
        if e.check.endswith("_class_share") and (
            e.column != spec.target or spec.task == "regression"
        ):
            raise RatchetError(
                f"{where}: 'expectations[{i}].check': {e.check} applies to a class target only"
            )
    if text is None:
        text = yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True)
    return Contract(spec=spec, features=features, path=where, text=text)


@functools.lru_cache(maxsize=16)
def from_text(text: str, where: str) -> Contract:
    """Parse a contract from its YAML source (e.g. the one a model file carries)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        raise RatchetError(f"{where}: the dataset contract is not valid YAML") from None
    return parse(document, where, text)


def _check_roles(spec: ContractSpec, where: str) -> None:
    if spec.target not in spec.columns:
        raise RatchetError(f"{where}: 'target': {spec.target!r} is not among the columns")
    target = spec.columns[spec.target]
    if spec.id is not None:
        if spec.id not in spec.columns:
            raise RatchetError(f"{where}: 'id': {spec.id!r} is not among the columns")
        if spec.id == spec.target:
            raise RatchetError(f"{where}: 'id': the id cannot be the target")
    if target.role not in ("target", "feature"):
        raise RatchetError(f"{where}: 'columns.{spec.target}.role': the target's role is target")
    for name, column in spec.columns.items():
        if column.role == "target" and name != spec.target:
            raise RatchetError(
                f"{where}: 'columns.{name}.role': only '{spec.target}' is the target"
            )
        if column.role == "id" and name != spec.id:
            raise RatchetError(f"{where}: 'columns.{name}.role': only the `id` column has role id")
    if spec.task not in TASKS_BUILT:
        raise RatchetError(
            f"{where}: 'task': {spec.task} is not supported yet (supported: "
            f"{', '.join(TASKS_BUILT)})"
        )
    if spec.task == "binary":
        mapped = sorted(set(spec.labels.values())) if spec.labels else None
        if mapped is not None and mapped != [0, 1]:
            raise RatchetError(
                f"{where}: 'labels': a binary task maps labels to 0 and 1, got {mapped}"
            )
    elif spec.task == "multiclass":
        _check_classes(spec, where)
    elif spec.labels is not None:
        raise RatchetError(f"{where}: 'labels': a regression target is a number; no labels")
    elif target.type not in ("integer", "float"):
        raise RatchetError(
            f"{where}: 'columns.{spec.target}.type': a regression target is integer or float, "
            f"not {target.type}"
        )
    if not [n for n, c in spec.columns.items() if c.role == "feature"]:
        raise RatchetError(f"{where}: 'columns': no column has role feature")


def class_key(name: str) -> str:
    """A class name as part of a column or metric name: lower case, other runs as _."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_") or "class"


def _check_classes(spec: ContractSpec, where: str) -> None:
    """Multiclass: `labels` numbers every class 0, 1, 2, ... (at least 3, at most MAX_CLASSES)."""
    if not spec.labels:
        raise RatchetError(
            f"{where}: 'labels': a multiclass task lists its classes, e.g. "
            "{setosa: 0, versicolor: 1, virginica: 2}"
        )
    numbers = sorted(spec.labels.values())
    if numbers != list(range(len(numbers))):
        raise RatchetError(
            f"{where}: 'labels': number the classes 0 to {len(numbers) - 1}, each once; "
            f"got {numbers}"
        )
    if len(numbers) < 3:
        raise RatchetError(
            f"{where}: 'labels': {len(numbers)} classes; a multiclass task has 3 or more "
            "(two classes: task binary)"
        )
    keys: dict[str, str] = {}
    for name in spec.labels:
        # Per-class metrics and score columns are named by this key (precision_<key>).
        key = class_key(name)
        if key in keys:
            raise RatchetError(
                f"{where}: 'labels': classes {keys[key]!r} and {name!r} would share the "
                f"column name '{key}' (metrics and scores are named by class); rename one"
            )
        keys[key] = name
    if len(numbers) > MAX_CLASSES:
        raise RatchetError(
            f"{where}: 'labels': {len(numbers)} classes in '{spec.target}' (at most "
            f"{MAX_CLASSES}); is it the right target column?"
        )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"'{key}': unknown key"
    if error["type"] == "missing":
        return f"'{key}': missing key"
    value = error.get("input")
    shown = "" if isinstance(value, Mapping | list) else f", got {value!r}"
    return f"'{key}': {message}{shown}" if key else message


def default_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or CONTRACT_FILE)


def load(path: str | os.PathLike | None = None) -> Contract:
    """Read and check the contract file (default: dataset/contract.yaml, or $RATCHET_CONTRACT)."""
    p = Path(path) if path is not None else default_path()
    try:
        text = p.read_text(encoding="utf-8")
        document = yaml.safe_load(text)
    except FileNotFoundError:
        raise RatchetError(
            f"{p}: dataset contract not found (create it with `ratchet init --from FILE "
            "--target COLUMN`)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RatchetError(f"{p}: cannot read the dataset contract ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RatchetError(f"{p}: not valid YAML{at}") from None
    return parse(document, str(p), text)


_active: list[Contract] = []  # set by `use`: a registered model's contract, or a test's
_loaded: dict[tuple[str, int], Contract] = {}


def current() -> Contract:
    """The contract in force: the one `use` set, else the project's file (read once)."""
    if _active:
        return _active[-1]
    p = default_path().resolve()
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        stamp = -1
    key = (str(p), stamp)
    if key not in _loaded:
        _loaded.clear()
        _loaded[key] = load(default_path())
    return _loaded[key]


def activate(c: Contract) -> Contract:
    """Make `c` the contract in force for the rest of the process (e.g. a test session)."""
    _active.insert(0, c)  # below any `use` block already open
    return c


@contextlib.contextmanager
def use(c: Contract) -> Iterator[Contract]:
    """Make `c` the contract in force inside the block (nested blocks stack)."""
    _active.append(c)
    try:
        yield c
    finally:
        _active.pop()
