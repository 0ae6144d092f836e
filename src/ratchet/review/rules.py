"""The gate's rules, applied to one metric at a time. Pure: numbers in, verdicts out.

Two ways to judge a regression (`gate.compare`):
- paired: `Delta` holds both models' values on the same unseen rows and a confidence
  interval of the change. A regression fails when it exceeds its allowance AND the
  interval lies wholly on the worse side of 0: the model is worse by more than allowed,
  and the data show it is worse at all, not a draw of the held-out rows.
- point (or no pair available): the committed metrics, compared as plain numbers.
Floors and ceilings always apply to this change's own committed value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ratchet.core.params import MetricRule
from ratchet.review.intervals import Delta

# Metrics are rounded to 6 decimals; a regression exactly at the limit passes.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Check:
    metric: str
    rule: MetricRule
    base: float | None  # None: the base has no (finite) value, so no regression check
    current: float | None  # None: missing or not a finite number in this change
    failures: tuple[str, ...]
    paired: Delta | None = None  # both models on the same rows, with the interval

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def delta(self) -> float | None:
        if self.paired is not None:
            return self.paired.delta
        if self.base is None or self.current is None:
            return None
        return self.current - self.base

    @property
    def compared(self) -> tuple[float | None, float | None]:
        """(base, this change) as the regression check saw them: paired values if any."""
        if self.paired is not None:
            return self.paired.base, self.paired.new
        return self.base, self.current


def significant(paired: Delta, direction: str) -> bool:
    """Whether the interval lies wholly on the worse side of 0 (not explained by noise)."""
    return paired.high < 0 if direction == "higher" else paired.low > 0


def fmt_interval(paired: Delta | None) -> str:
    return "" if paired is None else f"[{paired.low:+.4f}, {paired.high:+.4f}]"


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


def check_metric(
    name: str, rule: MetricRule, base: Any, current: Any, source: str, paired: Delta | None = None
) -> Check:
    """Apply one rule. `current` is the raw value from `source`; `base` the base's raw value;
    `paired`, when given, the two models on the same rows: the regression is judged on it."""
    base_value = number(base)
    value = number(current)
    if value is None:
        why = "missing" if current is None else f"not a finite number ({current!r})"
        return Check(name, rule, base_value, None, (f"{why} in {source}",), paired)
    failures = []
    if rule.min is not None and value < rule.min - TOLERANCE:
        failures.append(f"below the floor {fmt(rule.min)}")
    if rule.max is not None and value > rule.max + TOLERANCE:
        failures.append(f"above the ceiling {fmt(rule.max)}")
    before, after = (paired.base, paired.new) if paired is not None else (base_value, value)
    if before is not None:
        failures += regressions(rule, before, after, paired)
    return Check(name, rule, base_value, value, tuple(failures), paired)


def regressions(rule: MetricRule, before: float, after: float, paired: Delta | None) -> list[str]:
    """Why the change regresses beyond its allowance (empty: it does not, or, paired,
    its interval does not exclude noise)."""
    worse_by = before - after if rule.direction == "higher" else after - before
    if paired is not None and not significant(paired, rule.direction):
        return []
    noise = "" if paired is None else f", {fmt_interval(paired)} excludes 0"
    out = []
    if rule.max_regression is not None and worse_by > rule.max_regression + TOLERANCE:
        out.append(
            f"worse than base by {fmt(worse_by)} (allowed {fmt(rule.max_regression)}{noise})"
        )
    if rule.max_relative_regression is not None and before != 0:
        share = worse_by / abs(before)
        if share > rule.max_relative_regression + TOLERANCE:
            out.append(
                f"worse than base by {share:.2%} "
                f"(allowed {rule.max_relative_regression:.2%}{noise})"
            )
    return out


def check_all(
    rules: dict[str, MetricRule],
    base: dict[str, Any] | None,
    current: dict[str, Any] | None,
    source: str,
    paired: dict[str, Delta] | None = None,
) -> list[Check]:
    """Every rule, in the order params.yaml lists them. No base metrics: bounds only.
    A metric in `paired` is judged on the pair; the others on the committed metrics."""
    paired = paired or {}
    if current is None:
        return [
            Check(name, rule, number((base or {}).get(name)), None, (f"{source} is missing",))
            for name, rule in rules.items()
        ]
    return [
        check_metric(
            name, rule, (base or {}).get(name), current.get(name), source, paired.get(name)
        )
        for name, rule in rules.items()
    ]
