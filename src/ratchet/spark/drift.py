"""`ratchet drift --engine spark`: drift of a batch too big for one process.

Spark reads the current batch (and --reference when given) and checks every row with the
pandas path's column checks, one Arrow batch at a time (`ratchet.spark.checking`): a batch
that fails is a data problem, not drift, as in the pandas path. Spark then draws a seeded
sample of `monitor.current_rows` / `monitor.reference_rows` rows, and only the sample comes
to this process, where the pandas path's own code scores it and runs the Evidently report
(`ratchet.monitoring.drift`). Evidently compares by effect size above 1,000 rows, so a
100k-row sample gives the verdict the whole table would.
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from ratchet.dataset import schema
from ratchet.dataset.validation import Result
from ratchet.monitoring import drift, monitor
from ratchet.spark import checking, engine, tables


def sample(rows: Any, count: int, size: int, seed: int) -> pd.DataFrame:
    """`size` rows of the typed rows (all of them when there are no more), in read order.

    Each row's place in the draw is a hash of the seed and its row number, so a seed and
    an input give the same sample however Spark partitions the work; the smallest `size`
    hashes are a top-k the executors find without sorting the table.
    """
    from pyspark.sql import functions as F

    if count > size:
        key = F.xxhash64(F.lit(seed), F.col(checking.ROW))
        rows = rows.orderBy(key, checking.ROW).limit(size)
    frame = rows.toPandas().sort_values(checking.ROW, kind="stable")
    return frame.drop(columns=[checking.ROW]).reset_index(drop=True)


def load_batch(
    spark: Any, source: str, size: int, seed: int, partitions: int | None = None
) -> monitor.Batch:
    """Read and check every row with Spark, then featurize a seeded sample here."""
    df, fmt = tables.read(spark, source)
    labelled = schema.TARGET in df.columns
    checked = checking.check(df, fmt, source=source, require_target=labelled, partitions=partitions)
    found = checking.summary(checked, frozenset())
    if found.failures:
        raise drift.data_problem(source, Result(None, found.failures, [], pd.DataFrame()))
    # The sample's cells come back with Spark's types; typed again as the pandas reader
    # types Parquet, they pass the same checks and build the same features.
    picked = tables.as_read(sample(checked.rows, checked.count, size, seed), "parquet")
    return drift.checked_batch(picked, source)


def command(args: argparse.Namespace) -> int:
    spark = engine.session(args.master)

    def load(source: str, size: int, seed: int) -> monitor.Batch:
        return load_batch(spark, source, size, seed, args.partitions)

    return drift.command(args, load)
