"""`ratchet score --engine spark`: batch scoring of a table bigger than one machine.

The driver loads the model exactly as the pandas path does (a model that cannot be loaded
fails before Spark reads anything), checks the input's columns, numbers its rows, and
runs one `mapInPandas` job whose workers score each Arrow batch with the pandas path's own
functions (`worker.score_batches`). That job's result (scores, rejected rows, failures in
one schema) is persisted, so rows are scored once; the driver then stops on a failure or
a bad row (the first in input order, in the pandas path's words) or writes the scores and
the quarantine, each to a temporary location first: a failure leaves old outputs whole.
"""

from __future__ import annotations

import argparse
import hashlib
from functools import partial
from typing import Any

import pandas as pd

from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams
from ratchet.dataset import contract, validation
from ratchet.pipeline import model
from ratchet.registry import loading
from ratchet.serving import score
from ratchet.spark import engine, tables, worker

# Spark's Arrow batch size: the rows each worker checks and scores at a time.
BATCH_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"


def command(args: argparse.Namespace) -> int:
    check_arguments(args)
    threshold = params.section("evaluate", EvaluateParams, args.params).threshold
    data, source, ref = loading.file_or_registered_bytes(args.model, args.version, args.stage)
    pipeline = model.from_bytes(data, source)  # on the driver, before any Spark work
    version = ref.version if ref else loading.file_version(args.model)
    c = model.contract_for(pipeline)
    check_partition_by(args.partition_by or [], c)
    with contract.use(c):
        scored, rejected = run(args, data, source, c, threshold, version)
    note = f", {rejected} rows quarantined in {args.quarantine}" if args.quarantine else ""
    print(f"scored {scored} rows with {version} -> {args.output}{note}")
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    for option, target in (("--output", args.output), ("--quarantine", args.quarantine)):
        if target and target.lower().endswith(".csv"):
            raise RatchetError(
                f"{option} {target}: Spark writes Parquet folders or catalog tables, not CSV"
            )
    if args.quarantine and args.quarantine == args.output:
        raise RatchetError(f"--quarantine {args.quarantine}: the same place as --output")
    if args.chunk_rows < 1:
        raise RatchetError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")


def output_columns(c: contract.Contract) -> tuple[str, ...]:
    return tuple(score.output_schema(c).names)


def check_columns(columns: list[str], c: contract.Contract) -> None:
    """Table-level problems, found from the column names alone (before any Spark job).

    The header goes through the pandas path's own check, so a missing column is reported
    in its words.
    """
    header = pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    result = validation.check(header, require_target=c.target in columns, expectations=False)
    if not result.passed:
        raise RatchetError(validation.summary(result).strip())


def check_partition_by(partition_by: list[str], c: contract.Contract) -> None:
    known = output_columns(c)
    for name in partition_by:
        if name not in known:
            raise RatchetError(
                f"--partition-by {name}: not an output column (one of {', '.join(known)})"
            )


def spark_schema(c: contract.Contract) -> Any:
    """The job's one schema: the output columns, then KIND and the rejected rows' fields."""
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import from_arrow_schema

    layout = from_arrow_schema(score.output_schema(c))
    for name, kind in (
        (worker.KIND, T.IntegerType()),
        (worker.ROW, T.LongType()),
        (worker.SEQ, T.LongType()),
        (worker.COLUMN, T.StringType()),
        (worker.CHECK, T.StringType()),
        (worker.VALUE, T.StringType()),
    ):
        layout = layout.add(name, kind, nullable=True)
    return layout


def run(
    args: argparse.Namespace,
    data: bytes,
    source: str,
    c: contract.Contract,
    threshold: float,
    version: str,
) -> tuple[int, int]:
    """(rows scored, rows quarantined)."""
    from pyspark import StorageLevel

    spark = engine.session(args.master)
    with engine.one_line_errors(f"cannot read {args.input}"):
        df, fmt = tables.read(spark, args.input)
    check_columns(df.columns, c)
    with engine.one_line_errors(f"cannot read {args.input}"):
        df, offsets = tables.numbered(df, worker.ROW_ID)
    if not offsets:
        raise RatchetError(f"{args.input}: has a header but no rows")
    if args.partitions:  # after numbering: row numbers follow the input, not the shuffle
        df = df.repartition(args.partitions)
    job = worker.Job(
        digest=hashlib.sha256(data).hexdigest(),
        model=spark.sparkContext.broadcast(data),
        source=source,
        contract_text=c.text,
        fmt=fmt,
        threshold=threshold,
        version=version,
        offsets=offsets,
        outputs=output_columns(c),
    )
    before = spark.conf.get(BATCH_CONF)
    spark.conf.set(BATCH_CONF, str(args.chunk_rows))
    results = df.mapInPandas(partial(worker.score_batches, job), spark_schema(c))
    results = results.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with engine.one_line_errors(f"scoring {args.input} failed"):
            return _finish(args, results, job)
    finally:
        results.unpersist()
        job.model.unpersist()
        spark.conf.set(BATCH_CONF, before)


def _finish(args: argparse.Namespace, results: Any, job: worker.Job) -> tuple[int, int]:
    """Stop on a failure or a bad row, else write the scores (and the quarantine)."""
    from pyspark.sql import functions as F

    kind = F.col(worker.KIND)
    tally = {
        row[worker.KIND]: row
        for row in results.groupBy(worker.KIND)
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.min(worker.ROW).alias("first"),
            F.countDistinct(worker.ROW).alias("rows"),
        )
        .collect()
    }
    failed, rejected = tally.get(worker.FAILED), tally.get(worker.REJECTED)
    stop_at_bad_row = rejected is not None and not args.quarantine
    # Whichever comes first in the input stops the run, as reading in order would.
    if failed is not None and not (stop_at_bad_row and rejected["first"] < failed["first"]):
        first = results.filter(kind == worker.FAILED).orderBy(worker.ROW).first()
        raise RatchetError(first[worker.VALUE])
    if stop_at_bad_row:
        bad = (
            results.filter((kind == worker.REJECTED) & (F.col(worker.ROW) == rejected["first"]))
            .orderBy(worker.SEQ)
            .select(*[F.col(k).alias(v) for k, v in worker.REJECT_COLUMNS.items()])
            .toPandas()
        )
        raise score.bad_rows_error(args.input, bad)
    scores = results.filter(kind == worker.SCORED).select(*job.outputs)
    tables.write(scores, args.output, partition_by=args.partition_by)
    if args.quarantine:
        reasons = (
            results.filter(kind == worker.REJECTED)
            .orderBy(worker.ROW, worker.SEQ)
            .select(*[F.col(k).alias(v) for k, v in worker.REJECT_COLUMNS.items()])
        )
        tables.write(reasons, args.quarantine)
    scored = tally[worker.SCORED]["n"] if worker.SCORED in tally else 0
    return scored, rejected["rows"] if rejected is not None else 0
