"""`ratchet score --engine spark` against the pandas path: rows/s and peak memory.

    python -m benchmarks.spark [--rows 1000000 10000000] [--repeats 3] [--huge-repeats 1]
                               [--cores 1 2] [--model models/model.skops] [--json FILE]

Each run is the whole command in a fresh process, on an unlabelled Parquet batch of the
sample schema (100k-row row groups). Peak memory is the largest SUM of resident sets over
the command's whole process tree (driver, JVM, Python workers), sampled every 0.1 s: a
Spark run's memory lives mostly outside the process that started it, so the single-process
peak the other benchmarks report would miss it. Both engines are measured the same way.

Start-up is measured by scoring a 1-row file the same way (Spark: JVM, session, model load
and broadcast, the jobs' fixed cost; pandas: imports and model load); "work only" rows/s
subtract its median from the run's wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.measure import Run

HUGE = 10_000_000
ROW_GROUP = 100_000
SAMPLE_EVERY_S = 0.1


def _proc_children(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        task = Path(f"/proc/{parent}/task")
        try:
            threads = [t.name for t in task.iterdir()]
        except OSError:
            continue
        for tid in threads:
            try:
                kids = (task / tid / "children").read_text().split()
            except OSError:
                continue
            found += map(int, kids)
            todo += map(int, kids)
    return found


def _proc_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and all its descendants now (psutil if present, else /proc).

    A process that exits between listing and reading counts as 0: the sampler runs again
    0.1 s later, and a peak is never built from a process that is gone.
    """
    try:
        import psutil
    except ImportError:
        return sum(_proc_rss(p) for p in [pid, *_proc_children(pid)])
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def measure(cmd: list[str], cwd: str | os.PathLike, env: dict[str, str] | None = None) -> Run:
    """Wall time and peak tree RSS of `cmd`; stdout is discarded, stderr kept for errors."""
    with tempfile.TemporaryFile("w+") as err:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True
        )
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(proc.pid))
                done.wait(SAMPLE_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        err.seek(0)
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (used.ru_utime - children.ru_utime) + (used.ru_stime - children.ru_stime)
        # peak_mib here is the largest sum over the tree, not one process's maximum.
        return Run(seconds, cpu, peak / 2**20, code, "", err.read())


def summarise(label: str, rows: int, runs: list[Run], startup_s: float | None = None) -> dict:
    """One table line: median wall time, rows/s with and without start-up, worst peak."""
    seconds = statistics.median(r.seconds for r in runs)
    line = {
        "run": label,
        "rows": rows,
        "runs": len(runs),
        "seconds": seconds,
        "rows_per_s": rows / seconds if rows > 1 else None,  # a 1-row run times start-up
        "peak_mib": max(r.peak_mib for r in runs),
        "startup_s": startup_s,
        "work_rows_per_s": None,
    }
    if startup_s is not None and seconds > startup_s:
        line["work_rows_per_s"] = rows / (seconds - startup_s)
    return line


def markdown(lines: list[dict]) -> str:
    """The results as a Markdown table (start-up '-' where none is subtracted)."""
    out = [
        "| rows | run | runs | wall s | rows/s | start-up s | rows/s, work only | peak MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lines:
        startup = "-" if r["startup_s"] is None else f"{r['startup_s']:.1f}"
        work = "-" if r["work_rows_per_s"] is None else f"{r['work_rows_per_s']:,.0f}"
        rate = "-" if r["rows_per_s"] is None else f"{r['rows_per_s']:,.0f}"
        out.append(
            f"| {r['rows']:,} | {r['run']} | {r['runs']} | {r['seconds']:.1f} | "
            f"{rate} | {startup} | {work} | {r['peak_mib']:,.0f} |"
        )
    return "\n".join(out)


def cluster_estimate(
    rows: int,
    *,
    nodes: int,
    cores_per_node: int,
    per_core_rows_s: float,
    startup_s: float,
    io_s: float,
) -> dict:
    """Wall time of `rows` on a cluster whose cores each score at the measured local rate.

    Scoring is embarrassingly parallel (no shuffle), so the work divides by the cores; the
    fixed costs (start-up, cluster I/O beyond what the local rate already includes) add.
    """
    cores = nodes * cores_per_node
    work_s = rows / (cores * per_core_rows_s)
    return {
        "cores": cores,
        "work_s": work_s,
        "total_s": startup_s + io_s + work_s,
        "rows_per_s": rows / (startup_s + io_s + work_s),
    }


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    java_line = java.splitlines()[0] if java else "java: none"
    try:
        import pyspark

        spark = f"PySpark {pyspark.__version__}"
    except ImportError:
        spark = "PySpark: not installed"
    return (
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        f"{mem:.0f} GiB RAM, Python {platform.python_version()}, {spark}, {java_line}"
    )


# --- the runs -----------------------------------------------------------------------------


def generate(path: Path, rows: int) -> None:
    """An unlabelled sample batch, generated in a child (it holds the whole table)."""
    code = (
        "import sys; from ratchet.dataset import sample, schema\n"
        "batch = sample.generate(int(sys.argv[2]), seed=3).drop(columns=[schema.TARGET])\n"
        f"batch.to_parquet(sys.argv[1], index=False, row_group_size={ROW_GROUP})\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), str(rows)], check=True)


def score_cmd(model: str, source: Path, target: Path, master: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "ratchet", "score", "--model", model,
           "--input", str(source), "--output", str(target)]  # fmt: skip
    if master:
        cmd += ["--engine", "spark", "--master", master]
    return cmd


def repeated(cmd: list[str], cwd: Path, repeats: int, output: Path) -> list[Run]:
    runs = []
    for _ in range(repeats):
        run = measure(cmd, cwd)
        if run.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {run.returncode}\n{run.stderr[-3000:]}")
        runs.append(run)
        _remove(output)
    return runs


def _remove(path: Path) -> None:
    if path.is_dir():
        import shutil

        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, HUGE])
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument(
        "--huge-repeats", type=int, default=1, help=f"runs at {HUGE:,} rows and above"
    )
    parser.add_argument("--cores", type=int, nargs="*", default=[1, 2], help="local[N] masters")
    parser.add_argument(
        "--huge-cores", type=int, nargs="*", help=f"masters at {HUGE:,} rows (default: the most)"
    )
    parser.add_argument("--model", default="models/model.skops", help="run `make repro` first")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not Path(args.model).is_file():
        sys.exit(f"{args.model}: no model file (run `make repro`, or pass --model)")
    model, cwd = str(Path(args.model).resolve()), Path.cwd()
    print(machine())
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    lines: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        one, out = Path(tmp) / "one.parquet", Path(tmp) / "scores.parquet"
        generate(one, 1)
        huge_cores = args.huge_cores if args.huge_cores is not None else args.cores[-1:]
        engines = {"pandas": None} | {f"spark local[{n}]": f"local[{n}]" for n in args.cores}
        startup = {}
        for label, master in engines.items():
            runs = repeated(score_cmd(model, one, out, master), cwd, args.repeats, out)
            startup[label] = statistics.median(r.seconds for r in runs)
            lines.append(summarise(f"{label}, 1-row input (start-up)", 1, runs))
            print(markdown(lines[-1:]).splitlines()[-1], flush=True)  # progress, line by line
        for rows in args.rows:
            batch = Path(tmp) / f"batch-{rows}.parquet"
            generate(batch, rows)
            print(f"{rows:,} rows: {batch.stat().st_size / 2**20:,.0f} MiB of Parquet", flush=True)
            huge = rows >= HUGE
            repeats = args.huge_repeats if huge else args.repeats
            for label, master in engines.items():
                if huge and master and int(master[6:-1]) not in huge_cores:
                    continue
                runs = repeated(score_cmd(model, batch, out, master), cwd, repeats, out)
                lines.append(summarise(label, rows, runs, startup[label]))
                print(markdown(lines[-1:]).splitlines()[-1], flush=True)
            batch.unlink()
    print(markdown(lines))
    print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "lines": lines}, indent=1))


if __name__ == "__main__":
    main()
