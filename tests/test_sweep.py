"""Sweep grids: parsed, checked against params.yaml, expanded in a stable order."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import EXAMPLE, run
from ratchet.core.errors import RatchetError
from ratchet.experiments import sweep


def test_specs_expand_to_every_combination_first_key_slowest():
    grid = sweep.from_specs(["train.max_depth=3,6", "train.learning_rate=0.03,0.1"])
    assert grid == {"train.max_depth": [3, 6], "train.learning_rate": [0.03, 0.1]}
    assert [c.overrides() for c in sweep.combos(grid)] == [
        ["train.max_depth=3", "train.learning_rate=0.03"],
        ["train.max_depth=3", "train.learning_rate=0.1"],
        ["train.max_depth=6", "train.learning_rate=0.03"],
        ["train.max_depth=6", "train.learning_rate=0.1"],
    ]


def test_values_render_as_yaml_reads_them_back():
    grid = sweep.from_specs(["train.class_weight=null,balanced", "train.C=1.0"])
    assert sweep.dvc_args(grid) == ["-S", "train.class_weight=null,balanced", "-S", "train.C=1.0"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("train.max_depth", "expected KEY=VALUE"),
        ("train.max_depth=", "expected KEY=VALUE"),
        ("train.max_depth=range(1,3)", "not a plain value"),
        ("train.estimator=a;rm -rf", "not a plain value"),
        ("train.C=1,,2", "not a plain value"),
    ],
)
def test_bad_specs_say_why(spec, message):
    with pytest.raises(RatchetError, match=message):
        sweep.from_specs([spec])


def test_a_key_given_twice_is_refused():
    with pytest.raises(RatchetError, match="given twice"):
        sweep.from_specs(["train.C=1", "train.C=2"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("train.max_dept=3", "sweep key 'train.max_dept' is not a key of params.yaml"),
        ("nosuch.key=3", "is not a key"),
        ("train.max_iter=0,10", "'train.max_iter' input should be greater than or equal to 1"),
        ("train.estimator=xgboost", "train.estimator=xgboost: params.yaml: 'train.estimator'"),
    ],
)
def test_grids_are_checked_against_params_before_anything_runs(repo_params, spec, message):
    with pytest.raises(RatchetError, match=message):
        sweep.check([sweep.from_specs([spec])], repo_params, "params.yaml")


def test_the_default_sweep_in_params_yaml_is_valid_and_compares_model_families(repo_params):
    from ratchet.core.params import SweepParams, parse_section

    grids = parse_section("sweep", SweepParams, repo_params).grids
    sweep.check(grids, repo_params, "params.yaml")
    combos = [c for g in grids for c in sweep.combos(g)]
    assert len(combos) == 8
    estimators = {dict(c.values).get("train.estimator", "default") for c in combos}
    assert "logistic_regression" in estimators and "default" in estimators


def test_matrix_names_each_combination_and_respects_the_github_limit():
    grid = sweep.from_specs(["train.max_depth=3,6", "train.seed=1,2"])
    m = sweep.matrix([grid], "ci-7")
    assert m["include"][0] == {"name": "ci-7-1", "params": "train.max_depth=3 train.seed=1"}
    assert [e["name"] for e in m["include"]] == ["ci-7-1", "ci-7-2", "ci-7-3", "ci-7-4"]
    big = sweep.from_specs(["train.seed=" + ",".join(map(str, range(300)))])
    with pytest.raises(RatchetError, match="at most 256"):
        sweep.matrix([big], "ci")
    with pytest.raises(RatchetError, match="--prefix"):
        sweep.matrix([grid], "a b")


def test_cli_prints_the_matrix_and_the_dvc_arguments(tmp_path):
    shutil.copy(EXAMPLE / "params.yaml", tmp_path / "params.yaml")
    out = run(["ratchet", "exp", "grid", "--format", "matrix", "--prefix", "p",
               "train.max_depth=3,6"], tmp_path).stdout  # fmt: skip
    assert json.loads(out) == {
        "include": [
            {"name": "p-1", "params": "train.max_depth=3"},
            {"name": "p-2", "params": "train.max_depth=6"},
        ]
    }
    out = run(["ratchet", "exp", "grid", "--format", "dvc"], tmp_path).stdout.splitlines()
    assert out[0] == "-S train.max_depth=3,6,9 -S train.learning_rate=0.03,0.1"
    bad = run(["ratchet", "exp", "grid", "train.max_iter=0"], tmp_path, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "train.max_iter" in bad.stderr
