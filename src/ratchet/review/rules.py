"""The gate's rules, applied to one metric at a time. Pure: numbers in, verdicts out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ratchet.core.params import MetricRule

# Metrics are rounded to 6 decimals; a regression exactly at the limit passes.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    metric: str
    rule: MetricRule
    base: float | None  # None: the base has no (finite) value, so no regression check
    current: float | None  # None: missing or not a finite number in this change
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def delta(self) -> float | None:
        if self.base is None or self.current is None:
            return None
        return self.current - self.base


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing, NaN, infinity, text, bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if float(value).is_integer() and abs(value) >= 1000:
        return f"{int(value):,}"
    return f"{value:.4f}"


def fmt_delta(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4f}"


def describe(rule: MetricRule) -> str:
    """The rule in a few words, e.g. 'higher is better; ≥ 0.8000; drop ≤ 0.0100'."""
    parts = [f"{rule.direction} is better"]
    if rule.min is not None:
        parts.append(f"≥ {fmt(rule.min)}")
    if rule.max is not None:
        parts.append(f"≤ {fmt(rule.max)}")
    worse = "drop" if rule.direction == "higher" else "rise"
    if rule.max_regression is not None:
        parts.append(f"{worse} ≤ {fmt(rule.max_regression)}")
    if rule.max_relative_regression is not None:
        parts.append(f"{worse} ≤ {rule.max_relative_regression:.1%} of base")
    return "; ".join(parts)


def check_metric(name: str, rule: MetricRule, base: Any, current: Any, source: str) -> Check:
    """Apply one rule. `current` is the raw value from `source`; `base` the base's raw value."""
    base_value = number(base)
    value = number(current)
    if value is None:
        why = "missing" if current is None else f"not a finite number ({current!r})"
        return Check(name, rule, base_value, None, (f"{why} in {source}",))
    failures = []
    if rule.min is not None and value < rule.min - TOLERANCE:
        failures.append(f"below the floor {fmt(rule.min)}")
    if rule.max is not None and value > rule.max + TOLERANCE:
        failures.append(f"above the ceiling {fmt(rule.max)}")
    if base_value is not None:
        worse_by = base_value - value if rule.direction == "higher" else value - base_value
        if rule.max_regression is not None and worse_by > rule.max_regression + TOLERANCE:
            failures.append(
                f"worse than base by {fmt(worse_by)} (allowed {fmt(rule.max_regression)})"
            )
        if rule.max_relative_regression is not None and base_value != 0:
            share = worse_by / abs(base_value)
            if share > rule.max_relative_regression + TOLERANCE:
                failures.append(
                    f"worse than base by {share:.2%} (allowed {rule.max_relative_regression:.2%})"
                )
    return Check(name, rule, base_value, value, tuple(failures))


def check_all(
    rules: dict[str, MetricRule],
    base: dict[str, Any] | None,
    current: dict[str, Any] | None,
    source: str,
) -> list[Check]:
    """Every rule, in the order params.yaml lists them. No base metrics: bounds only."""
    if current is None:
        return [
            Check(name, rule, number((base or {}).get(name)), None, (f"{source} is missing",))
            for name, rule in rules.items()
        ]
    return [
        check_metric(name, rule, (base or {}).get(name), current.get(name), source)
        for name, rule in rules.items()
    ]
