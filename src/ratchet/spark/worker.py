"""What runs inside Spark's Python workers: one Arrow batch at a time through the
single-process scorer's own functions (`serving.score.score_chunk`).

The model arrives as a broadcast of the model file's bytes, so executors need no shared
filesystem, and is loaded once per worker process (Spark reuses its Python workers across
tasks). Scores, rejected rows and a batch's table-level failure leave the worker in one
schema, told apart by KIND: the job runs the model once and the driver splits the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ratchet.core.errors import RatchetError
from ratchet.dataset import contract
from ratchet.pipeline import model
from ratchet.serving import score
from ratchet.spark import tables

# KIND of each row the job emits.
SCORED, REJECTED, FAILED = 0, 1, 2
KIND = "_ratchet_kind"
# A rejected row's place in the input, the order of its failures, and what failed; for a
# failed batch, its first row and the message (VALUE).
ROW, SEQ, COLUMN, CHECK, VALUE = (
    "_ratchet_row",
    "_ratchet_seq",
    "_ratchet_column",
    "_ratchet_check",
    "_ratchet_value",
)
# The quarantine's columns, as the single-process path writes them.
REJECT_COLUMNS = {ROW: "row", COLUMN: "column", CHECK: "check", VALUE: "value"}
# The input's row id (`tables.numbered`), dropped before the rows are checked.
ROW_ID = "_ratchet_row_id"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, pickled once with the task (the model rides a broadcast)."""

    digest: str  # sha256 of the model file's bytes
    model: Any  # pyspark Broadcast of those bytes
    source: str  # the model's name in messages
    contract_text: str  # the contract the driver reads rows by (the model's own)
    fmt: str  # csv, parquet or table: how `tables.as_read` types a batch
    threshold: float
    version: str
    offsets: dict[int, int]  # first row number of each input partition
    outputs: tuple[str, ...]  # the output columns, in `score.output_schema` order


# digest -> (model, contract): one model per worker process, loaded on its first batch.
_loaded: dict[str, tuple[Any, contract.Contract]] = {}


def loaded(job: Job) -> tuple[Any, contract.Contract]:
    """The job's model and contract, from this process's cache or the broadcast bytes."""
    if job.digest not in _loaded:
        data = job.model.value
        if hashlib.sha256(data).hexdigest() != job.digest:
            raise RatchetError(f"{job.source}: a worker received other bytes than the driver sent")
        pipeline = model.from_bytes(data, job.source)  # the same allowlist as the driver
        _loaded.clear()  # a worker serves one job's model at a time; free the last one
        _loaded[job.digest] = (pipeline, contract.from_text(job.contract_text, job.source))
    return _loaded[job.digest]


def score_batches(job: Job, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """mapInPandas: each batch's scores and rejected rows; a failed batch ends the partition."""
    for batch in batches:
        rows = tables.row_numbers(batch[ROW_ID].to_numpy(), job.offsets)
        batch = batch.drop(columns=ROW_ID).reset_index(drop=True)
        try:
            pipeline, c = loaded(job)
            with contract.use(c):
                chunk = tables.as_read(batch, job.fmt, c)
                out, bad = score.score_chunk(chunk, pipeline, job.threshold, job.version, rows)
        except RatchetError as exc:
            # Returned as data: the driver raises it as the pandas path would, in one line.
            yield _frame(job, {KIND: FAILED, ROW: rows[:1], VALUE: str(exc)}, 1)
            return
        yield _frame(job, {**{name: out[name].to_numpy() for name in job.outputs}}, len(out))
        if len(bad):
            reasons = {
                ROW: bad["row"].to_numpy(dtype="int64"),
                SEQ: np.arange(len(bad), dtype="int64"),
                COLUMN: bad["column"].astype(str).to_numpy(),
                CHECK: bad["check"].astype(str).to_numpy(),
                VALUE: np.array([None if v is None else str(v) for v in bad["value"]], object),
            }
            yield _frame(job, {KIND: REJECTED, **reasons}, len(bad))


def _frame(job: Job, values: dict[str, Any], rows: int) -> pd.DataFrame:
    """A frame with every column of the job's schema: the given ones, the rest null."""
    values = {KIND: SCORED, **values}
    columns = [*job.outputs, KIND, ROW, SEQ, COLUMN, CHECK, VALUE]
    return pd.DataFrame(
        {name: values[name] if name in values else [None] * rows for name in columns},
        index=pd.RangeIndex(rows),
    )
