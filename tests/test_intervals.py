"""Paired intervals: point values and replicate kernels against scikit-learn, DeLong against
its definition, and the intervals' coverage, determinism and edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as skm

from ratchet.core.errors import RatchetError
from ratchet.pipeline.metrics import (
    classification_metrics,
    multiclass_metrics,
    regression_metrics,
)
from ratchet.review import interval_metrics, weighted
from ratchet.review.intervals import delong, paired_delta, paired_deltas

BINARY = tuple(interval_metrics.binary_metrics(0.5))
MULTICLASS = tuple(interval_metrics.multiclass_metrics(3))
REGRESSION = tuple(interval_metrics.regression_metrics())


def binary_data(rows: int = 400, seed: int = 0, decimals: int = 1):
    """Truth and two models; scores rounded so ties within and across classes abound."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.3).astype(int)
    base = np.clip(rng.normal(0.35 + 0.2 * y, 0.2), 0, 1).round(decimals)
    new = np.clip(base + rng.normal(0.05 * y, 0.1), 0, 1).round(decimals)
    return y, base, new


def multiclass_data(rows: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, rows)
    base = rng.dirichlet([1, 1, 1], rows)
    base[np.arange(rows), y] += 0.4
    new = base + rng.dirichlet([1, 1, 1], rows) * 0.3
    base, new = (p.round(2) / p.round(2).sum(axis=1, keepdims=True) for p in (base, new))
    return y, base, new


def regression_data(rows: int = 400, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, rows).round(1)
    return y, (y + rng.normal(0, 1, rows)).round(1), (y + rng.normal(0, 0.9, rows)).round(1)


DATA = {"binary": binary_data, "multiclass": multiclass_data, "regression": regression_data}
NAMES = {"binary": BINARY, "multiclass": MULTICLASS, "regression": REGRESSION}
CASES = [(task, name) for task, names in NAMES.items() for name in names]


def sklearn_weighted(task: str, name: str, y, pred, w) -> float:
    """scikit-learn's own value with sample_weight, called as the pipeline calls it."""
    labels = list(range(3))
    binary = {
        "roc_auc": lambda: skm.roc_auc_score(y, pred, sample_weight=w),
        "pr_auc": lambda: skm.average_precision_score(y, pred, sample_weight=w),
        "log_loss": lambda: skm.log_loss(y, pred, labels=[0, 1], sample_weight=w),
        "brier": lambda: skm.brier_score_loss(y, pred, sample_weight=w),
        "f1": lambda: skm.f1_score(y, pred >= 0.5, sample_weight=w, zero_division=0),
        "precision": lambda: skm.precision_score(y, pred >= 0.5, sample_weight=w, zero_division=0),
        "recall": lambda: skm.recall_score(y, pred >= 0.5, sample_weight=w, zero_division=0),
        "accuracy": lambda: skm.accuracy_score(y, pred >= 0.5, sample_weight=w),
    }
    top = pred.argmax(axis=1) if pred.ndim == 2 else None
    multiclass = {
        "accuracy": lambda: skm.accuracy_score(y, top, sample_weight=w),
        "balanced_accuracy": lambda: skm.balanced_accuracy_score(y, top, sample_weight=w),
        "macro_f1": lambda: skm.f1_score(
            y, top, average="macro", labels=labels, zero_division=0, sample_weight=w
        ),
        "weighted_f1": lambda: skm.f1_score(
            y, top, average="weighted", labels=labels, zero_division=0, sample_weight=w
        ),
        "log_loss": lambda: skm.log_loss(y, pred, labels=labels, sample_weight=w),
        "roc_auc_ovr": lambda: skm.roc_auc_score(
            y, pred, multi_class="ovr", average="macro", labels=labels, sample_weight=w
        ),
    }
    regression = {
        "rmse": lambda: skm.root_mean_squared_error(y, pred, sample_weight=w),
        "mae": lambda: skm.mean_absolute_error(y, pred, sample_weight=w),
        "r2": lambda: skm.r2_score(y, pred, sample_weight=w),
        "median_ae": lambda: skm.median_absolute_error(y, pred, sample_weight=w),
        "mape": lambda: skm.mean_absolute_percentage_error(y, pred, sample_weight=w),
    }
    return float(
        {"binary": binary, "multiclass": multiclass, "regression": regression}[task][name]()
    )


def kernel_value(task: str, name: str, y, pred, w: np.ndarray) -> float:
    table = interval_metrics.for_task(task, 3, 0.5)
    return float(table[name].kernel(y, pred)(w[:, None])[0])


@pytest.mark.parametrize(("task", "name"), CASES)
def test_point_values_are_scikit_learns_as_the_pipeline_reports_them(task, name):
    y, base, new = DATA[task]()
    delta = paired_delta(name, task, y, base, new, replicates=20)
    reported = {
        "binary": lambda p: classification_metrics(y, p, 0.5),
        "multiclass": lambda p: multiclass_metrics(y, p, ("a", "b", "c")),
        "regression": lambda p: regression_metrics(y, p),
    }[task]
    for pred, value in ((base, delta.base), (new, delta.new)):
        assert value == sklearn_weighted(task, name, y, pred, None)
        assert round(value, 6) == reported(pred)[name]
    assert delta.delta == delta.new - delta.base and delta.rows == y.size


@pytest.mark.parametrize(("task", "name"), CASES)
@pytest.mark.parametrize("weights", ["poisson", "float", "ones"])
def test_kernels_equal_scikit_learn_with_sample_weight(task, name, weights):
    y, base, _ = DATA[task](rows=300, seed=3)
    rng = np.random.default_rng(7)
    w = {
        "poisson": lambda: rng.poisson(1.0, y.size).astype(float),  # zeros and repeats
        "float": lambda: rng.gamma(2.0, 1.0, y.size),
        "ones": lambda: np.ones(y.size),
    }[weights]()
    expected = sklearn_weighted(task, name, y, base, w)
    assert kernel_value(task, name, y, base, w) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_ranking_kernels_handle_all_ties_and_a_constant_score():
    y, base, _ = binary_data(rows=200, seed=5, decimals=0)  # scores 0 or 1 only
    w = np.random.default_rng(1).poisson(1.0, y.size).astype(float)
    for score in (base, np.full(y.size, 0.3)):
        for name in ("roc_auc", "pr_auc"):
            expected = sklearn_weighted("binary", name, y, score, w)
            assert kernel_value("binary", name, y, score, w) == pytest.approx(expected, abs=1e-12)


def test_the_median_of_whole_number_weights_is_the_median_of_the_resample():
    rng = np.random.default_rng(2)
    values = rng.normal(size=50).round(1)
    for _ in range(20):
        w = rng.poisson(1.0, values.size)
        got = weighted.median(values)(w[:, None].astype(float))[0]
        assert got == np.median(np.repeat(values, w))


def test_poisson_weights_have_poissons_distribution():
    w = weighted.poisson_weights(np.random.default_rng(0), 100_000, 10)
    assert w.shape == (100_000, 10) and w.dtype == np.float32
    shares = np.bincount(w.ravel().astype(int), minlength=6)[:6] / w.size
    assert shares == pytest.approx(np.exp(-1) / np.array([1, 1, 2, 6, 24, 120]), abs=2e-3)


def naive_delong(y, base, new) -> tuple[float, float, float]:
    """DeLong et al. (1988) as written: psi over every (positive, negative) pair."""
    pos, neg = y == 1, y == 0
    placements = []
    for s in (base, new):
        diff = s[pos][:, None] - s[neg][None, :]
        psi = (diff > 0) + 0.5 * (diff == 0)
        placements.append((psi.mean(axis=1), psi.mean(axis=0), psi.mean()))
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([placements[0][0], placements[1][0]]))
    s01 = np.cov(np.vstack([placements[0][1], placements[1][1]]))
    contrast = np.array([-1.0, 1.0])
    variance = contrast @ s10 @ contrast / m + contrast @ s01 @ contrast / n
    return placements[0][2], placements[1][2], float(np.sqrt(variance))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_its_pairwise_definition(seed):
    y, base, new = binary_data(rows=150, seed=seed, decimals=1 + seed % 2)
    assert delong(y, base, new) == pytest.approx(naive_delong(y, base, new), rel=1e-10)
    d = paired_delta("roc_auc", "binary", y, base, new)
    se = naive_delong(y, base, new)[2]
    assert d.method == "delong" and d.replicates == 0
    assert d.high - d.delta == pytest.approx(norm.ppf(0.975) * se, rel=1e-10)


def binormal(rows: int, rng: np.random.Generator):
    """Two correlated binormal scorers: AUC is Phi(mu / sqrt(2)) for separation mu."""
    y = (rng.random(rows) < 0.4).astype(int)
    shared = rng.normal(size=rows)
    base = 1.0 * y + 0.8 * shared + 0.6 * rng.normal(size=rows)
    new = 1.3 * y + 0.8 * shared + 0.6 * rng.normal(size=rows)
    return y, base, new, norm.cdf(1.3 / np.sqrt(2)) - norm.cdf(1.0 / np.sqrt(2))


def regression_pair(rows: int, rng: np.random.Generator):
    """MAE of a normal error is sigma * sqrt(2 / pi): the true change is known."""
    y = rng.normal(size=rows)
    shared = rng.normal(size=rows)
    base = y + 0.8 * shared + 0.6 * rng.normal(size=rows)  # error sd 1.0
    new = y + 0.8 * shared + 0.3 * rng.normal(size=rows)  # error sd sqrt(0.73)
    return y, base, new, (np.sqrt(0.73) - 1.0) * np.sqrt(2 / np.pi)


@pytest.mark.parametrize(
    ("task", "metric", "method", "simulate"),
    [
        ("binary", "roc_auc", "bootstrap", binormal),
        ("binary", "roc_auc", "delong", binormal),
        ("regression", "mae", "bootstrap", regression_pair),
    ],
)
def test_intervals_cover_the_true_change_at_about_the_nominal_rate(task, metric, method, simulate):
    rng = np.random.default_rng(11)
    covered = []
    for i in range(200):
        y, base, new, truth = simulate(300, rng)
        d = paired_delta(metric, task, y, base, new, replicates=300, seed=i, method=method)
        covered.append(d.low <= truth <= d.high)
    assert 0.90 <= np.mean(covered) <= 0.99


def test_same_seed_same_interval_other_seed_other_replicates():
    y, base, new = binary_data()
    first, again, other = (
        paired_delta("pr_auc", "binary", y, base, new, replicates=200, seed=s) for s in (4, 4, 5)
    )
    assert first == again and first != other
    assert (first.base, first.new) == (other.base, other.new)


def test_several_metrics_share_the_same_replicates():
    y, base, new = binary_data()
    names = ["roc_auc", "pr_auc", "log_loss", "brier", "f1"]
    together = paired_deltas(names, "binary", y, base, new, replicates=200, seed=3)
    alone = [paired_delta(n, "binary", y, base, new, replicates=200, seed=3) for n in names]
    for joint, single in zip(together, alone, strict=True):  # equal but for summation order
        assert (joint.metric, joint.delta, joint.replicates) == (
            single.metric,
            single.delta,
            single.replicates,
        )
        assert (joint.low, joint.high) == pytest.approx((single.low, single.high), abs=1e-12)
    assert together[0].method == "delong" and together[1].method == "bootstrap"


@pytest.mark.parametrize(("task", "name"), CASES)
def test_identical_models_change_nothing(task, name):
    y, base, _ = DATA[task]()
    d = paired_delta(name, task, y, base, base.copy(), replicates=100)
    assert (d.delta, d.low, d.high) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("method", ["bootstrap", "delong"])
def test_a_clearly_worse_model_gets_an_interval_below_zero(method):
    rng = np.random.default_rng(0)
    y, base, _, _ = binormal(2000, rng)
    worse = base + rng.normal(0, 2.0, y.size)
    d = paired_delta("roc_auc", "binary", y, base, worse, replicates=300, method=method)
    assert d.low <= d.delta <= d.high < 0


def test_a_worse_regression_model_has_higher_error_with_certainty():
    y, base, _ = regression_data(rows=1000)
    d = paired_delta("rmse", "regression", y, base, base + 2.0, replicates=300)
    assert 0 < d.low <= d.delta <= d.high


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda y, b, n: paired_delta("roc_auc", "binary", y, b, n[:-1]),
            r"new: predictions of shape \(399,\), expected \(400,\)",
        ),
        (
            lambda y, b, n: paired_delta("roc_auc", "binary", y[:-1], b, n),
            r"base: predictions of shape \(400,\), expected \(399,\)",
        ),
        (lambda y, b, n: paired_delta("roc_auc", "binary", 0 * y, b, n), "class 1 has 0"),
        (
            lambda y, b, n: paired_delta("pr_auc", "binary", 0 * y, b, n, method="bootstrap"),
            "class 1 has 0",
        ),
        (lambda y, b, n: paired_delta("rmse", "binary", y, b, n), "unknown for binary"),
        (lambda y, b, n: paired_delta("roc_auc", "ranking", y, b, n), "task 'ranking'"),
        (lambda y, b, n: paired_delta("f1", "binary", y, b, n, method="delong"), "DeLong"),
        (lambda y, b, n: paired_delta("f1", "binary", y + 1, b, n), "class numbers 0..1"),
        (lambda y, b, n: paired_delta("f1", "binary", y, b * np.nan, n), "finite"),
        (lambda y, b, n: paired_delta("f1", "binary", y, b, n, replicates=0), "replicates"),
        (lambda y, b, n: paired_delta("f1", "binary", y, b, n, confidence=95), "confidence"),
    ],
)
def test_bad_input_is_one_clear_error(call, message):
    y, base, new = binary_data()
    with pytest.raises(RatchetError, match=message) as caught:
        call(y, base, new)
    assert "\n" not in str(caught.value)


def test_mape_refuses_a_zero_target_and_multiclass_needs_every_class_for_auc():
    y, base, new = regression_data()
    with pytest.raises(RatchetError, match="target is 0"):
        paired_delta("mape", "regression", np.where(y > 10, y, 0.0), base, new)
    y, base, new = multiclass_data()
    with pytest.raises(RatchetError, match="class 2 has 0"):
        paired_delta("roc_auc_ovr", "multiclass", np.minimum(y, 1), base, new)


def test_multiclass_predictions_are_a_matrix_of_the_same_classes():
    y, base, new = multiclass_data()
    with pytest.raises(RatchetError, match=r"expected \(400, classes\)"):
        paired_delta("accuracy", "multiclass", y, base[:, 0], new)
    with pytest.raises(RatchetError, match="shapes differ"):
        paired_delta("accuracy", "multiclass", y, base, new[:, :2])
