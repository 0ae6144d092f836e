"""Reading a path or a catalog table into Spark, and writing results without half-writes.

A source is a path (a file, a folder or a glob; local, hdfs://, s3a://, ...) when it looks
like one, and a catalog table name (`db.table` or `catalog.db.table`) otherwise. CSV is
read with every cell as text and typed inside the Python workers exactly as the
single-process reader types it (`as_read`), so the same file gives the same verdicts.
"""

from __future__ import annotations

import glob
import os
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract, rawdata, schema

FORMATS = ("csv", "parquet")
# A catalog table: one to three dotted identifiers, nothing a path would hold.
_TABLE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*){0,2}")
# Spark's CSV reader turns this cell into null; no real file holds it, so every cell keeps
# the exact text it has and only the contract's own tokens mean missing (as in pandas).
_NEVER = "\u0000ratchet-no-null\u0000"
# monotonically_increasing_id(): the partition index above bit 33, the row within below.
_ROW_BITS = 33
_TRUTH = {"True": True, "False": False, "true": True, "false": False, "TRUE": True, "FALSE": False}


def is_table(source: str) -> bool:
    """A catalog table name rather than a path (`sales.customers`, not `customers.csv`)."""
    if "/" in source or "\\" in source or any(ch in source for ch in "*?[") or "://" in source:
        return False
    if source.lower().endswith(tuple(f".{f}" for f in FORMATS)) or Path(source).exists():
        return False
    return bool(_TABLE.fullmatch(source))


def input_format(source: str) -> str:
    """csv or parquet, from the name, or from the files in a local folder."""
    for fmt in FORMATS:
        if source.lower().endswith(f".{fmt}"):
            return fmt
    local = Path(source)
    names = [str(p) for p in local.iterdir()] if local.is_dir() else glob.glob(source)
    found = {fmt for fmt in FORMATS for name in names if name.lower().endswith(f".{fmt}")}
    if len(found) == 1:
        return found.pop()
    if len(found) > 1:
        raise RatchetError(f"{source}: holds both CSV and Parquet files; point at one kind")
    if "://" in source:  # a lake folder of part files
        return "parquet"
    if not names and not local.exists():
        raise RatchetError(f"{source}: no such file, folder or table")
    raise RatchetError(f"{source}: holds no .csv or .parquet files")


def read(spark: Any, source: str) -> tuple[Any, str]:
    """(DataFrame, format) of a path or a table; format is csv, parquet or table."""
    if is_table(source):
        if not spark.catalog.tableExists(source):
            raise RatchetError(f"{source}: no such table in the Spark catalog (nor a file)")
        return spark.read.table(source), "table"
    _check_local(spark, source)
    fmt = input_format(source)
    try:
        if fmt == "csv":
            df = spark.read.options(
                header=True,
                inferSchema=False,
                nullValue=_NEVER,
                encoding="UTF-8",
                mode="PERMISSIVE",
            ).csv(spark_path(spark, source))
        else:
            df = spark.read.parquet(spark_path(spark, source))
    except Exception as exc:  # AnalysisException: path not found, not Parquet, ...
        raise RatchetError(f"{source}: cannot read {fmt.upper()} ({_first_line(exc)})") from None
    if not df.columns:
        raise RatchetError(f"{source}: no columns (is it empty?)")
    return df, fmt


def on_local_disk(spark: Any, path: str) -> bool:
    """A path without a scheme, where paths without one are local files (not HDFS)."""
    default = spark.sparkContext._jsc.hadoopConfiguration().get("fs.defaultFS") or "file:///"
    return "://" not in path and default.startswith("file:")


def spark_path(spark: Any, path: str) -> str:
    """A local path made absolute by this process's working directory.

    The JVM resolves a relative path by the directory it started in, which differs from
    ours once the process changed directory (a notebook, a test, a long-lived driver).
    """
    return os.path.abspath(path) if on_local_disk(spark, path) else path


def _check_local(spark: Any, source: str) -> None:
    """A local file or folder named without a glob: the single-process reader's checks
    (not found, empty, not CSV or Parquet, binary), in its words, before Spark reads it."""
    if not on_local_disk(spark, source) or any(ch in source for ch in "*?["):
        return
    local = Path(source)
    if not local.exists():
        raise RatchetError(f"{source}: file not found")
    if local.is_file():
        rawdata.check_file(local)


def as_read(batch: pd.DataFrame, fmt: str, c: contract.Contract | None = None) -> pd.DataFrame:
    """A batch typed as the single-process reader types the same rows (`read_raw`).

    CSV cells arrive as text: the contract's missing tokens become nulls, the contract's
    text columns stay text, and other columns become numbers or truth values when every
    cell of the batch is one (as pandas infers), else stay text for the schema to report.
    Parquet and tables keep their types; their text becomes Arrow strings.
    """
    c = c or contract.current()
    out: dict[str, pd.Series] = {}
    for name in batch.columns:
        values = batch[name]
        if values.dtype != object:
            out[name] = values
            continue
        if fmt == "csv":
            values = values.mask(values.isin(list(c.spec.missing)))
            if name not in c.text_columns:
                out[name] = _inferred(values)
                continue
        out[name] = values.astype(schema.TEXT)
    return pd.DataFrame(out, index=batch.index)


def _inferred(values: pd.Series) -> pd.Series:
    present = values.dropna()
    try:
        return pd.to_numeric(values)
    except (ValueError, TypeError):
        pass
    if len(present) and present.isin(list(_TRUTH)).all():
        return values.map(_TRUTH, na_action="ignore").astype(object)
    return values.astype(schema.TEXT)


def numbered(df: Any, column: str) -> tuple[Any, dict[int, int]]:
    """The DataFrame with a row id column, and each input partition's first row number.

    Row numbers follow the order Spark reads (for one file, the file's order), as the
    single-process path numbers rows; `row_numbers` turns the ids into 1-based numbers.
    Counting is one pass in the JVM; the ids cost nothing more.
    """
    with_id, offsets, _ = counted(df, column)
    return with_id, offsets


def counted(df: Any, column: str) -> tuple[Any, dict[int, int], int]:
    """`numbered`, and the row count the same pass found."""
    from pyspark.sql import functions as F

    with_id = df.withColumn(column, F.monotonically_increasing_id())
    counts = dict(with_id.select(F.spark_partition_id().alias("p")).groupBy("p").count().collect())
    offsets, total = {}, 0
    for part in sorted(counts):
        offsets[part] = total
        total += counts[part]
    return with_id, offsets, total


def row_numbers(ids: np.ndarray, offsets: dict[int, int]) -> np.ndarray:
    """1-based global row numbers of monotonically_increasing_id() values."""
    ids = np.asarray(ids, dtype=np.int64)
    parts = ids >> _ROW_BITS
    within = ids & ((1 << _ROW_BITS) - 1)
    starts = np.array([offsets.get(int(p), 0) for p in parts], dtype=np.int64)
    return starts + within + 1


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).strip().splitlines()[:1]) or type(exc).__name__
    return text[:300]


def _hadoop_path(spark: Any, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    return p, p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def write(df: Any, target: str, *, partition_by: list[str] | None = None) -> str:
    """Write Parquet (a path) or a table, atomically: a temporary location first, moved
    into place only once Spark's job succeeded, so a failure leaves the old output whole.

    Returns `parquet` or `table`.
    """
    try:
        return _write(df, target, partition_by or [])
    except RatchetError:
        raise
    except Exception as exc:  # Py4J and Spark errors carry pages of Java stack
        raise RatchetError(f"{target}: cannot write ({_first_line(exc)})") from None


def _write(df: Any, target: str, partition_by: list[str]) -> str:
    """The new output is complete before the old one moves: the old one is set aside, the
    new one renamed in, and only then the old one dropped (put back if the rename fails)."""
    spark = df.sparkSession
    suffix = uuid.uuid4().hex[:8]
    if is_table(target):
        staging, aside = f"{target}__ratchet_{suffix}", f"{target}__ratchet_old_{suffix}"
        try:
            df.write.mode("overwrite").partitionBy(*partition_by).saveAsTable(staging)
            had = spark.catalog.tableExists(target)
            if had:
                spark.sql(f"ALTER TABLE {target} RENAME TO {aside}")
            try:
                spark.sql(f"ALTER TABLE {staging} RENAME TO {target}")
            except Exception:
                if had:
                    spark.sql(f"ALTER TABLE {aside} RENAME TO {target}")
                raise
            spark.sql(f"DROP TABLE IF EXISTS {aside}")
        finally:
            spark.sql(f"DROP TABLE IF EXISTS {staging}")
        return "table"
    final, fs = _hadoop_path(spark, spark_path(spark, target))
    hadoop = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    tmp = hadoop(final.getParent(), f".{final.getName()}.tmp-{suffix}")
    aside = hadoop(final.getParent(), f".{final.getName()}.old-{suffix}")
    try:
        df.write.mode("overwrite").partitionBy(*partition_by).parquet(tmp.toString())
        had = fs.exists(final)
        if had and not fs.rename(final, aside):
            raise RatchetError(f"{target}: cannot move the previous output aside")
        if not fs.rename(tmp, final):
            if had:
                fs.rename(aside, final)
            raise RatchetError(f"{target}: cannot move the finished output into place")
        if had:
            fs.delete(aside, True)
    finally:
        if fs.exists(tmp):
            fs.delete(tmp, True)
    return "parquet"
