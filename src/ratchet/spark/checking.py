"""Every row of a Spark table through the pandas path's checks, one Arrow batch at a time.

Each batch is typed as the single-process reader types it (`tables.as_read`) and checked by
`validation.check` with the same pandera schema, so custom checks, coercion and the
contract's normalisation are the very code the pandas path runs. Rows carry their global
row number (read order), so failure cases name the rows the pandas path names.

Checks a batch cannot answer alone are done on the whole table here: a column's uniqueness
(duplicates across batches), and the rule that a column which does not convert reports
only that (its other checks fail for the same reason). Dataset expectations are measured
from the typed rows by `ratchet.spark.measures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, schema, validation
from ratchet.dataset.validation import Failure
from ratchet.spark import tables

ROW = "__ratchet_row"  # 1-based row number in read order
_KIND = "__ratchet_kind"
CASE_COLUMNS = ("key", "column", "check", "row", "value", "policy")
_CASE = {name: f"__ratchet_case_{name}" for name in CASE_COLUMNS if name != "row"}
# The Spark type of each dtype the schema coerces to.
_SPARK_TYPES = {
    "Int64": "bigint",
    "float64": "double",
    "string[pyarrow]": "string",
    "boolean": "boolean",
    "datetime64[ns]": "timestamp_ntz",
}


@dataclass(frozen=True)
class Checked:
    """A checked table: typed rows (with ROW), failure cases (CASE_COLUMNS, as each batch
    reported them: `summary` tidies them), the row count, and the columns the input lacks."""

    rows: Any
    cases: Any
    count: int
    absent: frozenset[str]


@dataclass(frozen=True)
class Summary:
    """The row checks' failures (errors and warnings, by (column, check)), the columns that
    do not convert, and the failure cases as the pandas path lists them."""

    failures: list[Failure]
    broken: frozenset[str]
    cases: Any


def numbered(df: Any, source: str, partitions: int | None) -> tuple[Any, dict[int, int], int]:
    """(rows with ROW ids, each partition's first row number, row count); no rows is an
    error, as it is for the single-process reader."""
    with_id, offsets, count = tables.counted(df, ROW)
    if count == 0:
        raise RatchetError(f"{source}: has a header but no rows")
    if partitions:
        with_id = with_id.repartition(partitions)
    return with_id, offsets, count


def typed_columns(input_columns: list[str], c: contract.Contract, require_target: bool):
    """(name, dtype) of the schema's columns the input has, in the input's order."""
    columns = schema.raw_schema(require_target=require_target, expectations=False, c=c).columns
    return [(name, str(columns[name].dtype)) for name in input_columns if name in columns]


def check(
    df: Any,
    fmt: str,
    *,
    source: str,
    require_target: bool = True,
    warn: frozenset[str] = frozenset(),
    partitions: int | None = None,
) -> Checked:
    """Run the row checks on every row; nothing is computed until the results are used."""
    from pyspark.sql import functions as F

    c = contract.current()
    with_id, offsets, count = numbered(df, source, partitions)
    typed = typed_columns(df.columns, c, require_target)
    unique = frozenset(name for name, _ in typed if c.columns[name].unique)
    skip = frozenset(f"{name}.field_uniqueness" for name in unique)
    spark_schema = ", ".join(
        [f"`{_KIND}` string", f"`{ROW}` bigint"]
        + [f"`{name}` {_SPARK_TYPES[dtype]}" for name, dtype in typed]
        + [f"`{column}` string" for column in _CASE.values()]
    )
    per_batch = _batch_checker(c, fmt, offsets, typed, warn, skip, require_target)
    out = with_id.mapInPandas(per_batch, spark_schema).persist()
    rows = out.filter(F.col(_KIND) == "row").select(ROW, *[name for name, _ in typed])
    cases = out.filter(F.col(_KIND) == "case").select(
        *[F.col(_CASE[name]).alias(name) if name != "row" else F.col(ROW).alias("row")
          for name in CASE_COLUMNS]
    )  # fmt: skip
    for name in sorted(unique):
        cases = cases.unionByName(_duplicates(rows, name, warn))
    wanted = [name for name in c.columns if require_target or name != c.target]
    absent = frozenset(name for name in wanted if name not in df.columns)
    return Checked(rows, cases, count, absent)


def _batch_checker(c, fmt, offsets, typed, warn, skip, require_target):
    """The function each Python worker runs over its batches (shipped with its arguments)."""
    dtypes = dict(typed)

    def per_batch(batches):
        with contract.use(c):
            for batch in batches:
                if batch.empty:
                    continue
                rows = tables.row_numbers(batch[ROW].to_numpy(), offsets)
                raw = tables.as_read(batch.drop(columns=[ROW]), fmt, c)
                raw.index = pd.Index(rows - 1)  # failure cases name global rows
                result = validation.check(
                    raw, require_target=require_target, warn=warn, skip=skip, expectations=False
                )
                yield _row_frame(result.data, rows, dtypes)
                if len(result.failure_cases):
                    yield _case_frame(result.failure_cases, dtypes)

    return per_batch


def _row_frame(data: pd.DataFrame | None, rows, dtypes: dict[str, str]) -> pd.DataFrame:
    """The batch's typed rows; a column that did not convert here is null (its coercion
    failure is the report, and no expectation is measured on it)."""
    n = len(rows)
    out = {_KIND: pd.Series("row", index=range(n), dtype=object), ROW: rows}
    for name, dtype in dtypes.items():
        values = None if data is None or name not in data else data[name]
        if values is None or values.dtype != pd.api.types.pandas_dtype(dtype):
            out[name] = _nulls(n, dtype)
        else:
            out[name] = values.reset_index(drop=True)
    for column in _CASE.values():
        out[column] = _nulls(n, object)
    return pd.DataFrame(out)


def _case_frame(cases: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    n = len(cases)
    out = {_KIND: ["case"] * n, ROW: cases["row"].astype("Int64").reset_index(drop=True)}
    out.update({name: _nulls(n, dtype) for name, dtype in dtypes.items()})
    out.update({_CASE[name]: cases[name].astype(str).to_numpy() for name in _CASE})
    return pd.DataFrame(out)


def _nulls(n: int, dtype: Any) -> pd.Series:
    return pd.Series(None, index=range(n), dtype=dtype)


def _duplicates(rows: Any, name: str, warn: frozenset[str]) -> Any:
    """Failure cases of a unique column over the whole table: every row whose value occurs
    more than once (nulls included), as pandera's field_uniqueness reports them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    key = f"{name}.field_uniqueness"
    counted = rows.withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy(name)))
    return counted.filter(F.col("_n") > 1).select(
        F.lit(key).alias("key"),
        F.lit(name).alias("column"),
        F.lit("field_uniqueness").alias("check"),
        F.col(ROW).alias("row"),
        F.coalesce(F.col(name).cast("string"), F.lit("nan")).alias("value"),
        F.lit("warn" if key in warn else "error").alias("policy"),
    )


def summary(checked: Checked, warn: frozenset[str]) -> Summary:
    """One Failure per (column, check) with its count and first examples by row, as
    `validation.summarise` makes them, from one Spark job; only the summary reaches the
    driver. As in the pandas path, a column that does not convert reports only that (its
    other checks fail for the same reason), and a table-level case (no row) counts once,
    not once per batch."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    per_row = checked.cases.filter(F.col("row").isNotNull())
    table_level = checked.cases.filter(F.col("row").isNull()).dropDuplicates(list(CASE_COLUMNS))
    cases = per_row.unionByName(table_level)
    group = Window.partitionBy("column", "check")
    heads = (
        cases.withColumn("_i", F.row_number().over(group.orderBy(F.col("row").asc_nulls_first())))
        .withColumn("_n", F.count(F.lit(1)).over(group))
        .filter(F.col("_i") <= validation.MAX_EXAMPLES)
        .orderBy("column", "check", "_i")
        .collect()
    )
    groups: dict[tuple[str, str], tuple[int, list[dict[str, Any]]]] = {}
    for r in heads:
        _, examples = groups.setdefault((r["column"], r["check"]), (int(r["_n"]), []))
        examples.append({"row": None if r["row"] is None else int(r["row"]), "value": r["value"]})
    broken = frozenset(column for column, check in groups if check.startswith("coerce_dtype"))
    out = []
    for (column, check_name), (count, examples) in sorted(groups.items()):
        if column in broken and not check_name.startswith("coerce_dtype"):
            continue
        f = Failure(column, check_name, count, examples)
        out.append(validation.as_warning(f) if f.key in warn else f)
    if broken:
        noise = F.col("column").isin(sorted(broken)) & ~F.col("check").startswith("coerce_dtype")
        cases = cases.filter(~noise)
    return Summary(out, broken, cases)


def sorted_cases(cases: Any) -> Any:
    """The cases in the pandas path's order: column, check, then row (table-level first)."""
    from pyspark.sql import functions as F

    return cases.orderBy("column", "check", F.col("row").asc_nulls_first(), "value")
