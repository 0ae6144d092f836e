"""Small multiclass and regression datasets of the tests' own, and models trained on them.

Columns x1, x2 (numbers), g (a category) and y (the target). A multiclass y is the
classes a, b, c of x1 + 0.3 x2; a regression y is 3 x1 - x2 + 10 plus a little noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ratchet.core.params import FeaturizeParams, TrainParams, parse_section
from ratchet.dataset import contract, validation
from ratchet.pipeline import model, predict
from ratchet.pipeline.featurize import split
from ratchet.pipeline.train import run as train_run

CLASSES = {"a": 0, "b": 1, "c": 2}


def toy_contract(task: str, name: str = "toy") -> contract.Contract:
    labels = CLASSES if task == "multiclass" else None
    target = (
        {"type": "category", "categories": list(CLASSES), "role": "target"}
        if task == "multiclass"
        else {"type": "float", "role": "target"}
    )
    return contract.parse({
        "name": name, "task": task, "target": "y", "labels": labels,
        "columns": {"x1": {"type": "float"}, "x2": {"type": "float"},
                    "g": {"type": "category", "categories": ["p", "q"]}, "y": target},
    })  # fmt: skip


def toy_table(task: str, rows: int = 300, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """A validated table (multiclass labels already numbered 0, 1, 2).

    `shift` moves x1 (and so y) by that many standard deviations: a drifted world.
    """
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows) + shift, rng.normal(size=rows)
    g = pd.array(rng.choice(["p", "q"], rows), dtype="string[pyarrow]")
    if task == "multiclass":
        y = pd.array(np.digitize(x1 + 0.3 * x2, [-0.4, 0.4]), dtype="Int64")
    else:
        y = 3 * x1 - x2 + rng.normal(0, 0.1, rows) + 10
    return pd.DataFrame({"x1": x1, "x2": x2, "g": g, "y": y})


def raw_rows(task: str, rows: int = 300, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """The same rows as a user's file holds them: class names, not numbers."""
    table = toy_table(task, rows, seed, shift)
    if task == "multiclass":
        names = np.array(list(CLASSES), dtype=object)
        table["y"] = names[table["y"].to_numpy(dtype="int64")]
    return table


def toy_model(
    directory: Path, task: str, repo_params: dict, max_iter: int = 30, **train: object
) -> Path:
    """Train on `toy_table(task)` with the project's train params; the model file's path.

    The model carries its contract, so commands read rows by it whatever the checkout's.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with contract.use(toy_contract(task)):
        fit, _ = split(toy_table(task), FeaturizeParams(test_size=0.3, seed=0))
        fit.to_parquet(directory / "train.parquet")
        tp = parse_section("train", TrainParams, repo_params).model_copy(
            update={"max_iter": max_iter, **train}
        )
        train_run(directory / "train.parquet", directory / "model.skops", directory / "live", tp)
    return directory / "model.skops"


def scored_outputs(model_path: Path, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """What `ratchet score` computes for raw rows: the pandera check under the model's own
    contract (label optional), then `predict.table_outputs`."""
    pipeline = model.load(model_path)
    with contract.use(model.contract_for(pipeline)) as c:
        checked = validation.check(frame, require_target=c.target in frame, expectations=False)
        assert checked.passed, validation.summary(checked)
        return predict.table_outputs(pipeline, checked.table, 0.5)


def scaler_overflow(model_path: Path) -> tuple[str, float]:
    """(column, value): a valid value that overflows in a linear model's scaler.

    The largest float divided by a standard deviation below 1 is an infinity (subtracting
    a small mean cannot overflow: it rounds back to the largest float).
    """
    pre = model.load(model_path)[0]
    columns = next(cols for name, _, cols in pre.transformers_ if name == "numeric")
    scales = pre.named_transformers_["numeric"][-1].scale_
    assert scales.min() < 1, scales  # the fixture data has one such column
    return columns[int(scales.argmin())], float(np.finfo("float64").max)
