"""Time of `ratchet drift` on a large current batch against a reference, the whole command.

Both files are Parquet samples of the bundled schema (the current one drifted). The time
covers reading, validating and featurizing both, sampling, Evidently, and writing the
HTML and JSON reports.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure import timed
from benchmarks.template import ROOT


def measure(workdir: Path, current_rows: int, reference_rows: int) -> dict:
    from ratchet.dataset import sample

    ref, cur = workdir / "drift-reference.parquet", workdir / "drift-current.parquet"
    sample.generate(reference_rows, seed=1).to_parquet(ref, index=False)
    sample.generate(current_rows, seed=2, drift=True).to_parquet(cur, index=False)
    cmd = [
        "ratchet",
        "drift",
        "--reference",
        str(ref),
        "--current",
        str(cur),
        "--output-dir",
        str(workdir / "drift"),
    ]
    run = timed(cmd, ROOT, ok=(0, 1))  # reads params.yaml monitor; 1: drift found, as it should be
    ref.unlink()
    cur.unlink()
    return {
        "current_rows": current_rows,
        "reference_rows": reference_rows,
        "seconds": run.seconds,
        "peak_mib": run.peak_mib,
        "verdict": "drift" if run.returncode == 1 else "no drift",
    }
