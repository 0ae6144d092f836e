"""`ratchet model smoke`'s checks of a version's predictions, per task, on real models."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from ratchet.core.errors import RatchetError
from ratchet.pipeline import model, predict
from ratchet.registry import smoke
from task_fixtures import raw_rows, toy_contract, toy_model

WHAT = "toy-model v1.0.0"


@pytest.fixture(scope="module")
def outputs_of(tmp_path_factory, repo_params):
    """task -> a toy model's outputs for 200 fresh raw rows, as the smoke command gets them."""
    from ratchet.dataset import contract, validation

    @functools.cache
    def outputs(task: str) -> dict:
        pipeline = model.load(toy_model(tmp_path_factory.mktemp(task), task, repo_params))
        with contract.use(toy_contract(task)):
            rows = raw_rows(task, 200, seed=9).drop(columns=["y"])
            table = validation.check(rows, require_target=False, expectations=False).table
            return predict.table_outputs(pipeline, table, 0.5)

    return outputs


def test_sound_models_pass(outputs_of):
    line = smoke.check(outputs_of("multiclass"), toy_contract("multiclass"), 200, WHAT)
    assert line.startswith("predicted 200 rows, classes a ")
    shares = [float(s.split()[-1].rstrip("%,")) for s in line.split(", ")[1:4]]
    assert sum(shares) == pytest.approx(100, abs=2)  # rounded shares of the three classes
    line = smoke.check(outputs_of("regression"), toy_contract("regression"), 200, WHAT)
    assert line.startswith("predicted 200 rows, mean prediction ")


def broken(outputs: dict, column: str, change) -> dict:
    out = {k: np.array(v, copy=True) for k, v in outputs.items()}
    out[column] = change(out[column])
    return out


def at(index: int, value):
    def change(a):
        a[index] = value
        return a

    return change


@pytest.mark.parametrize(
    ("task", "column", "change", "reason"),
    [
        ("multiclass", "proba_b", at(3, np.nan), "are not finite"),
        ("multiclass", "proba_b", at(3, 1.5), r"outside \[0, 1\]"),
        ("multiclass", "proba_a", lambda a: a + 1e-6, "of row 0 sum to 1.000001, not 1"),
        ("multiclass", "label", at(5, "d"), r"predicted labels \['d'\] are not classes"),
        ("multiclass", "proba_c", lambda a: a[:-1], "missing for some rows"),
        ("regression", "prediction", at(0, np.inf), "missing or not finite"),
        ("regression", "prediction", lambda a: np.full_like(a, 7.5), "constant \\(7.5 for"),
    ],
)
def test_a_broken_output_fails_with_its_reason(outputs_of, task, column, change, reason):
    with pytest.raises(RatchetError, match=f"^{WHAT}: .*{reason}"):
        smoke.check(broken(outputs_of(task), column, change), toy_contract(task), 200, WHAT)


def test_rounding_is_not_a_failure_but_a_constant_model_is(outputs_of):
    outputs, c = outputs_of("multiclass"), toy_contract("multiclass")
    nudged = broken(outputs, "proba_a", lambda a: a + 1e-12)
    assert smoke.check(nudged, c, 200, WHAT).startswith("predicted 200 rows")
    flat = {k: (np.resize(v[:1], 200)) for k, v in outputs.items()}
    with pytest.raises(RatchetError, match="the same for every row"):
        smoke.check(flat, c, 200, WHAT)


def test_no_rows_is_a_failure_not_a_pass():
    with pytest.raises(RatchetError, match="no held-out rows"):
        smoke.check({"prediction": np.empty(0)}, toy_contract("regression"), 0, WHAT)
