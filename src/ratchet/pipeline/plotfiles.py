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
from pathlib import Path

import numpy as np
from sklearn import metrics

from ratchet.core import io

SUBFOLDER = "sklearn"  # DVCLive's folder of these plots: <live dir>/plots/sklearn/<name>.json
INDENT = " " * 4


def column_texts(values: np.ndarray | list) -> list[str]:
    """Each value as `json.dumps` writes it (floats by repr, NaN and Infinity as JSON's
    extensions; text escaped), with one call of the C encoder for a numeric column."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        text = json.dumps(array.tolist())
        return text[1:-1].split(", ") if len(array) else []
    cache: dict[str, str] = {}  # few distinct texts (class names): encode each once
    return [cache.setdefault(v, json.dumps(v)) for v in map(str, values)]


def records_text(columns: dict[str, list[str]], key: str | None = None) -> str:
    """`json.dumps({key: rows}, indent=4)` (or of the bare list of rows without a key) for
    rows given column by column as JSON texts, plus DVCLive's closing newline."""
    depth = 1 if key is None else 2
    pad, inner = INDENT * (depth - 1), INDENT * depth
    fields = ",\n".join(f"{inner}{INDENT}{json.dumps(name)}: %s" for name in columns)
    template = f"{inner}{{\n{fields}\n{inner}}}"
    rows = zip(*columns.values(), strict=True)
    body = ",\n".join(template % row for row in rows)
    listing = f"[\n{body}\n{pad}]" if body else "[]"
    if key is None:
        return listing + "\n"
    return f"{{\n{INDENT}{json.dumps(key)}: {listing}\n}}\n"


def write(live_dir: str | os.PathLike, name: str, text: str) -> None:
    io.write_text(Path(live_dir) / "plots" / SUBFOLDER / f"{name}.json", text)


def roc(y: np.ndarray, scores: np.ndarray) -> str:
    fpr, tpr, thresholds = metrics.roc_curve(y_true=y, y_score=scores)
    columns = {"fpr": fpr, "tpr": tpr, "threshold": thresholds}
    return records_text({k: column_texts(v) for k, v in columns.items()}, "roc")


def precision_recall(y: np.ndarray, scores: np.ndarray) -> str:
    precision, recall, thresholds = metrics.precision_recall_curve(y_true=y, y_score=scores)
    n = len(thresholds)  # DVCLive zips the three: the last (precision 1, recall 0) drops
    columns = {"precision": precision[:n], "recall": recall[:n], "threshold": thresholds}
    return records_text({k: column_texts(v) for k, v in columns.items()}, "precision_recall")


def confusion(actual: np.ndarray | list, predicted: np.ndarray | list) -> str:
    """One record per row, each value as text (`str`), as DVCLive's confusion matrix."""
    texts = {"actual": _as_text(actual), "predicted": _as_text(predicted)}
    return records_text(texts)


def _as_text(values: np.ndarray | list) -> list[str]:
    # DVCLive writes str(value): class numbers become "0", "1"; names stay names.
    return column_texts([str(v) for v in values])
