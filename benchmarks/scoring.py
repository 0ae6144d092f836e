"""Batch scoring throughput: `ratchet score` on a Parquet file with the pipeline's model file."""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure import timed


def measure(repo: Path, rows: int) -> dict:
    """Score `rows` fresh sample rows with repo's models/model.skops (the whole command)."""
    from ratchet.dataset import sample

    batch, scores = repo / "score-input.parquet", repo / "score-output.parquet"
    sample.generate(rows, seed=3).to_parquet(batch, index=False)
    cmd = [
        "ratchet",
        "score",
        "--input",
        str(batch),
        "--output",
        str(scores),
        "--model",
        "models/model.skops",
    ]
    run = timed(cmd, repo)
    batch.unlink()
    scores.unlink()
    return {
        "rows": rows,
        "seconds": run.seconds,
        "rows_per_s": rows / run.seconds,
        "peak_mib": run.peak_mib,
    }
