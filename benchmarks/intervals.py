"""How long a paired interval takes: seconds per metric by row count.

    python -m benchmarks.intervals                      # 20k, 200k and 1M rows
    python -m benchmarks.intervals --rows 200000 --replicates 1000

Two synthetic binary models (25 % positives, scores rounded to 4 decimals so there are
ties) scored on the same rows. Each line is one `paired_delta` call, best of --repeats,
the bootstrap (roc_auc also by DeLong, its default); then one `paired_deltas` call for
all four bootstrapped metrics, which draws the weights once, and the peak RSS of the
process that measured the size (imports included). Wall and CPU seconds: on a busy
machine wall time shows the wait, CPU time the work.
The goal: the four metrics under 5 s together at 200,000 rows and 1,000 replicates.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

from ratchet.review.intervals import paired_delta, paired_deltas

METRICS = ("roc_auc", "pr_auc", "log_loss", "brier")
GOAL_ROWS, GOAL_SECONDS = 200_000, 5.0


def models(rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth and two correlated models' probabilities, the new one a little better."""
    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.25).astype(int)
    shared = rng.normal(size=rows)
    base = 1 / (1 + np.exp(-(1.2 * y - 1.5 + shared + 0.5 * rng.normal(size=rows))))
    new = 1 / (1 + np.exp(-(1.3 * y - 1.5 + shared + 0.5 * rng.normal(size=rows))))
    return y, base.round(4), new.round(4)


def best_of(repeats: int, call) -> tuple[float, float]:
    """Wall and CPU seconds of the fastest run. CPU counts every thread, so on a busy
    machine it shows what the work costs when wall time mostly shows the wait."""
    runs = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def measure(rows: int, replicates: int, repeats: int) -> dict[str, tuple[float, float]]:
    y, base, new = models(rows)
    out = {}
    for metric in METRICS:
        out[metric] = best_of(
            repeats,
            lambda m=metric: paired_delta(
                m, "binary", y, base, new, replicates=replicates, method="bootstrap"
            ),
        )
    out["roc_auc (delong)"] = best_of(
        repeats, lambda: paired_delta("roc_auc", "binary", y, base, new)
    )
    out["four in one call"] = best_of(
        repeats,
        lambda: paired_deltas(
            METRICS, "binary", y, base, new, replicates=replicates, method="bootstrap"
        ),
    )
    return out


def report(rows: int, replicates: int, repeats: int) -> None:
    """One size's lines, with this process's peak memory (imports, data and the calls)."""
    times = measure(rows, replicates, repeats)
    if rows == GOAL_ROWS:
        both = [sum(times[m][i] for m in METRICS) for i in (0, 1)]
        times["four, separately"] = (both[0], both[1])
    for name, (wall, cpu) in times.items():
        print(f"{rows:>9,}  {name:<18} {wall:7.2f} {cpu:7.2f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rows:>9,}  peak RSS {peak:.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per number (best)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        report(args.rows[0], args.replicates, args.repeats)
        return
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load {load} before; {args.replicates} replicates")
    print(f"{'rows':>9}  {'metric':<18} {'wall s':>7} {'cpu s':>7}", flush=True)
    for rows in args.rows:
        # A process a size, so each peak RSS is that size's own (a peak never goes down).
        options = ["--rows", str(rows), "--replicates", str(args.replicates)]
        options += ["--repeats", str(args.repeats), "--one"]
        subprocess.run([sys.executable, "-m", "benchmarks.intervals", *options], check=True)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"goal: the four separately under {GOAL_SECONDS:.0f} s wall at {GOAL_ROWS:,} rows")
    print(f"load {load} after")


if __name__ == "__main__":
    main()
