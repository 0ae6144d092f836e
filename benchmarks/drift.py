"""Time of `ratchet drift` on a large current batch against a large reference.

    python -m benchmarks.drift --current-rows 1000000 --reference-rows 100000

Both files are Parquet samples of the bundled schema (the current one drifted). The time
covers reading, validating and featurizing both, sampling, Evidently, and writing the
HTML and JSON reports: the whole command.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--current-rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    args = parser.parse_args()

    from ratchet import sample
    from ratchet.cli import main as ratchet

    with tempfile.TemporaryDirectory() as tmp:
        ref, cur = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        sample.generate(args.reference_rows, seed=1).to_parquet(ref, index=False)
        sample.generate(args.current_rows, seed=2, drift=True).to_parquet(cur, index=False)
        start = time.perf_counter()
        code = ratchet(
            ["drift", "--reference", str(ref), "--current", str(cur), "--output-dir",
             str(Path(tmp) / "out")]
        )  # fmt: skip
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"drift: current {args.current_rows:,} rows vs reference {args.reference_rows:,} rows: "
        f"{seconds:.1f} s, exit {code}, peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
