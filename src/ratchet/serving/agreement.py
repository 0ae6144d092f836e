"""The numbers of a shadow comparison: two models' outputs for the same rows in, a dict out.

Pure (arrays in, JSON-ready values out, no files), one function per task. Every result has
`agreement`, the share of rows on which the two versions agree, which is what
`shadow.min_agreement` gates on: binary, the same label at the decision threshold;
multiclass, the same predicted class; regression, predictions within the tolerance.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from ratchet.core.errors import RatchetError
from ratchet.pipeline.metrics import (
    classification_metrics,
    metric_key,
    multiclass_metrics,
    regression_metrics,
)

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
# shadow.tolerance: null makes the tolerance this share of the baseline predictions'
# standard deviation: small next to how much predictions vary, in the target's units.
AUTO_TOLERANCE_SHARE = 0.05


def compare(
    ids: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    threshold: float,
    labels: np.ndarray | None = None,
    top: int = 10,
) -> dict:
    """Binary: agreement at the threshold, score shift, top disagreements, metrics of both."""
    _check_rows(ids)
    base_label, cand_label = baseline >= threshold, candidate >= threshold
    delta = candidate - baseline
    order = _largest(np.abs(delta), top)
    result = {
        "rows": len(ids),
        "threshold": threshold,
        "agreement": float(np.mean(base_label == cand_label)),
        "flips": {
            "to_positive": int(np.sum(~base_label & cand_label)),
            "to_negative": int(np.sum(base_label & ~cand_label)),
        },
        "positive_rate": {
            "baseline": float(np.mean(base_label)),
            "candidate": float(np.mean(cand_label)),
        },
        "scores": {
            "baseline": describe(baseline),
            "candidate": describe(candidate),
            "mean_abs_change": float(np.mean(np.abs(delta))),
            "max_abs_change": float(np.max(np.abs(delta))),
            # KS: the largest gap between the two score CDFs, 0 (same) to 1 (disjoint).
            "ks_statistic": float(stats.ks_2samp(baseline, candidate).statistic),
            "spearman": _correlation(stats.spearmanr, baseline, candidate),
        },
        "top_disagreements": [
            _disagreement(
                ids,
                baseline,
                candidate,
                labels,
                i,
                int,
                flips=bool(base_label[i] != cand_label[i]),
            )
            for i in order
        ],
        "metrics": None,
    }
    if labels is not None:
        if len(np.unique(labels)) < 2:
            result["metrics_note"] = "labels hold one class only: no ranking metrics"
        else:
            result["metrics"] = {
                "baseline": classification_metrics(labels, baseline, threshold),
                "candidate": classification_metrics(labels, candidate, threshold),
            }
    return result


def compare_multiclass(
    ids: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    class_names: tuple[str, ...],
    labels: np.ndarray | None = None,
    top: int = 10,
) -> dict:
    """Multiclass: `baseline`/`candidate` are (rows, classes) probabilities in class order;
    `labels` class numbers. Agreement is the same predicted class."""
    _check_rows(ids)
    names = list(class_names)
    base_class, cand_class = baseline.argmax(axis=1), candidate.argmax(axis=1)
    # A row's change: the largest move of any class's probability between the versions.
    change = np.max(np.abs(candidate - baseline), axis=1)
    differs = base_class != cand_class
    order = _largest(np.where(differs, change, 0.0), top)
    result = {
        "task": "multiclass",
        "rows": len(ids),
        "classes": names,
        "agreement": float(np.mean(~differs)),
        "flips": flip_counts(base_class, cand_class, names),
        "class_share": {
            "baseline": _shares(base_class, names),
            "candidate": _shares(cand_class, names),
        },
        "class_scores": {
            name: _shift(baseline[:, i], candidate[:, i]) for i, name in enumerate(names)
        },
        "scores": {
            "mean_abs_change": float(np.mean(change)),
            "max_abs_change": float(np.max(change)),
        },
        "top_disagreements": [
            {
                "id": str(ids[i]),
                "baseline": names[base_class[i]],
                "candidate": names[cand_class[i]],
                "baseline_score": float(baseline[i, base_class[i]]),
                "candidate_score": float(candidate[i, cand_class[i]]),
                "change": float(change[i]),
                **({"label": names[int(labels[i])]} if labels is not None else {}),
            }
            for i in order
        ],
        "metrics": None,
    }
    if labels is not None:
        absent = [name for i, name in enumerate(names) if not np.any(labels == i)]
        # A class with no labelled row has no recall, and one-vs-rest AUC needs them all.
        undefined = {f"recall_{metric_key(n)}" for n in absent} | (
            {"roc_auc_ovr"} if absent else set()
        )
        why = f"labels hold no row of class {', '.join(absent)}" if absent else ""
        result.update(
            _metrics_of_both(
                lambda p: multiclass_metrics(labels, p, class_names),
                baseline,
                candidate,
                undefined,
                why,
            )
        )
    return result


def compare_regression(
    ids: np.ndarray,
    baseline: np.ndarray,
    candidate: np.ndarray,
    tolerance: float | None = None,
    labels: np.ndarray | None = None,
    top: int = 10,
) -> dict:
    """Regression: agreement is the share of rows whose predictions differ by at most the
    tolerance (target units; None: AUTO_TOLERANCE_SHARE of the baseline's standard deviation)."""
    _check_rows(ids)
    delta = candidate - baseline
    gap = np.abs(delta)
    auto = tolerance is None
    if auto:
        tolerance = AUTO_TOLERANCE_SHARE * float(np.std(baseline))
    within = gap <= tolerance
    result = {
        "task": "regression",
        "rows": len(ids),
        "tolerance": {"value": tolerance, "auto": auto},
        "agreement": float(np.mean(within)),
        "beyond_tolerance": int(np.sum(~within)),
        "predictions": {"baseline": describe(baseline), "candidate": describe(candidate)},
        "differences": {
            "mean": float(np.mean(delta)),  # candidate minus baseline: a systematic shift
            "mean_abs": float(np.mean(gap)),
            "max_abs": float(np.max(gap)),
            "pearson": _correlation(stats.pearsonr, baseline, candidate),
        },
        "top_disagreements": [
            _disagreement(
                ids, baseline, candidate, labels, i, float, within_tolerance=bool(within[i])
            )
            for i in _largest(gap, top)
        ],
        "metrics": None,
    }
    if labels is not None:
        result.update(
            _metrics_of_both(
                lambda p: regression_metrics(labels, p), baseline, candidate, set(), ""
            )
        )
    return result


def flip_counts(base: np.ndarray, cand: np.ndarray, names: list[str]) -> list[dict]:
    """Rows per (baseline class → candidate class) change, only those that happen, most first."""
    counts = np.zeros((len(names), len(names)), dtype="int64")
    np.add.at(counts, (base, cand), 1)
    cells = [(int(counts[i, j]), i, j) for i, j in zip(*np.nonzero(counts), strict=True) if i != j]
    return [
        {"from": names[i], "to": names[j], "rows": n}
        for n, i, j in sorted(cells, key=lambda cell: (-cell[0], cell[1], cell[2]))
    ]


def describe(values: np.ndarray) -> dict[str, float]:
    """Mean and quantiles: how a version's outputs are spread over the batch."""
    out = {"mean": float(np.mean(values))}
    out.update({f"p{round(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES})
    return out


def _disagreement(ids, baseline, candidate, labels, i: int, label_type, **flags: bool) -> dict:
    """Row i of a top-disagreements list: both outputs, the change, flags, the true label."""
    row = {
        "id": str(ids[i]),
        "baseline": float(baseline[i]),
        "candidate": float(candidate[i]),
        "change": float(candidate[i] - baseline[i]),
        **flags,
    }
    return row | ({"label": label_type(labels[i])} if labels is not None else {})


def _check_rows(ids: np.ndarray) -> None:
    if len(ids) == 0:
        raise RatchetError("no rows to compare: the batch is empty after validation")


def _largest(change: np.ndarray, top: int) -> np.ndarray:
    """Positions of the `top` largest changes, largest first; no change is no disagreement."""
    order = np.argsort(-change, kind="stable")[:top]
    return order[change[order] != 0]


def _shares(predicted: np.ndarray, names: list[str]) -> dict[str, float]:
    counts = np.bincount(predicted, minlength=len(names))
    return {name: float(counts[i] / len(predicted)) for i, name in enumerate(names)}


def _shift(base: np.ndarray, cand: np.ndarray) -> dict[str, float]:
    b, c = float(np.mean(base)), float(np.mean(cand))
    return {"baseline": b, "candidate": c, "change": c - b}


def _correlation(method, a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None  # undefined for constant outputs
    return float(method(a, b).statistic)


def _metrics_of_both(metrics_of, baseline, candidate, undefined: set[str], why: str) -> dict:
    """Each version's metrics, keeping only those defined on this batch (a note names the
    rest): a batch may lack a class, or be a single row."""
    with warnings.catch_warnings():
        # scikit-learn warns about the very metrics dropped below.
        warnings.simplefilter("ignore")
        both = {"baseline": metrics_of(baseline), "candidate": metrics_of(candidate)}
    dropped = sorted(
        name
        for name in both["baseline"]
        if name in undefined or any(np.isnan(both[side][name]) for side in both)
    )
    out = {
        "metrics": {
            side: {k: v for k, v in m.items() if k not in dropped} for side, m in both.items()
        }
    }
    if dropped:
        out["metrics_note"] = (
            f"{why}: " if why else ""
        ) + f"not defined on this batch: {', '.join(dropped)}"
    return out
