"""The changes the gate benchmark proposes, and what their outcomes add up to. Pure.

A NOISE change leaves the model's quality as it is: a fresh sample of the same synthetic
world (`sample.seed`) or another train/test split of the same table (`featurize.seed`).
Any fail on one is a false fail. A DEGRADATION change is noise change i plus a known,
sample-independent loss of quality, so the two groups see the same seed perturbations and
differ only by the degradation. The degradations were sized on 200,000 held-out rows,
three 20k training samples each (base = the template's params); the benchmark measures
each change's own true effect again on its held-out sample:

    stumps         max_depth 1, 40 trees    ROC AUC -0.045, PR AUC -0.11, log loss +0.073,
                                             Brier +0.024
    miscalibrated  class_weight balanced    log loss +0.10, Brier +0.040 (ranking unchanged)
    undertrained   10 trees instead of 200  log loss beyond +0.035 (20 trees: +0.035)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

NOISE, DEGRADATION = "noise", "degradation"
FIRST_SEED = 1_000  # seeds of the changes; the template's own are 2026 and 42
DEGRADATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("stumps", {"train.max_depth": 1, "train.max_iter": 40}),
    ("miscalibrated", {"train.class_weight": "balanced"}),
    ("undertrained", {"train.max_iter": 10}),
)
# Gated metrics: the template's gate rules (params.yaml gate.rules), in their order.
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
LOWER_IS_BETTER = {"log_loss", "brier"}


@dataclass(frozen=True)
class Change:
    name: str
    group: str  # NOISE or DEGRADATION
    kind: str  # what the change does, e.g. "sample.seed" or "stumps + featurize.seed"
    params: dict[str, Any]  # dotted params key -> new value


def noise(i: int) -> Change:
    """Noise change i: a new sample (even i) or a new split (odd i)."""
    key = "sample.seed" if i % 2 == 0 else "featurize.seed"
    return Change(f"noise-{i:02d}", NOISE, key, {key: FIRST_SEED + i})


def degradation(i: int) -> Change:
    """Noise change i with degradation i mod 3 on top."""
    base = noise(i)
    name, settings = DEGRADATIONS[i % len(DEGRADATIONS)]
    return Change(
        f"degraded-{i:02d}", DEGRADATION, f"{name} + {base.kind}", {**base.params, **settings}
    )


def plan(n: int) -> list[Change]:
    """n noise changes, then n degradations."""
    return [noise(i) for i in range(n)] + [degradation(i) for i in range(n)]


def worse_by(metric: str, base: float, current: float) -> float:
    """How much worse `current` is than `base` (negative: better)."""
    return current - base if metric in LOWER_IS_BETTER else base - current


def fails(results: list[dict], group: str, mode: str) -> tuple[int, int]:
    """(fails, total) of a group under one gate mode."""
    rows = [r for r in results if r["group"] == group]
    return sum(not r["gate"][mode]["passed"] for r in rows), len(rows)


def beyond_allowance(result: dict, allowances: dict[str, float]) -> list[str]:
    """The metrics whose TRUE regression (held-out sample) exceeds the gate's allowance."""
    true = result["true_delta"]
    return [m for m in METRICS if m in true and worse_by(m, 0.0, true[m]) > allowances[m]]


def pairwise_point_fails(results: list[dict], allowances: dict[str, float]) -> tuple[int, int]:
    """(fails, pairs) of a plain point comparison over every ordered pair of noise samples.

    One fixed base says little about the false-fail rate: a base whose test split happened
    to flatter it fails many harmless changes, an unlucky one few. Within one kind of
    noise change (the base counts as one more sample) any sample could have been the base,
    so every ordered pair is a harmless pull request. Only the allowances are applied (the
    floors and ceilings are far from these metrics).
    """
    fails = pairs = 0
    kinds = sorted({r["kind"] for r in results if r["group"] == NOISE})
    for kind in kinds:
        zero = dict.fromkeys(METRICS, 0.0)
        samples = [zero] + [r["test_delta"] for r in results if r["kind"] == kind]
        for base, current in itertools.permutations(samples, 2):
            pairs += 1
            fails += any(worse_by(m, base[m], current[m]) > allowances[m] + 1e-9 for m in METRICS)
    return fails, pairs
