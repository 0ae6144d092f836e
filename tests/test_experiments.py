"""Ranking experiments under the gate's rules, from data shaped like `dvc exp show --json`."""

from __future__ import annotations

import pytest
import yaml

from conftest import EXAMPLE
from ratchet.core.errors import RatchetError
from ratchet.core.params import GateParams, MetricRule, parse_section
from ratchet.dataset import wiring
from ratchet.experiments import ranking

TEST_METRICS = "metrics/evaluate/metrics.json"
BASE_TRAIN = {"estimator": "hist_gradient_boosting", "max_depth": 6, "learning_rate": 0.05}
BASE_METRICS = {"roc_auc": 0.84, "pr_auc": 0.54, "log_loss": 0.355, "brier": 0.114}


def state(rev, train, metrics, name=None, test=None):
    """One run: `metrics` are its validation metrics; `test` (default: the same values) its
    test split's, which the ranking must never read."""
    files = {}
    if metrics is not None:
        files[ranking.VALIDATION_METRICS] = {"data": {"train_rows": 800, "valid": metrics}}
        files[TEST_METRICS] = {"data": metrics if test is None else test}
    return {
        "rev": rev,
        "name": name,
        "data": {
            "rev": rev,
            "params": {"params.yaml": {"data": {"train": train, "gate": {"primary": "roc_auc"}}}},
            "metrics": files,
        },
        "error": None,
        "experiments": None,
    }


def exp_range(name, rev, train, metrics, executor=None, test=None):
    return {"revs": [state(rev, {**BASE_TRAIN, **train}, metrics, test=test)],
            "executor": executor, "name": name}  # fmt: skip


def dump(*ranges, metrics=BASE_METRICS):
    """`dvc exp show --json` of a baseline with `metrics` and these experiments."""
    base = state("b" * 40, BASE_TRAIN, metrics, name="main")
    base["experiments"] = list(ranges)
    return [state("workspace", BASE_TRAIN, metrics), base]


@pytest.fixture
def gate(repo_params) -> GateParams:
    return parse_section("gate", GateParams, repo_params)


def ranked(gate, data, errors=None, metric=None, direction=None):
    baseline, exps = ranking.parse_show(data)
    name, way = ranking.ranking_rule(gate, metric, direction)
    return ranking.rank(baseline, exps, gate, name, way, errors or {})


SWEEP = dump(
    exp_range(
        "good", "1" * 40, {"max_depth": 3}, {**BASE_METRICS, "roc_auc": 0.85, "log_loss": 0.35}
    ),
    exp_range(
        "best-but-fails",
        "2" * 40,
        {"max_depth": 9},
        {**BASE_METRICS, "roc_auc": 0.86, "log_loss": 0.40},
    ),
    exp_range("fine", "3" * 40, {"learning_rate": 0.1}, {**BASE_METRICS, "roc_auc": 0.839}),
    exp_range(
        "broken",
        "4" * 40,
        {"max_iter": 0},
        None,
        {"state": "failed", "local": {"log": "/nowhere.out"}},
    ),
    exp_range("waiting", "5" * 40, {"seed": 1}, None, {"state": "queued"}),
)


def test_passing_experiments_rank_first_by_the_primary_metric(gate):
    r = ranked(gate, SWEEP, {"broken": "ratchet train: error: bad max_iter"})
    assert [x.exp.name for x in r.ranked] == ["good", "fine", "best-but-fails"]
    assert [x.passes for x in r.ranked] == [True, True, False]
    assert r.winner.exp.name == "good"
    assert [e.name for e, _ in r.failed] == ["broken"]
    assert [e.name for e in r.unfinished] == ["waiting"]


def test_lower_is_better_metrics_rank_ascending(gate):
    r = ranked(gate, SWEEP, metric="log_loss")
    assert r.direction == "lower"
    assert [x.exp.name for x in r.ranked] == ["good", "fine", "best-but-fails"]
    r = ranked(gate, SWEEP, metric="roc_auc", direction="lower")
    assert [x.exp.name for x in r.ranked] == ["fine", "good", "best-but-fails"]


def test_the_ranking_reads_validation_metrics_and_never_the_test_split(gate):
    """A run whose TEST score is best but whose validation score is worst ranks last: the
    test split belongs to the pull request's gate, not to model selection."""
    lucky = {**BASE_METRICS, "roc_auc": 0.99, "log_loss": 0.20, "brier": 0.05}
    data = dump(
        exp_range("steady", "1" * 40, {"max_depth": 3}, {**BASE_METRICS, "roc_auc": 0.85}),
        exp_range("lucky", "2" * 40, {"max_depth": 9}, {**BASE_METRICS, "roc_auc": 0.83},
                  test=lucky),
    )  # fmt: skip
    r = ranked(gate, data)
    assert [x.exp.name for x in r.ranked] == ["steady", "lucky"]
    assert r.ranked[1].value == 0.83
    text = ranking.markdown(r, gate, "t")
    assert "0.9900" not in text
    assert "ranked by validation **roc_auc**" in text


def test_a_thresholded_gate_metric_is_left_to_the_gate(gate):
    """The train stage logs no f1 on validation (it would have to read evaluate.threshold):
    a rule on f1 is not checked here, and the table says so."""
    rules = {**gate.rules, "f1": MetricRule(direction="higher", max_regression=0.02)}
    with_f1 = gate.model_copy(update={"rules": rules})
    r = ranked(with_f1, SWEEP)
    assert r.skipped == ["f1"]
    assert [x.exp.name for x in r.ranked] == ["good", "fine", "best-but-fails"]
    assert (
        "Not checked on validation (thresholded; the gate checks them on the test split): f1"
        in (ranking.markdown(r, with_f1, "t"))
    )
    with pytest.raises(RatchetError, match="--metric 'f1' has no validation value"):
        ranked(with_f1, SWEEP, metric="f1")


def test_runs_with_only_test_metrics_have_no_ranking_values(gate):
    data = dump(exp_range("old", "1" * 40, {}, BASE_METRICS))
    for entry in [data[1], data[1]["experiments"][0]["revs"][0]]:
        del entry["data"]["metrics"][ranking.VALIDATION_METRICS]
    r = ranked(gate, data)
    assert r.baseline.metrics is None and r.ranked[0].value is None
    assert "The baseline has no validation metrics" in ranking.markdown(r, gate, "t")


def test_a_metric_without_a_rule_needs_a_direction(gate):
    with pytest.raises(RatchetError, match="--direction"):
        ranked(gate, SWEEP, metric="f1")


def test_no_winner_when_nothing_passes_the_gate(gate):
    r = ranked(gate, dump(exp_range("bad", "1" * 40, {}, {**BASE_METRICS, "roc_auc": 0.7})))
    assert r.winner is None
    text = ranking.markdown(r, gate, "t")
    assert "No experiment would pass the gate" in text
    assert "roc_auc below the floor 0.8000" in text


def test_markdown_shows_baseline_deltas_changed_params_and_errors(gate):
    r = ranked(gate, SWEEP, {"broken": "ratchet train: error: bad max_iter"})
    text = ranking.markdown(r, gate, "Experiments on main")
    lines = text.splitlines()
    assert lines[0] == "### Experiments on main"
    header = next(line for line in lines if line.startswith("| # |"))
    assert (
        header == "| # | experiment | gate | roc_auc | pr_auc | log_loss | brier | params changed |"
    )
    assert "|  | baseline `bbbbbbb` |  | 0.8400 | 0.5400 | 0.3550 | 0.1140 |  |" in lines
    assert "| 1 | **good** | pass | 0.8500 (+0.0100) |" in text
    assert "`train.max_depth=3`" in text
    assert "| 3 | best-but-fails | FAIL |" in text
    assert "- best-but-fails: log_loss worse than base by 0.0450 (allowed 0.0200)" in text
    assert "- broken (train.max_iter=0): ratchet train: error: bad max_iter" in text
    assert "- waiting: queued" in text
    assert "**Best: good** (roc_auc 0.8500, rev `1111111`)." in text
    assert text == ranking.markdown(r, gate, "Experiments on main")  # deterministic


def test_the_winner_not_beating_the_baseline_is_said(gate):
    r = ranked(gate, dump(exp_range("meh", "1" * 40, {}, {**BASE_METRICS, "roc_auc": 0.835})))
    assert "does not improve on the baseline's roc_auc (0.8400)" in ranking.markdown(r, gate, "t")


def test_error_line_prefers_the_commands_own_message():
    log = """Running stage 'train':
> ratchet train --input x
ratchet train: error: params.yaml: 'train.max_iter' input should be >= 1, got 0
ERROR: failed to reproduce 'train': failed to run: ratchet train, exited with 2
"""
    assert ranking.error_line(log).startswith("ratchet train: error: params.yaml")
    crash = "Traceback (most recent call last):\n  ...\nValueError: boom\nERROR: failed 'x'\n"
    assert ranking.error_line(crash) == "ValueError: boom"
    assert (
        ranking.error_line("ERROR: failed to reproduce 'x'\n") == "ERROR: failed to reproduce 'x'"
    )
    assert "dvc queue logs" in ranking.error_line(None)


def test_flatten_and_changed_params():
    assert ranking.flatten({"a": {"b": 1, "c": {"d": None}}, "e": {}}) == {
        "a.b": 1, "a.c.d": None, "e": {},
    }  # fmt: skip
    base = ranking.Experiment("b", "b", "baseline", {"t.x": 1, "t.w": None}, None)
    exp = ranking.Experiment("e", "e", "success", {"t.x": 2, "t.w": True, "t.new": 0}, None)
    assert ranking.changed_params(exp, base) == ["t.new=0", "t.w=true", "t.x=2"]


def task_gate(task: str) -> GateParams:
    """The gate `ratchet init` writes for a task."""
    text, _ = wiring.retask_params((EXAMPLE / "params.yaml").read_text(), task)
    return parse_section("gate", GateParams, yaml.safe_load(text))


def test_a_regression_ranks_by_rmse_lowest_first():
    gate = task_gate("regression")
    base = {"rmse": 53.6, "mae": 42.5, "r2": 0.46}
    data = dump(
        exp_range("shallow", "1" * 40, {"max_depth": 3}, {**base, "rmse": 52.2, "mae": 41.6}),
        exp_range("ridge", "2" * 40, {"estimator": "ridge"}, {**base, "rmse": 53.0}),
        exp_range("fast", "3" * 40, {"learning_rate": 0.1}, {**base, "rmse": 58.0}),
        metrics=base,
    )
    r = ranked(gate, data)
    assert (r.metric, r.direction) == ("rmse", "lower")
    assert [x.exp.name for x in r.ranked] == ["shallow", "ridge", "fast"]
    assert [x.passes for x in r.ranked] == [True, True, False]  # 58.0 is 8 % worse: > 5 %
    text = ranking.markdown(r, gate, "t")
    assert "ranked by validation **rmse** (lower is better)" in text
    assert "| 1 | **shallow** | pass | 52.2000 (-1.4000) | 41.6000 (-0.9000) |" in text


def test_a_multiclass_tie_on_macro_f1_goes_to_the_better_log_loss():
    gate = task_gate("multiclass")
    base = {"macro_f1": 0.92, "log_loss": 0.21, "accuracy": 0.92}
    data = dump(
        exp_range("a-loose", "1" * 40, {"C": 0.1}, {**base, "macro_f1": 1.0, "log_loss": 0.15}),
        exp_range("b-sharp", "2" * 40, {"C": 1.0}, {**base, "macro_f1": 1.0, "log_loss": 0.05}),
        exp_range("c-same", "3" * 40, {"seed": 1}, base),
        metrics=base,
    )
    r = ranked(gate, data)
    assert (r.metric, r.direction) == ("macro_f1", "higher")
    assert [x.exp.name for x in r.ranked] == ["b-sharp", "a-loose", "c-same"]
    assert ranked(gate, data, metric="log_loss").winner.exp.name == "b-sharp"
