"""Latency of `ratchet serve` over HTTP on loopback, before and after, against its floors.

    python -m benchmarks.serve                        # models/model.skops (make repro first)
    python -m benchmarks.serve --model other.skops --requests 5000 --no-mlflow

Starts, side by side on free ports: `ratchet serve` on scikit-learn's pipeline path
(RATCHET_PREDICT=pipeline: the "before"), `ratchet serve` on the compiled model (the
"after"), the HTTP stack alone (benchmarks.noop: same FastAPI + uvicorn setup, an endpoint
that does nothing) and `mlflow models serve` of the same pipeline (benchmarks.mlflow_serve,
in a throwaway environment; skipped with the reason when it cannot be installed). Requests
go one at a time over a keep-alive connection per server, the servers taking turns request
by request so that the machine's noise falls on all alike: single records (p50/p90/p99),
batches of 100 and 1,000. Then concurrent clients against 1 and 2 worker processes, with
and without a client sending batches of 1,000 meanwhile, and each step's floor in this
process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import floors, load, mlflow_serve

ROOT = Path(__file__).resolve().parents[1]


DEFAULT_MODEL = ROOT / "models" / "model.skops"


def existing_model(text: str) -> Path:
    """--model: a model file that exists."""
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{path}: not found (run make repro, or pass --model)")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(process: subprocess.Popen, port: int, what: str) -> None:
    began = time.perf_counter()
    while time.perf_counter() - began < 120:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited: {process.stderr.read()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not become healthy in 120 s")


def start(model: Path, port: int, *, workers: int = 1, path: str = "compiled"):
    """`ratchet serve` of `model`; path "pipeline" forces scikit-learn's (the before)."""
    ratchet = Path(sys.executable).parent / "ratchet"
    env = dict(os.environ)
    if path == "pipeline":
        env["RATCHET_PREDICT"] = "pipeline"
    process = subprocess.Popen(
        [str(ratchet), "serve", "--model", str(model), "--port", str(port),
         "--workers", str(workers)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    wait_ready(process, port, "ratchet serve")
    return process


def start_noop(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.noop", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_ready(process, port, "the no-op service")
    return process


def in_turns(targets: dict[str, tuple[int, str, list[bytes]]], repeats: int):
    """Milliseconds per request per target, the targets taking turns request by request
    (each over its own keep-alive connection), so that a busy moment of the machine falls
    on all of them alike."""
    headers = {"Content-Type": "application/json"}
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=60)
             for name, (port, _, _) in targets.items()}  # fmt: skip
    out: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(repeats):
        for name, (_, path, bodies) in targets.items():
            for attempt in (1, 2):  # a server closes a keep-alive connection idle for 5 s
                start = time.perf_counter()
                try:
                    conns[name].request("POST", path, bodies[i % len(bodies)], headers)
                    response = conns[name].getresponse()
                    response.read()
                    break
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                    conns[name].close()  # reconnects on the next request; not timed
                    if attempt == 2:
                        raise
            out[name].append(time.perf_counter() - start)
            if response.status != 200:
                raise SystemExit(f"{name}: POST {path}: HTTP {response.status}")
    for conn in conns.values():
        conn.close()
    return {name: np.array(times) * 1e3 for name, times in out.items()}


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants so far: unlike latency,
    it barely moves with the machine's load, so it shows the work a request costs."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def row(name: str, ms: np.ndarray, records: int) -> str:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    rate = records / (p50 / 1e3)
    return f"{name:<44} {len(ms):>8} {p50:>8.2f} {p90:>8.2f} {p99:>8.2f} {rate:>12,.0f}"


def sample_records(rows: int) -> tuple[list[dict], list[dict]]:
    """(raw records as clients send them, their feature rows as MLflow's model takes them)."""
    from ratchet.dataset import contract, features, sample, schema
    from ratchet.pipeline import model

    c = model.contract_for(model.load(DEFAULT_MODEL)) if DEFAULT_MODEL.exists() else None
    with contract.use(c or contract.current()):
        raw = sample.generate(rows, seed=3).drop(columns=[schema.TARGET])
        feats = features.build_features(schema.raw_schema(require_target=False).validate(raw))
    records = json.loads(raw.to_json(orient="records"))
    return records, json.loads(feats.to_json(orient="records"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=existing_model, default=str(DEFAULT_MODEL))
    parser.add_argument("--requests", type=int, default=2_000, help="single-record requests")
    parser.add_argument("--batches", type=int, default=50, help="requests per batch size")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (load)")
    parser.add_argument("--seconds", type=float, default=8, help="seconds per load test")
    parser.add_argument("--no-mlflow", action="store_true", help="skip mlflow models serve")
    parser.add_argument("--mlflow-venv", type=Path, help="reuse (or create) mlflow's venv here")
    args = parser.parse_args()

    records, feature_rows = sample_records(2_000)
    singles = [json.dumps(r).encode() for r in records]
    batch = {n: [json.dumps(records[i : i + n]).encode() for i in range(0, 2_000, n)]
             for n in (100, 1_000)}  # fmt: skip
    processes: list[subprocess.Popen] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ratchet-serve-bench-") as tmp:
        try:
            ports = {name: free_port() for name in ("before", "after", "noop")}
            processes.append(start(args.model, ports["before"], path="pipeline"))
            processes.append(start(args.model, ports["after"]))
            processes.append(start_noop(ports["noop"]))
            targets = {
                "ratchet serve, scikit-learn pipeline (before)": (ports["before"], "/predict"),
                "ratchet serve, compiled model (after)": (ports["after"], "/predict"),
                "HTTP stack alone (no-op endpoint)": (ports["noop"], "/predict"),
            }
            mlflow_targets = {} if args.no_mlflow else start_mlflow(args, Path(tmp), notes)
            processes += [p for p, _ in mlflow_targets.values()]
            feature_bodies = {n: mlflow_bodies(feature_rows, n) for n in (1, 1_000)}
            one = {name: (port, path, singles) for name, (port, path) in targets.items()}
            one |= {name: (port, "/invocations", feature_bodies[1])
                    for name, (_, port) in mlflow_targets.items()}  # fmt: skip
            in_turns(one, 200)  # warm-up
            pids = {name: p.pid for name, p in zip(targets, processes, strict=False)}
            pids |= {name: p.pid for name, (p, _) in mlflow_targets.items()}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            single = in_turns(one, args.requests)
            cpu = {name: (cpu_seconds(pid) - before[name]) / args.requests * 1e3
                   for name, pid in pids.items()}  # fmt: skip
            batches = {}
            for n in (100, 1_000):
                turn = {name: (port, path, batch[n]) for name, (port, path) in targets.items()}
                if n == 1_000:
                    turn |= {name: (port, "/invocations", feature_bodies[n])
                             for name, (_, port) in mlflow_targets.items()}  # fmt: skip
                batches[n] = in_turns(turn, args.batches)
            loads = load_tests(args, ports, singles, batch[1_000][0], processes)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
    report(args, single, batches, loads, notes, cpu)


def mlflow_bodies(feature_rows: list[dict], n: int) -> list[bytes]:
    """MLflow's request bodies: `n` feature rows each, as pandas' records."""
    return [
        json.dumps({"dataframe_records": feature_rows[i : i + n]}).encode()
        for i in range(0, len(feature_rows), n)
    ]


def start_mlflow(args, tmp: Path, notes: list[str]) -> dict[str, tuple[subprocess.Popen, int]]:
    """The mlflow servers (default threads, and one OpenMP thread), or none with a note."""
    venv = args.mlflow_venv or tmp / "mlflow-venv"
    failed = mlflow_serve.environment(venv)
    if failed:
        notes.append(f"mlflow models serve: skipped ({failed})")
        return {}
    out = {}
    for name, one_thread in (("mlflow models serve (default)", False),
                             ("mlflow models serve, OMP_NUM_THREADS=1", True)):  # fmt: skip
        port = free_port()
        process = mlflow_serve.start(venv, Path(args.model).resolve(), tmp, port, one_thread)
        if isinstance(process, str):
            notes.append(f"{name}: skipped ({process})")
            continue
        out[name] = (process, port)
    if out:
        notes.append("mlflow's requests carry feature rows: no record checks, no feature function")
    return out


def load_tests(args, ports, singles, batch: bytes, processes) -> list[tuple[str, load.Load]]:
    """Concurrent clients: before and after on one worker, after on two."""
    two = free_port()
    processes.append(start(args.model, two, workers=2))
    out = []
    for name, port in (("before, 1 worker", ports["before"]), ("after, 1 worker", ports["after"]),
                       ("after, 2 workers", two)):  # fmt: skip
        out.append((f"{name}, {args.clients} clients", load.run(port, singles, args.clients,
                                                                  args.seconds)))  # fmt: skip
        out.append((f"{name}, {args.clients} clients + 1 sending 1,000",
                    load.run(port, singles, args.clients, args.seconds, batch)))  # fmt: skip
    return out


def report(args, single, batches, loads, notes, cpu) -> None:
    print(f"POST /predict, {os.cpu_count()} cores, {args.model}; servers take turns request "
          f"by request; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'one record':<44} {'requests':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
          f"{'records/s':>12} {'server CPU ms':>14}")  # fmt: skip
    for name, ms in single.items():
        print(row(name, ms, 1) + (f" {cpu[name]:>14.2f}" if name in cpu else ""))
    for n, timed in batches.items():
        print(f"{f'batch of {n:,}':<44}")
        for name, ms in timed.items():
            print(row(name, ms, n))
    print()
    print(f"{'concurrent single records (load)':<56} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, result in loads:
        print(f"{name:<56} {result.requests_per_s:>8,.0f} {result.p50_ms:>8.2f} "
              f"{result.p99_ms:>8.2f}")  # fmt: skip
    print()
    print(f"{'floors, in process, one thread':<52} {'p50 ms':>8} {'p99 ms':>8}")
    for name, ms in floors.measure(args.model, sample_records(1_000)[0], 500):
        p50, p99 = np.percentile(ms, [50, 99])
        print(f"{name:<52} {p50:>8.3f} {p99:>8.3f}")
    print()
    print(f"{'model alone, 200,000 rows, all cores':<52} {'rows/s':>10}")
    for name, rate in floors.large_batch(args.model, 200_000, 3):
        print(f"{name:<52} {rate:>10,.0f}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
