"""`ratchet drift`: is the current batch still the world the model was trained on?

Exit 0: no drift; 1: drift; 2: an error, or a batch that fails validation (a data
problem, reported as such, not as drift). Writes a self-contained HTML report and a JSON
summary to --output-dir.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ratchet.core import io, params
from ratchet.core.errors import RatchetError
from ratchet.core.params import MonitorParams
from ratchet.dataset import contract, features, schema, validation
from ratchet.dataset.rawdata import read_raw
from ratchet.monitoring import monitor
from ratchet.pipeline import model, predict
from ratchet.registry import loading, tags

# Reads a batch for comparison: (source, rows wanted, seed) -> the batch. This engine
# reads it whole (the sample is drawn after featurizing); the Spark engine draws the sample
# while reading, so only it reaches this process.
Loader = Callable[[str, int, int], monitor.Batch]


def load_batch(path: str | os.PathLike) -> monitor.Batch:
    """Read, validate (column checks) and featurize a raw batch; labels are optional."""
    return checked_batch(read_raw(path), str(path))


def data_problem(source: str, result: validation.Result) -> RatchetError:
    return RatchetError(
        f"{source}: the batch fails validation, a data problem rather than drift:\n"
        f"{validation.summary(result)}"
    )


def checked_batch(raw: pd.DataFrame, source: str) -> monitor.Batch:
    """Validate (column checks) and featurize raw rows; labels are optional."""
    labelled = schema.TARGET in raw.columns
    result = validation.check(raw, require_target=labelled, expectations=False)
    if not result.passed:
        raise data_problem(source, result)
    table = result.table
    labels = table[schema.TARGET].reset_index(drop=True) if labelled else None
    return monitor.Batch(features.build_features(table).reset_index(drop=True), labels=labels)


def reference_at(ref: loading.ModelRef, repo: Path) -> monitor.Batch:
    """The training split of the version's commit, read through DVC."""
    train = loading.table_at(repo, ref, loading.TRAIN_SPLIT)
    labels = train.get(schema.TARGET)
    return monitor.Batch(
        train.drop(columns=[c for c in (schema.ID, schema.TARGET) if c], errors="ignore"),
        labels=labels,
    )


def scored(batch: monitor.Batch, pipeline) -> monitor.Batch:
    """The batch with the model's predictions (score, class probabilities or values)."""
    c = model.contract_for(pipeline)
    numeric, categorical = features.feature_columns(batch.features)
    # Only distributions are compared, never labels: the binary threshold does not matter.
    outputs = predict.outputs(pipeline, batch.features[numeric + categorical], 0.5, c)
    return monitor.Batch(batch.features, monitor.prediction_columns(outputs, c.task), batch.labels)


def _whole(source: str, rows: int, seed: int) -> monitor.Batch:
    return load_batch(source)


def run(args: argparse.Namespace, p: MonitorParams, load: Loader = _whole) -> dict:
    pipeline = ref = None
    if not args.reference:
        root = tags.toplevel(".")
        pipeline, ref = loading.load_with_ref(stage=args.stage, repo=root)
    if args.model:
        pipeline = model.load(args.model)
    # Batches are read, checked and featurized by the contract the model was trained with.
    with contract.use(model.contract_for(pipeline) if pipeline is not None else contract.current()):
        return _report(args, p, pipeline, ref, load)


def _report(args: argparse.Namespace, p: MonitorParams, pipeline, ref, load: Loader) -> dict:
    current = load(str(args.current), p.current_rows, p.seed)
    if args.reference:
        reference = load(str(args.reference), p.reference_rows, p.seed)
    else:
        reference = reference_at(ref, tags.toplevel("."))
    reference = monitor.sample(reference, p.reference_rows, p.seed)
    current = monitor.sample(current, p.current_rows, p.seed)
    if pipeline is not None:
        reference, current = scored(reference, pipeline), scored(current, pipeline)
    snapshot = monitor.run_report(reference, current, p)
    summary = monitor.summarise(snapshot, p)
    summary["current"] = {"path": str(args.current), "rows_compared": len(current.features)}
    summary["reference"] = {
        "source": str(args.reference) if args.reference else f"stage {args.stage}",
        "rows_compared": len(reference.features),
    }
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Evidently writes nothing when given a Path: a str, into a temp file, then moved.
    with io.atomic_path(out / "drift.html") as tmp:
        snapshot.save_html(str(tmp))
    io.write_json(out / "drift.json", summary)
    return summary


def _state(item: dict) -> str:
    return f"{'drifted' if item['drifted'] else 'stable'} ({item['method']} {item['score']:.4f})"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--current", help="the new batch (default: params monitor.current)")
    parser.add_argument(
        "--reference", help="reference batch file (default: the stage's training split)"
    )
    parser.add_argument("--stage", default="prod", help="registry stage (default: %(default)s)")
    parser.add_argument("--model", help="score with this model file instead of the stage's")
    parser.add_argument("--output-dir", default="reports/drift", help="default: %(default)s")
    parser.add_argument("--summary-md", help="also write the summary as Markdown here")


def command(args: argparse.Namespace, load: Loader = _whole) -> int:
    """The drift command; `load` reads a batch (the Spark engine passes its own)."""
    p = params.section("monitor", MonitorParams, args.params)
    args.current = args.current or p.current
    summary = run(args, p, load)
    if args.summary_md:
        io.write_text(args.summary_md, monitor.markdown(summary))
    drifted = ", ".join(summary["drifted_columns"]) or "none"
    print(
        f"{summary['verdict']}: {summary['drift_share']:.0%} of columns drifted "
        f"(threshold {p.drift_share:.0%}): {drifted}"
    )
    prediction, target = summary["prediction_drift"], summary["target_drift"]
    if prediction:
        # A binary score needs no name; other tasks say which output it is.
        named = "" if prediction["column"] == monitor.SCORE else f" ({prediction['column']})"
        print(f"prediction drift{named}: {_state(prediction)}")
    for item in summary.get("class_probability_drift", []):
        print(f"  {item['column']}: {_state(item)}")
    if target:
        print(f"target drift: {_state(target)}")
    print(f"report: {args.output_dir}/drift.html, summary: {args.output_dir}/drift.json")
    sys.stdout.flush()
    return 1 if summary["verdict"] == "drift" else 0
