"""Latency of `ratchet serve` over HTTP on loopback, and where a request's time goes.

    python -m benchmarks.serve                        # models/model.skops (make repro first)
    python -m benchmarks.serve --model other.skops --requests 5000

Starts `ratchet serve` as a real process on a free port, waits for /health, then sends
requests one at a time over one keep-alive connection: single records (p50/p90/p99) and
batches of 100 and 1,000 records. Then times each step of a request in this process
(parse and check, table, features, model) on one record.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

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


def start(model: Path, port: int) -> tuple[subprocess.Popen, float]:
    ratchet = Path(sys.executable).parent / "ratchet"
    began = time.perf_counter()
    process = subprocess.Popen(
        [str(ratchet), "serve", "--model", str(model), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while time.perf_counter() - began < 120:
        if process.poll() is not None:
            raise SystemExit(f"ratchet serve exited: {process.stderr.read()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return process, time.perf_counter() - began
        except OSError:
            time.sleep(0.1)
    raise SystemExit("ratchet serve did not become healthy in 120 s")


def timed_posts(port: int, bodies: list[bytes], repeats: int) -> np.ndarray:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(repeats):
        body = bodies[i % len(bodies)]
        start = time.perf_counter()
        conn.request("POST", "/predict", body, headers)
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"POST /predict: HTTP {response.status}")
    conn.close()
    return np.array(times) * 1e3


def row(name: str, ms: np.ndarray, records: int) -> str:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    rate = records / (p50 / 1e3)
    return f"{name:<22} {len(ms):>8} {p50:>8.2f} {p90:>8.2f} {p99:>8.2f} {rate:>12,.0f}"


def breakdown(model_file: Path, record: dict, repeats: int) -> list[tuple[str, np.ndarray]]:
    """One record's request, step by step, in this process (one model thread)."""
    from threadpoolctl import threadpool_limits

    from ratchet.dataset import features
    from ratchet.pipeline import model
    from ratchet.serving import api

    threadpool_limits(1, user_api="openmp")
    pipeline = model.load(model_file)
    parse = api.Parser(api.record_model(), 1_000)
    body = json.dumps(record).encode()
    records = parse(body)
    table = api.table(records)
    feats = features.build_features(table)
    steps = {
        "parse + check (pydantic)": lambda: parse(body),
        "typed table": lambda: api.table(records),
        "feature function": lambda: features.build_features(table),
        "model (predict_proba)": lambda: pipeline.predict_proba(feats),
    }
    out = []
    for name, step in steps.items():
        for _ in range(50):
            step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        out.append((name, np.array(times) * 1e3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=existing_model, default=str(DEFAULT_MODEL))
    parser.add_argument("--requests", type=int, default=2_000, help="single-record requests")
    parser.add_argument("--batches", type=int, default=50, help="requests per batch size")
    args = parser.parse_args()

    from ratchet.dataset import sample, schema

    rows = sample.generate(2_000, seed=3).drop(columns=[schema.TARGET])
    records = json.loads(rows.to_json(orient="records"))
    singles = [json.dumps(r).encode() for r in records]
    port = free_port()
    process, startup = start(args.model, port)
    try:
        timed_posts(port, singles, 200)  # warm-up
        results = [("1 record", timed_posts(port, singles, args.requests), 1)]
        for size in (100, 1_000):
            bodies = [json.dumps(records[i : i + size]).encode() for i in range(0, 2_000, size)]
            results.append((f"batch of {size:,}", timed_posts(port, bodies, args.batches), size))
    finally:
        process.terminate()
        process.wait(timeout=30)

    print(f"ratchet serve: {args.model}, {os.cpu_count()} cores, ready in {startup:.1f} s")
    print(f"{'HTTP POST /predict':<22} {'requests':>8} {'p50 ms':>8} {'p90 ms':>8} "
          f"{'p99 ms':>8} {'records/s':>12}")  # fmt: skip
    for name, ms, size in results:
        print(row(name, ms, size))
    print()
    print(f"{'one record, in process':<26} {'p50 ms':>8} {'p99 ms':>8}")
    for name, ms in breakdown(args.model, records[0], 500):
        p50, p99 = np.percentile(ms, [50, 99])
        print(f"{name:<26} {p50:>8.3f} {p99:>8.3f}")


if __name__ == "__main__":
    main()
