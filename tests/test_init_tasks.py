"""`ratchet init` for every task: the task inferred from the target, and the pipeline's
plots, gate rules and report plots set for it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ratchet.core.errors import RatchetError
from ratchet.dataset import init, wiring


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["yes", "no"] * 30, "binary"),
        (["setosa", "versicolor", "virginica"] * 20, "multiclass"),
        ([str(i % 5) for i in range(60)], "multiclass"),
        ([f"{i * 1.5:.1f}" for i in range(60)], "regression"),
        ([str(i) for i in range(60)], "regression"),
    ],
)
def test_init_infers_the_task(values, task):
    frame = pd.DataFrame({"x": [str(i) for i in range(60)], "y": values})
    assert init.draft(frame, "y")["task"] == task


def test_init_refuses_a_text_target_of_hundreds_of_values():
    frame = pd.DataFrame({"x": [str(i) for i in range(300)], "y": [f"n{i}" for i in range(300)]})
    with pytest.raises(RatchetError, match="target 'y' has 300 distinct text values"):
        init.draft(frame, "y")


def test_init_rewires_plots_and_gate_for_the_task():
    root = Path(__file__).resolve().parent.parent
    dvc = (root / "dvc.yaml").read_text()
    params = (root / "params.yaml").read_text()
    assert wiring.retask_pipeline(dvc, "binary") == (dvc, [])
    assert wiring.retask_params(params, "binary") == (params, [])
    text, _ = wiring.retask_params(params, "regression")
    doc = yaml.safe_load(text)
    assert doc["gate"]["primary"] == "rmse"
    assert doc["gate"]["rules"]["mae"] == {"direction": "lower", "max_relative_regression": 0.05}
    assert doc["report"]["plots"] == [
        "Predicted-vs-Actual", "Residuals", "Residual-Histogram", "Feature-Importance",
    ]  # fmt: skip
    assert doc["sweep"]["grids"][1]["train.estimator"] == ["ridge"]
    text, _ = wiring.retask_pipeline(dvc, "multiclass", ["a", "b", "c"])
    plots = yaml.safe_load(text)["plots"]
    assert [next(iter(p)) for p in plots] == [
        "Confusion-Matrix", "Confusion-Matrix-Normalized", "Precision-Recall-by-Class",
        "Feature-Importance",
    ]  # fmt: skip


def test_init_drafts_class_balance_and_zero_share_expectations():
    classes = pd.DataFrame({"x": [str(i) for i in range(100)],
                            "y": ["a"] * 50 + ["b"] * 30 + ["c"] * 20})  # fmt: skip
    drafted = {e["check"]: e for e in init.draft(classes, "y")["expectations"]}
    assert drafted["distinct"]["min"] == drafted["distinct"]["max"] == 3
    assert drafted["min_class_share"]["min"] == 0.1  # half the rarest class's 20 %
    assert drafted["max_class_share"]["max"] == 0.75  # 1.5 times the commonest's 50 %
    numbers = pd.DataFrame({"x": [str(i) for i in range(100)],
                            "y": [f"{i * 0.5:.1f}" for i in range(100)]})  # fmt: skip
    drafted = {e["check"]: e for e in init.draft(numbers, "y")["expectations"]}
    assert drafted["zero_share"]["max"] == 0.06  # one 0 in 100 rows, plus 5 points


def test_a_numeric_target_with_one_stray_text_value_names_it():
    values = [f"{i * 0.37:.2f}" for i in range(120)]
    values[5] = "n/a?"
    frame = pd.DataFrame({"x": [str(i) for i in range(120)], "y": values})
    with pytest.raises(RatchetError, match=r"mostly numbers but not 'n/a\?' \(row 6\)"):
        init.draft(frame, "y")
    with pytest.raises(RatchetError, match=r"is not numeric \(e.g. 'n/a\?' \(row 6\)\)"):
        init.draft(frame, "y", task="regression")
