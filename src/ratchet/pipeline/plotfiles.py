"""The evaluate stage's per-row and per-threshold plot files, written fast, byte for byte as
DVCLive writes them.

DVCLive's `log_sklearn_plot` builds one Python dict per threshold (ROC, precision-recall)
or per held-out row (confusion matrix) and writes them with `json.dump(..., indent=4)`,
which runs the standard library's pure-Python encoder. At a million rows (200,000 held-out
rows, about 50 MB of JSON) that took longer than the rest of the stage and held the
dicts in memory. Here each column is turned into JSON text in one C-encoder call and the
records are laid out with string formatting: the same bytes (tests/test_plotfiles.py
compares them with DVCLive's own files), so `dvc plots` and the committed files are as
before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from sklearn import metrics

from ratchet.core import io

SUBFOLDER = "sklearn"  # DVCLive's folder of these plots: <live dir>/plots/sklearn/<name>.json
INDENT = " " * 4
CHUNK = 20_000  # records laid out at a time: the text is written as it is made


def column_texts(values: np.ndarray | list) -> list[str]:
    """Each value as `json.dumps` writes it (floats by repr, NaN and Infinity as JSON's
    extensions; text escaped): one call of the C encoder for numbers, one per distinct
    text (class names) for text."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        text = json.dumps(array.tolist())
        return text[1:-1].split(", ") if len(array) else []
    texts = [str(v) for v in values]
    encoded = {t: json.dumps(t) for t in set(texts)}
    return [encoded[t] for t in texts]


def records_chunks(columns: dict[str, np.ndarray | list], key: str | None = None) -> Iterator[str]:
    """The text of `json.dumps({key: rows}, indent=4)` (of the bare list of rows without a
    key) plus DVCLive's closing newline, in pieces; rows are given column by column."""
    depth = 1 if key is None else 2
    pad, inner = INDENT * (depth - 1), INDENT * depth
    fields = ",\n".join(f"{inner}{INDENT}{json.dumps(name)}: %s" for name in columns)
    template = f"{inner}{{\n{fields}\n{inner}}}"
    n = len(next(iter(columns.values())))
    yield "[" if key is None else f"{{\n{INDENT}{json.dumps(key)}: ["
    for start in range(0, n, CHUNK):
        texts = [column_texts(v[start : start + CHUNK]) for v in columns.values()]
        yield ",\n" if start else "\n"
        yield ",\n".join(template % row for row in zip(*texts, strict=True))
    yield (f"\n{pad}]" if n else "]") + ("\n" if key is None else "\n}\n")


def write(live_dir: str | os.PathLike, name: str, chunks: Iterable[str]) -> None:
    path = Path(live_dir) / "plots" / SUBFOLDER / f"{name}.json"
    with io.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.writelines(chunks)


def roc(y: np.ndarray, scores: np.ndarray) -> Iterator[str]:
    fpr, tpr, thresholds = metrics.roc_curve(y_true=y, y_score=scores)
    return records_chunks({"fpr": fpr, "tpr": tpr, "threshold": thresholds}, "roc")


def precision_recall(y: np.ndarray, scores: np.ndarray) -> Iterator[str]:
    precision, recall, thresholds = metrics.precision_recall_curve(y_true=y, y_score=scores)
    n = len(thresholds)  # DVCLive zips the three: the last (precision 1, recall 0) drops
    columns = {"precision": precision[:n], "recall": recall[:n], "threshold": thresholds}
    return records_chunks(columns, "precision_recall")


def confusion(actual: np.ndarray | list, predicted: np.ndarray | list) -> Iterator[str]:
    """One record per row, each value as text (DVCLive writes `str(value)`: class numbers
    become "0", "1"; names stay names)."""
    return records_chunks({"actual": _texts(actual), "predicted": _texts(predicted)})


def _texts(values: np.ndarray | list) -> np.ndarray:
    return np.array([str(v) for v in values], dtype=object)
