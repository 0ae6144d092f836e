"""Batch scoring throughput and peak memory: `ratchet score` against the model alone.

    python -m benchmarks.score [--rows 1000000] [--chunk-rows 200000 1000000] [--repeats 3]

Each run is a fresh process (so peak RSS is its own) calling `ratchet score --model FILE`
on an unlabelled Parquet batch of the sample schema; "start MiB" is its RSS after imports.
"model only" times the prediction alone on the already built feature table of the same
rows: the floor that reading, validation, features and writing add to. Every figure is
taken on both prediction paths, runs alternating: scikit-learn's pipeline
(RATCHET_PREDICT=pipeline, the "before") and the compiled model (the "after").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_score(model: str, path: str, chunk_rows: int) -> dict:
    start = time.perf_counter()
    import ratchet.serving.score  # noqa: F401  (the libraries scoring needs: counted as start-up)
    from ratchet.cli import main

    imported = time.perf_counter()
    base = peak_mib()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "scores.parquet")
        code = main(["score", "--model", model, "--input", path, "--output", out,
                     "--chunk-rows", str(chunk_rows)])  # fmt: skip
        assert code == 0, code
    done = time.perf_counter()
    return {
        "import_s": imported - start,
        "score_s": done - imported,
        "peak_mib": peak_mib(),
        "base_mib": base,
    }


def child_model_only(model_path: str, path: str) -> dict:
    import pandas as pd

    from ratchet.dataset import features, schema
    from ratchet.pipeline import model, predict

    pipeline = model.load(model_path)
    table = schema.raw_schema(require_target=False).validate(pd.read_parquet(path))
    frame = features.build_features(table)
    start = time.perf_counter()
    predict.predict_proba(pipeline, frame)  # the compiled form unless RATCHET_PREDICT=pipeline
    return {"predict_s": time.perf_counter() - start, "peak_mib": peak_mib()}


def child_generate(path: str, rows: int) -> dict:
    from ratchet.dataset import sample, schema

    batch = sample.generate(rows, seed=3).drop(columns=[schema.TARGET])
    # Row groups of 100k rows, as Spark, DuckDB and pyarrow writers produce for large
    # files: a reader holds at most one decoded row group, whatever the file size.
    batch.to_parquet(path, index=False, row_group_size=100_000)
    return {"table_mib": batch.memory_usage(deep=True).sum() / 2**20, "columns": batch.shape[1]}


PATHS = {"pipeline": "scikit-learn pipeline", "compiled": "compiled model"}


def run_child(*args: str, path: str = "compiled") -> dict:
    # Children start from this small process: Linux carries a parent's peak RSS into a
    # forked child, so a parent holding the batch would inflate every child's peak.
    env = {k: v for k, v in os.environ.items() if k != "RATCHET_PREDICT"}
    if path == "pipeline":
        env["RATCHET_PREDICT"] = "pipeline"
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.score", "--child", *args],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--model", default="models/model.skops", help="run `make repro` first")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "generate":
            result = child_generate(rest[0], int(rest[1]))
        elif kind == "score":
            result = child_score(rest[0], rest[1], int(rest[2]))
        else:
            result = child_model_only(rest[0], rest[1])
        print(json.dumps(result))
        return
    if not Path(args.model).is_file():
        sys.exit(f"{args.model}: no model file (run `make repro`, or pass --model)")

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "batch.parquet")
        info = run_child("generate", path, str(args.rows))
        print(f"{args.rows:,} rows, {info['columns']} columns, {info['table_mib']:.0f} MiB as a "
              f"pandas table; median of {args.repeats}")  # fmt: skip
        print(f"{'run':<52} {'wall s':>7} {'rows/s':>9} {'peak MiB':>9} {'start MiB':>9}")
        for chunk in args.chunk_rows:
            runs = alternating(args.repeats, "score", args.model, path, str(chunk))
            for key, label in PATHS.items():
                mine = runs[key]
                total = statistics.median(r["import_s"] + r["score_s"] for r in mine)
                work = statistics.median(r["score_s"] for r in mine)
                peak = max(r["peak_mib"] for r in mine)
                base = max(r["base_mib"] for r in mine)
                name = f"ratchet score, chunk {chunk:,}, {label}"
                print(f"{name:<52} {total:>7.2f} {args.rows / work:>9,.0f} {peak:>9.0f} "
                      f"{base:>9.0f}   (imports {total - work:.2f} s)")  # fmt: skip
        runs = alternating(args.repeats, "model", args.model, path)
        for key, label in PATHS.items():
            predict = statistics.median(r["predict_s"] for r in runs[key])
            peak = max(r["peak_mib"] for r in runs[key])
            name = f"model only, {label}"
            print(f"{name:<52} {predict:>7.2f} {args.rows / predict:>9,.0f} {peak:>9.0f}")


def alternating(repeats: int, *args: str) -> dict[str, list[dict]]:
    """`repeats` runs of each prediction path, taking turns (noise falls on both alike)."""
    runs: dict[str, list[dict]] = {key: [] for key in PATHS}
    for _ in range(repeats):
        for key in PATHS:
            runs[key].append(run_child(*args, path=key))
    return runs


if __name__ == "__main__":
    main()
