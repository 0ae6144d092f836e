"""Sweep grids: parsed, checked against params.yaml, expanded in a stable order."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from conftest import EXAMPLE, run
from ratchet.core.errors import RatchetError
from ratchet.core.params import LINEAR, SweepParams, parse_section
from ratchet.dataset import wiring
from ratchet.dataset.contract import CONTRACT_FILE
from ratchet.experiments import sweep
from task_fixtures import toy_contract


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


@pytest.mark.parametrize(
    ("task", "spec", "message"),
    [
        ("regression", "train.estimator=logistic_regression",
         "'train.estimator': logistic_regression does not fit a regression task "
         "(use hist_gradient_boosting or ridge)"),
        ("regression", "train.class_weight=null,balanced",
         "sweep train.class_weight=balanced: params.yaml: 'train.class_weight': applies to "
         "classification; null for regression"),
        ("multiclass", "train.estimator=hist_gradient_boosting,ridge",
         "sweep train.estimator=ridge: params.yaml: 'train.estimator': ridge does not fit a "
         "multiclass task (use hist_gradient_boosting or logistic_regression)"),
        ("binary", "train.estimator=ridge", "ridge does not fit a binary task"),
    ],
)  # fmt: skip
def test_a_grid_that_cannot_train_the_tasks_model_is_refused(repo_params, task, spec, message):
    grid = sweep.from_specs([spec])
    sweep.check([grid], repo_params, "params.yaml")  # without a task: only the params model
    with pytest.raises(RatchetError, match=re.escape(message)):
        sweep.check([grid], repo_params, "params.yaml", task)


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_init_writes_default_grids_every_task_can_run(task):
    template = (EXAMPLE / "params.yaml").read_text()
    doc = yaml.safe_load(wiring.retask_params(template, task)[0])
    grids = parse_section("sweep", SweepParams, doc).grids
    sweep.check(grids, doc, "params.yaml", task)
    estimators = {v for g in grids for v in g.get("train.estimator", [])}
    assert estimators == {LINEAR[task]}  # the linear baseline is still compared
    if task == "regression":  # the template's grids as they were would not run
        original = yaml.safe_load(template)
        with pytest.raises(RatchetError, match="logistic_regression does not fit a regression"):
            sweep.check(parse_section("sweep", SweepParams, original).grids, original, "p", task)


def test_init_fits_a_grid_of_another_task_to_this_one():
    template = yaml.safe_load((EXAMPLE / "params.yaml").read_text())
    template["sweep"]["grids"] = [
        {"train.estimator": ["ridge", "hist_gradient_boosting"], "train.C": [0.1, 1.0]},
        {"train.class_weight": [None, "balanced"]},
        {"train.class_weight": ["balanced"], "train.max_depth": [3, 6]},
    ]
    template["train"]["class_weight"] = "balanced"
    text = yaml.safe_dump(template, sort_keys=False)

    doc = yaml.safe_load(wiring.retask_params(text, "multiclass")[0])
    assert doc["sweep"]["grids"][0]["train.estimator"] == [
        "logistic_regression", "hist_gradient_boosting",
    ]  # fmt: skip
    assert doc["sweep"]["grids"][1:] == template["sweep"]["grids"][1:]

    new, notes = wiring.retask_params(text, "regression")
    doc = yaml.safe_load(new)
    assert doc["sweep"]["grids"] == [
        {"train.estimator": ["ridge", "hist_gradient_boosting"], "train.C": [0.1, 1.0]},
        {"train.max_depth": [3, 6]},
    ]
    assert doc["train"]["class_weight"] is None
    sweep.check(parse_section("sweep", SweepParams, doc).grids, doc, "params.yaml", "regression")
    assert "sweep.grids[1]: dropped train.class_weight (classification only)" in notes


def test_cli_checks_the_grid_against_the_contracts_task(tmp_path):
    shutil.copy(EXAMPLE / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dataset").mkdir()
    (tmp_path / CONTRACT_FILE).write_text(toy_contract("regression").text)
    bad = run(["ratchet", "exp", "grid", "train.estimator=ridge,logistic_regression"], tmp_path,
              check=False)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0
    assert "logistic_regression does not fit a regression task" in bad.stderr
    good = run(["ratchet", "exp", "grid", "train.estimator=ridge", "train.C=0.1,1"], tmp_path)
    assert good.stdout.splitlines()[-1] == "2 experiments in 1 grid(s)"
