"""`ratchet init`: draft the dataset contract from the user's file and wire it into the pipeline.

Core (pure, no file I/O): `draft(frame, target, id)` infers a contract document from a table
read as text; `render` writes it as commented YAML; `changes` lists what differs from an
existing contract. `ratchet.wiring` edits dvc.yaml and params.yaml.

Shell (`command`): reads the file, checks the draft against it (the validate stage must pass
on the file it was drafted from), then copies the file to data/raw/, writes the contract,
dvc.yaml and params.yaml (each first to a temporary file, then moved into place) and
`dvc add`s the copy. If any step fails, the previous files are put back.

Everything inferred is a guess from one file: the printout and the contract's header say
what to review (the positive class, ranges, categories, the id, expectations, gate rules).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, rawdata, validation, wiring
from ratchet.dataset.contract import CONTRACT_FILE
from ratchet.dataset.wiring import DVC_FILE, SAMPLE_STAGE, replace_all, stage

RAW_DIR = "data/raw"

# Cells that mean "no value" in most exports. The strong ones are never real data; the weak
# ones ("None", "-") can be a real category, so they count only where every other cell of
# the column is a number or a date.
MISSING_STRONG = ("", "?", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "#N/A")
MISSING_WEAK = ("na", "None", "none", "Null", "-", "--")
# Label values that name the class one usually predicts (checked case-insensitively).
POSITIVE_WORDS = frozenset(
    {
        "yes", "y", "true", "t", "positive", "pos", "churn", "churned", "default",
        "defaulted", "fraud", "fraudulent", "spam", "malignant", "sick", "disease", "abnormal",
        "fail", "failed", "failure", "bad", "left", "cancelled", "canceled", "attrited",
        "converted", "clicked", "bought", "won",
    }
)  # fmt: skip
ID_NAME = re.compile(r"(^|[_\s.-])(id|key|uuid|guid)$|^(id|key)[_\s.-]|[a-z](Id|ID|Key)$", re.I)
MAX_CATEGORIES = 50  # more distinct text values than this is free text, not a category
NUMERIC_CLASSES = 20  # a whole-number target with more distinct values is a regression target
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$")
RANGE_MARGIN = 0.25  # observed ranges are widened by this share of their span on each side


@dataclass(frozen=True)
class _Profile:
    """One column as the file shows it: its inferred type and its non-missing values."""

    kind: str  # integer, float, datetime, text, category-bool, empty
    values: pd.Series  # non-missing values, typed (numbers, datetimes) or trimmed text
    nulls: int


# ---------------------------------------------------------------------------------------
# Core: inference


def missing_tokens(frame: pd.DataFrame) -> list[str]:
    """The missing-value tokens the file uses ("" always: a blank or all-space cell)."""
    seen = {""}
    for column in frame.columns:
        text = _trimmed(frame[column])
        if text is None:
            continue
        present = set(text.dropna().unique())
        seen |= present & set(MISSING_STRONG)
        weak = present & set(MISSING_WEAK)
        if weak:
            rest = text[~text.isin([*MISSING_STRONG, *weak])].dropna()
            if len(rest) and (_numbers(rest) is not None or _dates(rest) is not None):
                seen |= weak
    return [t for t in (*MISSING_STRONG, *MISSING_WEAK) if t in seen]


def _trimmed(values: pd.Series) -> pd.Series | None:
    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return None
    return values.astype("string").str.strip()


def _numbers(text: pd.Series) -> pd.Series | None:
    """The values as numbers, if every one is a finite number; else None."""
    parsed = pd.to_numeric(text, errors="coerce")
    if parsed.isna().any() or not parsed.map(math.isfinite).all():
        return None
    return parsed


def _dates(text: pd.Series) -> pd.Series | None:
    """The values as datetimes, if all are ISO dates or all ISO date-times (one format)."""
    for pattern in (DATE, DATETIME):
        if text.str.match(pattern).all():
            parsed = pd.to_datetime(text.str.replace("T", " "), errors="coerce")
            return None if parsed.isna().any() else parsed
    return None


def profile(values: pd.Series, missing: Iterable[str]) -> _Profile:
    text = _trimmed(values)
    if text is None:  # a typed Parquet column
        present = values.dropna()
        nulls = int(values.isna().sum())
        if pd.api.types.is_bool_dtype(values):
            return _Profile("category-bool", present.astype(str), nulls)
        if pd.api.types.is_datetime64_any_dtype(values):
            return _Profile("datetime", present, nulls)
        if pd.api.types.is_integer_dtype(values):
            return _Profile("integer", present.astype("int64"), nulls)
        if pd.api.types.is_numeric_dtype(values):
            finite = present[present.map(math.isfinite)]
            integral = len(finite) == len(present) and (finite % 1 == 0).all()
            kind = "float" if not integral or not len(present) else "integer"
            return _Profile(kind, present, nulls)
        text = values.astype("string").str.strip()
    cleaned = text.mask(text.isin(list(missing)))
    present = cleaned.dropna()
    nulls = int(cleaned.isna().sum())
    if present.empty:
        return _Profile("empty", present, nulls)
    numbers = _numbers(present)
    if numbers is not None:
        integral = (numbers % 1 == 0).all() and not present.str.contains(r"[.eE]").any()
        return _Profile("integer" if integral else "float", numbers, nulls)
    dates = _dates(present)
    if dates is not None:
        return _Profile("datetime", dates, nulls)
    return _Profile("text", present, nulls)


def _observed_ranges(profiles: dict[str, _Profile]) -> dict[str, tuple[Any, Any]]:
    """(min, max) of each number column, by pandera's schema inference on the typed values."""
    numeric = {
        name: p.values.reset_index(drop=True)
        for name, p in profiles.items()
        if p.kind in ("integer", "float") and len(p.values)
    }
    if not numeric:
        return {}
    inferred = pa.infer_schema(pd.DataFrame(numeric))
    ranges = {}
    for name, column in inferred.columns.items():
        stats = {}
        for check in column.checks:
            stats.update(check.statistics or {})
        ranges[name] = (stats.get("min_value"), stats.get("max_value"))
    return ranges


def widen(low: float, high: float, integer: bool) -> tuple[float, float]:
    """Observed [low, high] widened by a margin and rounded outward to a round step.

    Never below 0 when every value is >= 0 (and never above 0 when every value is <= 0).
    """
    span = high - low
    pad = span * RANGE_MARGIN if span > 0 else max(abs(high) * RANGE_MARGIN, 1.0)
    step = 10.0 ** math.floor(math.log10(pad))
    if integer:
        step = max(step, 1.0)
    lo = math.floor((low - pad) / step) * step
    hi = math.ceil((high + pad) / step) * step
    if low >= 0:
        lo = max(lo, 0.0)
    if high <= 0:
        hi = min(hi, 0.0)
    if integer:
        return int(lo), int(hi)
    digits = max(0, -math.floor(math.log10(step)))
    return _plain(round(lo, digits)), _plain(round(hi, digits))


def _plain(value: float) -> int | float:
    """34 rather than 34.0 in the contract (a float column accepts an integral bound)."""
    return int(value) if float(value).is_integer() else value


def positive_label(counts: pd.Series, numeric: bool) -> tuple[str, str]:
    """(positive value, the reason): a value that names the usual positive class, else the
    larger number (numeric labels), else the rarer value."""
    values = [str(v) for v in counts.index]
    if numeric:
        return max(values, key=float), "the larger number"
    named = [v for v in values if v.strip().lower() in POSITIVE_WORDS]
    if len(named) == 1:
        return named[0], "its name says it is the class to predict"
    chosen = sorted(values, key=lambda v: (counts[v], v))[0]
    return chosen, f"the rarer class, {counts[chosen] / counts.sum():.1%} of rows"


def _quantize(share: float, up: bool) -> float:
    digits = 2 if share >= 0.05 else 3
    scale = 10**digits
    value = math.ceil(share * scale - 1e-9) if up else math.floor(share * scale + 1e-9)
    return round(min(max(value / scale, 0.0), 1.0), digits)


def label_bounds(rate: float) -> tuple[float, float]:
    """Half to double the observed odds of the positive class."""
    if rate <= 0 or rate >= 1:
        return 0.0, 1.0
    odds = rate / (1 - rate)
    low, high = odds / 2, odds * 2
    return _quantize(low / (1 + low), up=False), _quantize(high / (1 + high), up=True)


def null_ceiling(share: float) -> float:
    return _quantize(min(1.0, max(share * 2, share + 0.05)), up=True)


def dataset_name(path: str | os.PathLike) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", Path(path).stem.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"data-{name}".rstrip("-")
    return name


def draft(
    frame: pd.DataFrame,
    target: str,
    id: str | None = None,
    *,
    task: str | None = None,
    name: str = "dataset",
    source: str = "the file",
) -> dict[str, Any]:
    """A contract document inferred from `frame` (CSV cells as text, or a typed Parquet table).

    task None: inferred from the target (see `infer_task`). Raises RatchetError for a
    target or id the data cannot support.
    """
    columns = [str(c) for c in frame.columns]
    if target not in columns:
        raise RatchetError(f"{source}: --target {target!r} is not a column ({_listed(columns)})")
    if id is not None and id not in columns:
        raise RatchetError(f"{source}: --id {id!r} is not a column ({_listed(columns)})")
    if id is not None and id == target:
        raise RatchetError(f"{source}: --id and --target name the same column {id!r}")
    rows = len(frame)
    missing = missing_tokens(frame)
    profiles = {c: profile(frame[c], missing) for c in columns}

    task = task or infer_task(profiles[target], target, source)
    if task == "regression":
        labels, target_spec, first = _regression_target(profiles[target], target, source)
    elif task == "multiclass":
        labels, target_spec, first = _multiclass_target(profiles[target], target, source)
    else:
        labels, target_spec, positive = _target(profiles[target], target, source)
        first = [_label_rate(profiles[target], target, labels, positive)]
    if id is not None:
        p = profiles[id]
        if p.nulls or p.values.duplicated().any():
            dupes = int(p.values.duplicated().sum())
            raise RatchetError(
                f"{source}: --id {id!r} is not unique ({dupes} repeated values, "
                f"{p.nulls} missing); an id names one row"
            )
    else:
        id = next((c for c in columns if c != target and _looks_like_id(c, profiles[c])), None)

    ranges = _observed_ranges({c: p for c, p in profiles.items() if c not in (id, target)})
    specs: dict[str, dict[str, Any]] = {}
    for column in columns:
        p = profiles[column]
        if column == target:
            specs[column] = target_spec
        elif column == id:
            kind = "integer" if p.kind == "integer" else "text"
            specs[column] = {"type": kind, "role": "id", "why": "one value per row; not a feature"}
        else:
            specs[column] = _column_spec(p, rows, ranges.get(column))

    expectations = list(first)
    if id is not None:
        expectations.append(
            {"column": id, "check": "unique_share", "min": 1.0,
             "why": "one row per id; a repeated id means duplicated rows or a broken join"}
        )  # fmt: skip
    for column, spec in specs.items():
        if spec.get("nullable") and spec.get("role", "feature") == "feature":
            share = profiles[column].nulls / rows
            ceiling = null_ceiling(share)
            expectations.append(
                {"column": column, "check": "null_share", "max": ceiling,
                 "why": f"{share:.1%} missing in {source}; more than {ceiling:.0%} means a "
                        "broken source (inferred: review)"}
            )  # fmt: skip
    document = {
        "name": name,
        "task": task,
        "target": target,
        "id": id,
        "labels": labels,
        "missing": missing,
        "trim": True,
        "columns": specs,
        "expectations": expectations,
        "features": {},
    }
    if not any(s.get("role", "feature") == "feature" for s in specs.values()):
        raise RatchetError(f"{source}: no column can be a feature (all are ids, ignored or empty)")
    return document


def _listed(columns: list[str]) -> str:
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return f"columns: {shown}"


def _looks_like_id(column: str, p: _Profile) -> bool:
    if p.kind not in ("text", "integer") or p.nulls or p.values.duplicated().any():
        return False
    return bool(ID_NAME.search(column))


def _target(p: _Profile, target: str, source: str):
    if p.nulls:
        raise RatchetError(
            f"{source}: target {target!r} is missing in {p.nulls} rows; drop or fill those "
            "rows first (a row without a label cannot train or test)"
        )
    counts = p.values.astype(str).value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else "nothing"
        raise RatchetError(
            f"{source}: target {target!r} has one value only ({only!r}); a binary model needs two"
        )
    if len(counts) > 2:
        raise RatchetError(
            f"{source}: target {target!r} has {len(counts)} values "
            f"({_listed([str(v) for v in counts.index]).removeprefix('columns: ')}); "
            "task binary needs two (--task multiclass or regression?)"
        )
    numeric = p.kind in ("integer", "float")
    values = sorted(str(v) for v in counts.index)
    if p.kind == "integer" and sorted(int(v) for v in p.values.unique()) == [0, 1]:
        return None, {"type": "integer", "role": "target", "why": "binary label, 1 = positive"}, "1"
    positive, why = positive_label(counts, numeric)
    negative = next(v for v in values if v != positive)
    labels = {positive: 1, negative: 0}
    spec = {
        "type": "category",
        "role": "target",
        "categories": [positive, negative],
        "why": f"binary label, 1 = {positive!r}: {why} (inferred: review)",
    }
    return labels, spec, positive


def infer_task(p: _Profile, target: str, source: str) -> str:
    """binary for two values; regression for numbers with fractions or more than
    NUMERIC_CLASSES distinct values; else multiclass (3 to MAX_CATEGORIES classes)."""
    distinct = p.values.astype(str).nunique()
    if distinct <= 2:
        return "binary"
    if p.kind in ("integer", "float"):
        fractional = p.kind == "float" and not (p.values.astype(float) % 1 == 0).all()
        if fractional or distinct > NUMERIC_CLASSES:
            return "regression"
    if distinct > MAX_CATEGORIES:
        odd = _not_a_number(p)
        hint = (
            f" (mostly numbers but not {odd}: for regression, fix it or list it in `missing`)"
            if odd
            else ""
        )
        raise RatchetError(
            f"{source}: target {target!r} has {distinct} distinct text values; too many for "
            f"classes (at most {MAX_CATEGORIES}): is it the right column?{hint}"
        )
    return "multiclass"


def _not_a_number(p: _Profile) -> str | None:
    """The first value that is no number, in a column that is mostly numbers, e.g. "'n/a?'
    (row 7)"; None when most values are not numbers either."""
    numbers = pd.to_numeric(p.values, errors="coerce")
    if numbers.notna().mean() < 0.9 or numbers.notna().all():
        return None
    first = numbers.index[numbers.isna()][0]
    return f"{p.values[first]!r} (row {int(first) + 1})"  # 1 = the first data row


def _multiclass_target(p: _Profile, target: str, source: str):
    _no_missing(p, target, source)
    numeric = p.kind in ("integer", "float")
    values = p.values.astype(float) if numeric else p.values.astype(str)
    counts = values.value_counts()
    if len(counts) < 3:
        raise RatchetError(
            f"{source}: target {target!r} has {len(counts)} values; task multiclass needs 3 "
            "or more (two: task binary)"
        )
    if len(counts) > contract.MAX_CLASSES:
        raise RatchetError(
            f"{source}: target {target!r} has {len(counts)} distinct values; too many for "
            f"classes (at most {contract.MAX_CLASSES}): is it the right column?"
        )
    names = [_label_text(v) for v in sorted(counts.index)]
    labels = {name: i for i, name in enumerate(names)}
    spec = {
        "type": "category",
        "role": "target",
        "categories": names,
        "why": f"{len(names)} classes, numbered in sorted order (inferred: review)",
    }
    rarest, commonest = counts.min() / counts.sum(), counts.max() / counts.sum()
    expectations = [
        {"column": target, "check": "distinct", "min": len(names), "max": len(names),
         "why": f"every one of the {len(names)} classes is present; a missing class cannot be "
                "learned or tested"},
        {"column": target, "check": "min_class_share", "min": _quantize(rarest / 2, up=False),
         "why": f"the rarest class is {rarest:.1%} of rows in the drafted file; under half of "
                "that points to a broken label join or another population (inferred: review)"},
        {"column": target, "check": "max_class_share",
         "max": _quantize(min(1.0, commonest * 1.5), up=True),
         "why": f"the commonest class is {commonest:.1%} of rows in the drafted file; far more "
                "means the other classes went missing (inferred: review)"},
    ]  # fmt: skip
    return labels, spec, expectations


def _label_text(value: Any) -> str:
    return str(_plain(value)) if isinstance(value, float) else str(value)


def _regression_target(p: _Profile, target: str, source: str):
    _no_missing(p, target, source)
    if p.kind not in ("integer", "float"):
        odd = _not_a_number(p) or repr(p.values.iloc[0])
        raise RatchetError(
            f"{source}: target {target!r} is not numeric (e.g. {odd}); "
            "task regression predicts a number"
        )
    values = p.values.astype(float)
    integer = p.kind == "integer"
    low, high = widen(float(values.min()), float(values.max()), integer)
    spec = {
        "type": p.kind, "role": "target", "min": low, "max": high,
        "why": f"the number to predict, observed {values.min():g} to {values.max():g} "
               "(inferred: review)",
    }  # fmt: skip
    mean = float(values.mean())
    lo, hi = widen(min(float(values.quantile(0.25)), mean),
                   max(float(values.quantile(0.75)), mean), False)  # fmt: skip
    zeros = float((values == 0).mean())
    expectations = [
        {"column": target, "check": "mean", "min": lo, "max": hi,
         "why": f"mean {mean:g} in the drafted file; far outside its quartiles means a changed "
                "unit or another population (inferred: review)"},
        {"column": target, "check": "zero_share", "max": null_ceiling(zeros),
         "why": f"{zeros:.1%} of targets are 0 in the drafted file; many more means missing "
                "values written as 0 (inferred: review)"},
    ]  # fmt: skip
    return None, spec, expectations


def _no_missing(p: _Profile, target: str, source: str) -> None:
    if p.nulls:
        raise RatchetError(
            f"{source}: target {target!r} is missing in {p.nulls} rows; drop or fill those "
            "rows first (a row without a label cannot train or test)"
        )


def _label_rate(p: _Profile, target: str, labels: dict | None, positive: str) -> dict:
    text = p.values.astype(str)
    rate = float((text == positive).mean()) if labels else float(p.values.astype(float).mean())
    low, high = label_bounds(rate)
    return {
        "column": target, "check": "label_rate", "min": low, "max": high,
        "why": f"{rate:.1%} of rows are positive in the drafted file; outside this (half to "
               "double the odds) points to a broken label join or another population "
               "(inferred: review)",
    }  # fmt: skip


def _number(value: Any, integer: bool) -> int | float:
    return int(value) if integer else float(value)


def _column_spec(p: _Profile, rows: int, observed: tuple[Any, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    missing_note = f", {p.nulls / rows:.1%} missing" if p.nulls else ""
    if p.kind == "empty":
        return {"type": "text", "role": "ignore", "nullable": True,
                "why": "every cell is missing in the drafted file"}  # fmt: skip
    if p.kind in ("integer", "float"):
        integer = p.kind == "integer"
        spec["type"] = p.kind
        low, high = observed if observed else (p.values.min(), p.values.max())
        low, high = _number(low, integer), _number(high, integer)
        if p.nulls:
            spec["nullable"] = True
        if low == high:
            spec["role"] = "ignore"
            spec["why"] = f"one value ({low:g}) in every row: carries no signal{missing_note}"
            return spec
        spec["min"], spec["max"] = widen(low, high, integer)
        spec["why"] = f"observed {low:g} to {high:g}{missing_note} (inferred: review)"
        return spec
    if p.kind == "datetime":
        spec["type"] = "datetime"
        if p.nulls:
            spec["nullable"] = True
        spec["why"] = f"observed {p.values.min()} to {p.values.max()}{missing_note} (inferred)"
        return spec
    distinct = sorted(p.values.astype(str).unique())
    if p.nulls:
        spec["nullable"] = True
    if len(distinct) == 1:
        spec.update(type="text", role="ignore",
                    why=f"one value ({distinct[0]!r}) in every row: carries no signal")  # fmt: skip
        return spec
    if p.kind == "category-bool" or (
        len(distinct) <= MAX_CATEGORIES and len(distinct) <= max(2, len(p.values) // 2)
    ):
        spec["type"] = "category"
        spec["categories"] = distinct
        spec["why"] = f"the {len(distinct)} values seen{missing_note} (inferred: review)"
        return spec
    spec.update(
        type="text",
        role="ignore",
        why=f"free text, {len(distinct)} distinct values: the model reads no text (make it a "
        "category or drop it)",
    )
    return spec


# ---------------------------------------------------------------------------------------
# Core: the contract file


def _flow(value: Any) -> str:
    """One YAML value on one line (flow style), quoted where YAML needs it."""
    text = yaml.safe_dump(
        [value], default_flow_style=True, sort_keys=False, allow_unicode=True, width=10**9
    ).strip()
    return text[1:-1]


HEADER = """\
# The dataset contract: everything Ratchet knows about the data. The pipeline, the service,
# smoke tests and drift monitoring all derive from this file; no Python names a column.
# Drafted by `ratchet init` from {source} ({rows} rows) on {date}.
# Every value below was inferred from that one file; review it before you trust it:
{labels_note}#   - min/max: observed ranges widened by a margin; set the real limits of each column.
#   - categories: the values seen; add the ones this file lacks, or `unknown: other`.
#   - id and the ignored columns (role: ignore); nullable columns.
#   - expectations: bounds around what this file shows; set what a healthy extract is.
"""


def render(document: dict[str, Any], source: str, rows: int, date: str) -> str:
    """The contract as commented YAML (what `ratchet init` writes)."""
    task = document["task"]
    positive = next((k for k, v in (document["labels"] or {}).items() if v == 1), "1")
    labels_note = {
        "binary": f"#   - labels: is {positive!r} the class to predict (1)? "
        "Swap the 1 and 0 if not.\n",
        "multiclass": "#   - labels: every class, numbered 0, 1, 2, ...; "
        "add any this file lacks.\n",
        "regression": "#   - the target's min/max: the values it can really take.\n",
    }[task]
    labels_comment = {
        "binary": "raw label -> class; null = already 0/1",
        "multiclass": "raw label -> class number, one per class",
        "regression": "null: the target is a number",
    }[task]
    out = [
        HEADER.format(source=source, rows=rows, date=date, labels_note=labels_note),
        f"name: {_flow(document['name'])}  # lower-case name of the dataset (and of the model)",
        f"task: {task}  # binary, multiclass or regression",
        f"target: {_flow(document['target'])}  # the label column",
        f"id: {_flow(document['id'])}  # one row per id; never a feature (null if there is none)",
        f"labels: {_flow(document['labels'])}  # {labels_comment}",
        f"missing: {_flow(document['missing'])}  # cells read as missing (after trimming)",
        f"trim: {_flow(document['trim'])}  # strip spaces around text cells",
        "",
        "# Per column: type (integer, float, category, boolean, text, datetime), role (feature,",
        "# ignore, id, target), nullable, min/max, categories (closed; `unknown: other` maps any",
        "# other value to a bucket), pattern (text), and why: the reason, shown in reports.",
        "columns:",
    ]  # fmt: skip
    out += [f"  {_flow(n)}: {_flow(s)}" for n, s in document["columns"].items()]
    out += [
        "",
        "# What a healthy extract looks like as a whole: a breach usually means a broken join, a",
        "# changed unit or a partial export, not a bad row. check: mean, median, pNN (quantile),",
        "# min, max, std, null_share, unique_share, label_rate (binary target), min_class_share /",
        "# max_class_share (class target), zero_share. Policy (error or warn) is",
        '# per key "column.check" in params.yaml validate.policy; row counts live there too.',
        "expectations:",
    ]
    out += [f"  - {_flow(e)}" for e in document["expectations"]] or ["  []"]
    out += [
        "",
        "# Engineered features: name -> expression over feature columns. Numbers, columns,",
        "# + - * / // % **, comparisons, & | ~, `a if cond else b`, and log, log1p, exp, sqrt,",
        "# abs, floor, ceil, round, isnull, min, max, clip, where. Missing values are NaN. E.g.",
        "#   features:",
        "#     log_income: log1p(income)",
        "#     debt_to_income: debt / where(income > 0, income, nan)",
        f"features: {_flow(document['features'])}",
        "",
    ]
    return "\n".join(out)


def document_of(text: str) -> dict[str, Any]:
    """A contract document from YAML text, or {} if it is not a mapping."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two contract documents, one line per change (+ added, - removed,
    ~ changed)."""
    lines = []
    for key in ("name", "task", "target", "id", "labels", "missing", "trim"):
        if old.get(key) != new.get(key):
            lines.append(f"~ {key}: {_flow(old.get(key))} -> {_flow(new.get(key))}")
    before, after = old.get("columns") or {}, new.get("columns") or {}
    for column in after:
        if column not in before:
            lines.append(f"+ column {column!r}: {_column_summary(after[column])}")
    for column in before:
        if column not in after:
            lines.append(f"- column {column!r}")
    for column in after:
        if column in before and isinstance(before[column], dict):
            diff = _column_changes(before[column], after[column])
            if diff:
                lines.append(f"~ column {column!r}: {'; '.join(diff)}")
    was = {_expectation_key(e): e for e in old.get("expectations") or [] if isinstance(e, dict)}
    now = {_expectation_key(e): e for e in new.get("expectations") or []}
    for key, e in now.items():
        if key not in was:
            lines.append(f"+ expectation {key} {_bounds(e)}")
        elif _bounds(was[key]) != _bounds(e):
            lines.append(f"~ expectation {key}: {_bounds(was[key])} -> {_bounds(e)}")
    lines += [f"- expectation {key}" for key in was if key not in now]
    return lines


def _column_summary(spec: dict[str, Any]) -> str:
    parts = [spec.get("type", "?")]
    if spec.get("role", "feature") != "feature":
        parts.append(f"role {spec['role']}")
    if spec.get("min") is not None or spec.get("max") is not None:
        parts.append(f"{_flow(spec.get('min'))} to {_flow(spec.get('max'))}")
    if spec.get("categories"):
        parts.append(f"categories {_flow(spec['categories'])}")
    return ", ".join(parts)


def _column_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    defaults = {"role": "feature", "nullable": False}
    for key in ("type", "role", "nullable", "min", "max", "unknown", "pattern"):
        a, b = old.get(key, defaults.get(key)), new.get(key, defaults.get(key))
        if a != b:
            out.append(f"{key} {_flow(a)} -> {_flow(b)}")
    a, b = old.get("categories") or [], new.get("categories") or []
    added = [c for c in b if c not in a]
    removed = [c for c in a if c not in b]
    if added or removed:
        shown = [f"+{c}" for c in added] + [f"-{c}" for c in removed]
        out.append(f"categories {' '.join(shown)}")
    return out


def _expectation_key(e: dict[str, Any]) -> str:
    return f"{e.get('column')}.{e.get('check')}"


def _bounds(e: dict[str, Any]) -> str:
    low, high = e.get("min"), e.get("max")
    if low is not None and high is not None:
        return f"{low:g}..{high:g}"
    return f">= {low:g}" if low is not None else f"<= {high:g}" if high is not None else "-"


# ---------------------------------------------------------------------------------------
# Shell


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="source", required=True, metavar="PATH",
                        help="your table (.csv or .parquet)")  # fmt: skip
    parser.add_argument("--target", required=True, metavar="COLUMN", help="the label column")
    parser.add_argument("--id", metavar="COLUMN",
                        help="the row id (default: a unique column named like an id)")  # fmt: skip
    parser.add_argument("--task", choices=list(contract.TASKS_BUILT),
                        help="the learning task (default: inferred from the target: two "
                        "values binary, numbers regression, else multiclass)")  # fmt: skip
    parser.add_argument("--name", help="dataset name (default: from the file name)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing contract drafted for other data")  # fmt: skip


def _self_check(c: contract.Contract, path: Path, rows: int) -> None:
    """The validate stage's checks, run on the drafted file with the draft: it must pass."""
    with contract.use(c):
        result = validation.check(rawdata.read_raw(path), rows=(max(1, rows // 2), rows * 10))
    if not result.passed:
        lines = "; ".join(f.line() for f in result.errors[:3])
        raise RatchetError(f"{path}: the drafted contract does not fit the file ({lines})")


def _dvc_add(path: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "add", "--quiet", path],
        capture_output=True,
        text=True,
        env={**os.environ, "DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"},
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RatchetError(f"dvc add {path} failed: {last}; nothing was changed")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def command(args: argparse.Namespace) -> int:
    for required in (DVC_FILE, args.params):
        if not Path(required).is_file():
            raise RatchetError(f"{required}: not found (run from the repository root)")
    if not Path(".dvc").is_dir():
        raise RatchetError(".dvc: not a DVC repository (run `dvc init` first)")
    source = Path(args.source)
    frame = rawdata.read_raw(source, as_text=True)
    name = args.name or dataset_name(source)
    if not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise RatchetError(f"--name {name!r}: use lower-case letters, digits and '-'")
    document = draft(frame, args.target, args.id, task=args.task, name=name, source=str(source))
    raw_path = f"{RAW_DIR}/{name}{source.suffix.lower()}"
    text = render(document, source.name, len(frame), datetime.date.today().isoformat())
    drafted = contract.parse(yaml.safe_load(text), CONTRACT_FILE, text)

    contract_path = Path(CONTRACT_FILE)
    dvc_text = Path(DVC_FILE).read_text(encoding="utf-8")
    adapted = SAMPLE_STAGE not in ((yaml.safe_load(dvc_text) or {}).get("stages") or {})
    if contract_path.exists() and adapted and not args.force:
        old = document_of(contract_path.read_text(encoding="utf-8"))
        diff = changes(old, yaml.safe_load(text))
        if not diff:
            print(f"{contract_path}: already matches {source}; nothing to do")
            return 0
        print(f"{contract_path} exists and differs from a draft from {source}:")
        print("\n".join(f"  {line}" for line in diff))
        print("Nothing written. Edit the contract by hand, or rerun with --force to replace it "
              "(and the pipeline's data file).")  # fmt: skip
        return 1

    _self_check(drafted, source, len(frame))
    dvc_new, pipeline_notes = wiring.rewire_pipeline(dvc_text, raw_path, name)
    keys = [contract.class_key(n) for n in drafted.class_names] if drafted.spec.labels else []
    dvc_new, plot_notes = wiring.retask_pipeline(dvc_new, drafted.task, keys)
    params_new, params_notes = wiring.retune_params(
        Path(args.params).read_text(encoding="utf-8"), len(frame), gate=not adapted
    )
    params_new, task_notes = wiring.retask_params(params_new, drafted.task)
    pipeline_notes += plot_notes
    params_notes += task_notes

    writes = [
        stage(contract_path, lambda p: p.write_text(text, encoding="utf-8")),
        stage(Path(args.params), lambda p: p.write_text(params_new, encoding="utf-8")),
        stage(Path(DVC_FILE), lambda p: p.write_text(dvc_new, encoding="utf-8")),
    ]
    if not _same_file(source, Path(raw_path)):
        writes.insert(0, stage(Path(raw_path), lambda p: shutil.copyfile(source, p)))
    replace_all(writes, lambda: _dvc_add(raw_path))
    gate = (yaml.safe_load(params_new).get("gate") or {}).get("rules") or {}
    print(review(drafted, len(frame), raw_path, pipeline_notes + params_notes, gate))
    return 0


def review(
    c: contract.Contract, rows: int, raw_path: str, notes: list[str], gate: dict[str, Any]
) -> str:
    """What the user should check, and what to run next."""
    lines = [f"wrote {CONTRACT_FILE} (dataset '{c.name}', {rows} rows). Review:"]
    lines.append(f"  task: {c.task} (inferred unless --task said so)")
    if c.task == "regression":
        t = c.columns[c.target]
        lines.append(f"  target {c.target!r}: a number, {t.min:g} to {t.max:g}  [{t.why}]")
    elif c.task == "multiclass":
        names = ", ".join(f"{k!r} -> {v}" for k, v in c.spec.labels.items())
        lines.append(f"  target {c.target!r}: {len(c.spec.labels)} classes: {names}")
    elif c.spec.labels:
        mapping = ", ".join(f"{k!r} -> {v}" for k, v in c.spec.labels.items())
        why = c.columns[c.target].why.removeprefix("binary label, ")
        lines.append(f"  target {c.target!r}: {mapping}  [{why}]")
        lines.append("    (the other class is the one to predict? swap 1 and 0 in `labels:`)")
    else:
        lines.append(f"  target {c.target!r}: already 0/1 (1 = positive)")
    lines.append(f"  id: {c.id or 'none found (pass --id COLUMN if the data has one)'}")
    lines.append(f"  missing cells: {_flow(list(c.spec.missing))} (after trimming spaces)")
    ranged = [(n, s) for n, s in c.columns.items() if s.role == "feature" and s.min is not None]
    if ranged:
        lines.append("  ranges (observed, widened by a margin; set the real limits):")
        lines += [f"    {n}: {s.min:g} to {s.max:g}  [{s.why}]" for n, s in ranged]
    for name, spec in c.columns.items():
        if spec.role == "feature" and spec.type == "category":
            lines.append(f"  categories {name}: {', '.join(spec.categories)} (closed)")
    for name in c.with_role("ignore"):
        lines.append(f"  ignored {name}: {c.columns[name].why}")
    lines.append("  expectations:")
    lines += [f"    {e.column}.{e.check} {_bounds(e.model_dump())}" for e in c.spec.expectations]
    lines.append(f"pipeline (your data is copied to {raw_path} and tracked by DVC):")
    lines += [f"  {note}" for note in notes]
    if gate:
        lines.append(
            "  gate rules now (params.yaml gate.rules; add floors once you know your metrics):"
        )
        lines += [f"    {metric}: {_flow(dict(rule))}" for metric, rule in gate.items()]
    lines += [
        "next:",
        "  dvc repro",
        "  git add -A && git commit -m 'Use our data'",
    ]
    return "\n".join(lines)
