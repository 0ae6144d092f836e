"""`ratchet score`: batch scoring with the model of a registry stage, a version or a file.

CSV or Parquet in, Parquet out: the id, the model's outputs for its task (binary: score
and label at the evaluate threshold; multiclass: the class, its probability and every
class's; regression: the prediction) and the model version.
The input is read in chunks (Parquet record batches, CSV chunks), each validated with the
training schema (label optional) and passed through the training feature function, so
memory stays bounded for files far larger than RAM and serving sees what training saw.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams
from ratchet.dataset import contract, features, schema, validation
from ratchet.dataset.contract import Contract
from ratchet.dataset.rawdata import ARROW_TEXT, check_file, csv_options
from ratchet.pipeline import model, predict
from ratchet.registry import loading


def output_schema(c: Contract) -> pa.Schema:
    """The scores file: the contract's id (or the input's 1-based row number), the task's
    outputs (`predict.outputs`, in its order) and the model version."""
    key = (c.id, pa.string()) if c.id else ("row", pa.int64())
    if c.task == "binary":
        outputs = [("score", pa.float64()), ("label", pa.int8())]
    elif c.task == "multiclass":
        outputs = [("label", pa.string()), ("score", pa.float64())] + [
            (predict.proba_column(name), pa.float64()) for name in c.class_names
        ]
    else:
        outputs = [("prediction", pa.float64())]
    return pa.schema([key, *outputs, ("model", pa.string())])


def chunks(path: str | os.PathLike, rows: int) -> Iterator[pd.DataFrame]:
    """The input in pieces of at most `rows` rows, with a clear error for a bad file."""
    p, suffix = check_file(path)
    if suffix == ".parquet":
        try:
            for batch in pq.ParquetFile(p).iter_batches(batch_size=rows):
                yield batch.to_pandas(types_mapper=ARROW_TEXT.get)
        except (pa.ArrowException, OSError) as exc:
            raise RatchetError(f"{p}: not a readable Parquet file ({exc})") from None
        return
    try:
        yield from pd.read_csv(p, **csv_options(), chunksize=rows, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RatchetError(f"{p}: not UTF-8 text at byte {exc.start}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RatchetError(f"{p}: cannot read CSV ({' '.join(str(exc).split())})") from None


def prepare_chunk(chunk: pd.DataFrame, rows: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(validated rows, rejected rows with reasons) for one chunk with a 0..n-1 index.

    `rows` holds each position's 1-based row number in the whole input; rejected rows are
    in input order, so the first one is the first bad row of the chunk. A table-level
    problem (a missing column) has no row to set aside and stops the run.
    """
    labelled = schema.TARGET in chunk.columns
    result = validation.check(chunk, require_target=labelled, expectations=False)
    rejected = _no_rows()
    if not result.passed:
        cases = result.failure_cases
        if cases["row"].isna().any():
            raise RatchetError(validation.summary(result).strip())
        bad = sorted(set(int(r) - 1 for r in cases["row"]))
        rejected = cases.assign(row=rows[cases["row"].to_numpy(dtype="int64") - 1])[
            ["row", "column", "check", "value"]
        ].sort_values("row", kind="stable", ignore_index=True)
        kept = chunk.drop(index=chunk.index[bad])
        result = validation.check(kept, require_target=labelled, expectations=False)
        if not result.passed:
            raise RatchetError(validation.summary(result).strip())
    return result.table, rejected


def first_bad_row(path, bad: pd.DataFrame) -> str:
    """`path: row N: column 'c' failed CHECK (value v)` for the first rejected row."""
    first = bad.iloc[0]
    c = contract.current()
    if first["check"] in UNSCORABLE:
        return (
            f"{path}: row {first['row']}: valid, but the model cannot score it: "
            f"{first['column']} {UNSCORABLE[first['check']]} (value {first['value']})"
        )
    if first["column"] == c.target and c.task != "regression":
        # The label fails as a number ("coerce_dtype('Int64')"); what the user needs to
        # know is that it is no class the model was trained on, and which ones it knows.
        return (
            f"{path}: row {first['row']}: column '{first['column']}' holds "
            f"{first['value']!r}, not a class the model knows ({', '.join(c.class_names)})"
        )
    return (
        f"{path}: row {first['row']}: column '{first['column']}' failed "
        f"{first['check']} (value {first['value']!r})"
    )


def model_outputs(
    pipeline, table: pd.DataFrame, threshold: float
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """(rows kept, their outputs, rows rejected) of a validated table.

    Valid rows the model cannot answer with a number are rejected as invalid ones are:
    a huge value a linear model's scaling overflows (scikit-learn then refuses the whole
    chunk), or an output that is infinite or NaN. Rejected rows carry the index label.
    """
    c = contract.current()
    outputs, cases = predict.guarded_outputs(
        pipeline, features.build_features(table, c), threshold, c
    )
    if not cases:
        return table, outputs, _no_rows()
    rows = sorted({r for r, *_ in cases})
    rejected = pd.DataFrame(cases, columns=["row", "column", "check", "value"])
    rejected["row"] = table.index[rejected["row"]].to_numpy(dtype="int64")
    kept = table.drop(index=table.index[rows])
    if outputs is None:  # scikit-learn refused the whole chunk: predict the rest anew
        return kept, predict.table_outputs(pipeline, kept, threshold), rejected
    keep = np.ones(len(table), dtype=bool)
    keep[rows] = False
    return kept, {name: values[keep] for name, values in outputs.items()}, rejected


# Why a valid row is rejected by the model (the quarantine file's `check`).
UNSCORABLE = {
    "finite_after_scaling": "overflows once the model scales it (a linear model)",
    "finite_output": "comes out as no finite number",
}


def _no_rows() -> pd.DataFrame:
    return pd.DataFrame(columns=["row", "column", "check", "value"])


def row_range(first_row: int, count: int) -> np.ndarray:
    """1-based row numbers of `count` rows that follow `first_row` rows already read."""
    return np.arange(first_row + 1, first_row + count + 1, dtype="int64")


def score_chunk(
    chunk: pd.DataFrame, pipeline, threshold: float, version: str, rows: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scored rows, rejected rows with reasons) for one chunk with a 0..n-1 index.

    `rows` holds each position's 1-based row number in the whole input (consecutive in a
    file read in chunks; anything on Spark, where a partition's rows may come from
    anywhere), so rejected rows and rows without an id are named as the input numbers them.
    """
    table, rejected = prepare_chunk(chunk, rows)
    table, outputs, unscorable = model_outputs(pipeline, table, threshold)
    if len(unscorable):
        unscorable["row"] = rows[unscorable["row"].to_numpy(dtype="int64")]
        both = [r for r in (rejected, unscorable) if len(r)]
        rejected = pd.concat(both, ignore_index=True).sort_values(
            "row", kind="stable", ignore_index=True
        )
    if schema.ID:
        key = {schema.ID: table[schema.ID].astype(str).to_numpy()}
    else:  # no id column: rows are named by their place in the input
        key = {"row": rows[table.index.to_numpy(dtype="int64")]}
    return pd.DataFrame({**key, **outputs, "model": version}), rejected


def bad_rows_error(source: str, bad: pd.DataFrame) -> RatchetError:
    """The one line a run without --quarantine stops with: the first rejected row."""
    return RatchetError(
        f"{first_bad_row(source, bad)}; fix the input, or pass "
        "--quarantine FILE to set bad rows aside and score the rest"
    )


def run(args: argparse.Namespace, threshold: float) -> tuple[int, int, str]:
    pipeline, ref = loading.load_file_or_registered(args.model, args.version, args.stage)
    version = ref.version if ref else loading.file_version(args.model)
    # Rows are read and checked by the contract the model was trained with.
    with contract.use(model.contract_for(pipeline)):
        return _score(args, pipeline, threshold, version)


def _score(
    args: argparse.Namespace, pipeline, threshold: float, version: str
) -> tuple[int, int, str]:
    scored = rejected = 0
    rejects: list[pd.DataFrame] = []
    progress = sys.stderr.isatty()
    layout = output_schema(contract.current())
    with io.atomic_path(args.output) as tmp, pq.ParquetWriter(tmp, layout) as writer:
        for chunk in chunks(args.input, args.chunk_rows):
            chunk = chunk.reset_index(drop=True)
            rows = row_range(scored + rejected, len(chunk))
            out, bad = score_chunk(chunk, pipeline, threshold, version, rows)
            if len(bad) and not args.quarantine:
                raise bad_rows_error(args.input, bad)
            writer.write_table(pa.Table.from_pandas(out, schema=layout, preserve_index=False))
            if len(bad):
                rejects.append(bad)
            scored += len(out)
            rejected += bad["row"].nunique() if len(bad) else 0
            if progress:
                print(f"\rscored {scored:,} rows", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    if args.quarantine:
        io.write_table(
            args.quarantine, pd.concat(rejects, ignore_index=True) if rejects else _no_rows()
        )
    return scored, rejected, version


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        required=True,
        help=".csv or .parquet (label optional); --engine spark: also a folder, a glob or a "
        "catalog table",
    )
    parser.add_argument(
        "--output",
        required=True,
        help="scores (.parquet); --engine spark: a Parquet folder or a catalog table",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stage", default="prod", help="registry stage (default: %(default)s)")
    which.add_argument("--version", help="registry version, e.g. v1.2.0")
    which.add_argument("--model", help="a model file instead of the registry")
    parser.add_argument(
        "--quarantine",
        help="write rows that fail validation here (.csv; --engine spark: a folder or table)",
    )
    parser.add_argument(
        "--chunk-rows",
        type=int,
        default=200_000,
        help="rows per chunk (--engine spark: per Arrow batch in a worker)",
    )
    parser.add_argument(
        "--partition-by",
        action="append",
        metavar="COLUMN",
        help="--engine spark: partition the output by this output column (repeatable)",
    )


def command(args: argparse.Namespace) -> int:
    if getattr(args, "partition_by", None):
        raise RatchetError("--partition-by needs --engine spark (the pandas path writes one file)")
    if not str(args.output).endswith(".parquet"):
        raise RatchetError(f"--output {args.output}: must be a .parquet file")
    if args.chunk_rows < 1:
        raise RatchetError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
    threshold = params.section("evaluate", EvaluateParams, args.params).threshold
    scored, rejected, version = run(args, threshold)
    note = f", {rejected} rows quarantined in {args.quarantine}" if args.quarantine else ""
    print(f"scored {scored} rows with {version} -> {args.output}{note}")
    return 0
