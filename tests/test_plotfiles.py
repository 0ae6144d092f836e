"""The evaluate stage's ROC, precision-recall and confusion-matrix files are byte for byte
the files DVCLive's `log_sklearn_plot` writes (they are committed and diffed by DVC)."""

from __future__ import annotations

import json

import numpy as np
from dvclive import Live

from ratchet.pipeline import plotfiles


def dvclive_files(tmp_path, plots: dict[str, tuple]) -> dict[str, str]:
    """What DVCLive writes for each (kind, labels, predictions), by name."""
    with Live(str(tmp_path / "live"), dvcyaml=False, save_dvc_exp=False, report=None) as live:
        for name, (kind, labels, predictions) in plots.items():
            live.log_sklearn_plot(kind, labels, predictions, name=name)
    folder = tmp_path / "live" / "plots" / "sklearn"
    return {name: (folder / f"{name}.json").read_text() for name in plots}


def test_the_files_are_dvclives_byte_for_byte(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no repository here: DVCLive writes files only
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3_000)
    # Ties, exact zeros and ones, tiny and long decimals: every way a float is written.
    scores = np.round(np.clip(rng.normal(0.3 + 0.3 * y, 0.25), 0, 1), rng.integers(1, 17))
    scores[:5] = [0.0, 1.0, 1e-300, 5e-324, 0.1 + 0.2]
    names = np.array(["no", 'say "yes"', "naïve"], dtype=object)
    classes = rng.integers(0, 3, 3_000)
    expected = dvclive_files(tmp_path, {
        "roc": ("roc", y, scores),
        "precision_recall": ("precision_recall", y, scores),
        "confusion_matrix": ("confusion_matrix", y, (scores >= 0.5).astype(int)),
        "named": ("confusion_matrix", names[classes].tolist(), names[y].tolist()),
    })  # fmt: skip
    assert text(plotfiles.roc(y, scores)) == expected["roc"]
    assert text(plotfiles.precision_recall(y, scores)) == expected["precision_recall"]
    predicted = (scores >= 0.5).astype(int)
    assert text(plotfiles.confusion(y, predicted)) == expected["confusion_matrix"]
    assert text(plotfiles.confusion(names[classes], names[y])) == expected["named"]
    assert json.loads(text(plotfiles.roc(y, scores)))["roc"][0]["threshold"] == float("inf")


def text(chunks) -> str:
    return "".join(chunks)


def test_an_empty_listing_and_chunk_borders_are_jsons(monkeypatch):
    assert text(plotfiles.records_chunks({"a": []}, "k")) == json.dumps({"k": []}, indent=4) + "\n"
    assert text(plotfiles.records_chunks({"a": []})) == "[]\n"
    monkeypatch.setattr(plotfiles, "CHUNK", 2)  # rows laid out two at a time
    rows = {"a": np.arange(5.0), "b": np.array(list("vwxyz"), dtype=object)}
    listed = [{"a": float(a), "b": b} for a, b in zip(rows["a"], rows["b"], strict=True)]
    assert text(plotfiles.records_chunks(rows, "k")) == json.dumps({"k": listed}, indent=4) + "\n"
    assert text(plotfiles.records_chunks(rows)) == json.dumps(listed, indent=4) + "\n"
    assert plotfiles.column_texts(np.array([np.nan, -np.inf, 2.5])) == ["NaN", "-Infinity", "2.5"]


def test_write_puts_the_file_where_dvclive_would(tmp_path):
    plotfiles.write(tmp_path / "live", "roc", ["{", "}\n"])
    assert (tmp_path / "live" / "plots" / "sklearn" / "roc.json").read_text() == "{}\n"
