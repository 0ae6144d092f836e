"""Dataset expectations and data metrics of a typed Spark table, with Spark aggregates.

Each measure is the Spark form of `schema._measure` (pandas semantics: nulls skipped,
shares over every row, quantiles interpolated linearly between the two nearest values,
sample standard deviation); the verdict and the message come from the same `Expectation`
objects the pandas path judges with. One aggregate pass answers every simple measure;
class shares, duplicates and offending rows cost a pass each, only where asked.
"""

from __future__ import annotations

import math
from typing import Any

from ratchet.dataset import contract, schema, validation
from ratchet.dataset.validation import Failure

# Failure cases of a dataset expectation, as pandera reports a table check that returned
# False: no row, the value False.
EXPECTATION_CASE_VALUE = "False"


def absent_cases(absent: frozenset[str], warn: frozenset[str]) -> list[tuple]:
    """Failure cases (key, column, check, row, value, policy) of the expectations on
    columns the input lacks. The report names only the missing column; the pandas path's
    failures CSV also lists each such expectation with the error pandera caught."""
    out = []
    for e in schema.expectations(contract.current()):
        if e.column in absent:
            policy = "warn" if e.key in warn else "error"
            out.append((e.key, e.column, e.name, None, f'KeyError("{e.column}")', policy))
    return out


def _expression(e: schema.Expectation, n: int) -> Any:
    """A one-row aggregate for the expectation's measure, or None (class shares)."""
    from pyspark.sql import functions as F

    if e.column == "table":
        return F.lit(float(n))
    col = F.col(f"`{e.column}`")
    number = col.cast("double")
    name = e.name
    if name == "null_share":
        return F.sum(F.when(col.isNull(), 1).otherwise(0)) / F.lit(n)
    if name == "unique_share":
        return F.count_distinct(col) / F.lit(max(n, 1))
    if name == "distinct":
        return F.count_distinct(col).cast("double")
    if name in ("min_class_share", "max_class_share"):
        return None
    if name == "zero_share":
        return F.sum(F.when(number == 0, 1).otherwise(0)) / F.lit(n)
    if name in ("label_rate", "mean"):
        return F.avg(number)
    if name == "median":
        return F.percentile(number, 0.5)
    if name.startswith("p") and name[1:].isdigit():
        return F.percentile(number, int(name[1:]) / 100)
    if name == "std":
        return F.stddev_samp(number)
    return {"min": F.min, "max": F.max}[name](number)


def _class_share(rows: Any, e: schema.Expectation) -> float:
    """min/max over the shares of each value among the non-null cells (value_counts)."""
    from pyspark.sql import functions as F

    counts = [r["count"] for r in rows.filter(F.col(f"`{e.column}`").isNotNull())
              .groupBy(e.column).count().collect()]  # fmt: skip
    if not counts:
        return 0.0
    pick = min if e.name.startswith("min") else max
    return pick(counts) / sum(counts)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def observed(rows: Any, chosen: list[schema.Expectation], n: int) -> dict[str, float]:
    """Each expectation's measured value, by key."""
    expressions = {e.key: _expression(e, n) for e in chosen}
    simple = {k: x for k, x in expressions.items() if x is not None}
    values: dict[str, float] = {}
    if simple:
        keys = sorted(simple)
        row = rows.agg(*[simple[k].alias(f"m{i}") for i, k in enumerate(keys)]).first()
        values = {k: _number(row[f"m{i}"]) for i, k in enumerate(keys)}
    for e in chosen:
        if e.key not in values:
            values[e.key] = _class_share(rows, e)
    return values


def _offending(rows: Any, e: schema.Expectation, row_column: str) -> tuple[list, int]:
    """(first examples, count) of the rows a failed unique_share involves: every row whose
    value occurs more than once (nulls included), as `duplicated(keep=False)`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counted = rows.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy(e.column)))
    dups = counted.filter(F.col("_n") > 1)
    head = dups.orderBy(row_column).limit(validation.MAX_EXAMPLES).collect()
    examples = [{"row": int(r[row_column]), "value": str(r[e.column])} for r in head]
    return examples, int(dups.count())


def expectations(
    rows: Any,
    n: int,
    *,
    row_column: str,
    rows_bounds: tuple[int, int] | None,
    require_target: bool,
    skipped: frozenset[str],
) -> list[Failure]:
    """The failed dataset expectations of the typed rows (with `row_column` row numbers).

    skipped: columns whose expectations are not judged (absent ones are reported as
    missing; ones that do not convert, by their coercion failure).
    """
    c = contract.current()
    chosen = [e for e in schema.expectations(c) if require_target or e.column != c.target]
    if rows_bounds is not None:
        chosen.append(schema.expectation_for("table.row_count", rows_bounds))
    chosen = [e for e in chosen if e.column not in skipped]
    values = observed(rows, chosen, n)
    failed = []
    for e in chosen:
        if e.holds(values[e.key]):
            continue
        text = validation.observed_text(values[e.key])
        if e.offending is None:
            failed.append(validation.expectation_failure(e, e.name, text))
        else:
            examples, involved = _offending(rows, e, row_column)
            failed.append(validation.expectation_failure(e, e.name, text, examples, involved))
    return failed


def data_metrics(rows: Any, n: int, names: list[str]) -> dict[str, Any]:
    """`pipeline.validate.data_metrics` of the typed rows, from one aggregate pass (and one
    for a multiclass target's class shares)."""
    from pyspark.sql import functions as F

    c = contract.current()
    numeric = sorted(
        name
        for name in names
        if name != c.target and c.columns.get(name) and c.columns[name].type in ("integer", "float")
    )
    aggregates = [
        (F.sum(F.when(F.col(f"`{name}`").isNull(), 1).otherwise(0)) / F.lit(n)).alias(f"n{i}")
        for i, name in enumerate(sorted(names))
    ]
    aggregates += [F.avg(F.col(f"`{name}`")).alias(f"m{i}") for i, name in enumerate(numeric)]
    aggregates.append(F.avg(F.col(f"`{c.target}`").cast("double")).alias("target"))
    row = rows.agg(*aggregates).first()
    if c.task == "binary":
        target = {"label_rate": round(_number(row["target"]), 6)}
    elif c.task == "regression":
        target = {"target_mean": round(_number(row["target"]), 6)}
    else:
        counts = dict(rows.groupBy(c.target).count().collect())
        total = sum(v for k, v in counts.items() if k is not None) or 1
        target = {
            "class_share": {
                name: round(counts.get(i, 0) / total, 6) for i, name in enumerate(c.class_names)
            }
        }
    return {
        "rows": n,
        **target,
        "null_share": {
            name: round(_number(row[f"n{i}"]), 6) for i, name in enumerate(sorted(names))
        },
        "mean": {name: round(_number(row[f"m{i}"]), 6) for i, name in enumerate(numeric)},
    }
