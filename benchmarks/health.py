"""How fast `ratchet serve` answers /health while /predict is busy.

    python -m benchmarks.health                       # models/model.skops (make repro first)
    python -m benchmarks.health --seconds 20 --clients 4

Starts `ratchet serve` as a real process on a free port (loopback only), then polls
GET /health every 20 ms on its own keep-alive connection, first on an idle server, then
while CLIENTS threads post batches of serve.max_batch records back to back, then while
they post 2 MB bodies of records with oversized ids. Prints p50, p99 and max /health
latency per phase.
Every loop is bounded in requests and seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time

import numpy as np

from benchmarks.serve import DEFAULT_MODEL, existing_model, free_port, start


def poll_health(port: int, stop: threading.Event, out: list[float], limit: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set() and len(out) < limit:
        began = time.perf_counter()
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        out.append((time.perf_counter() - began) * 1e3)
        if response.status != 200:
            raise SystemExit(f"GET /health: HTTP {response.status}")
        time.sleep(0.02)
    conn.close()


def post_loop(port: int, body: bytes, stop: threading.Event, statuses: list[int]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json"}
    for _ in range(10_000):  # bounded; the phase's clock normally stops it first
        if stop.is_set():
            break
        try:
            conn.request("POST", "/predict", body, headers)
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            if response.getheader("connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        except (ConnectionError, http.client.HTTPException):
            statuses.append(0)  # the server closed the connection on an oversized body
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()


def phase(port: int, body: bytes | None, clients: int, seconds: float) -> tuple[list, list]:
    stop = threading.Event()
    latencies: list[float] = []
    statuses: list[int] = []
    workers = [
        threading.Thread(target=post_loop, args=(port, body, stop, statuses))
        for _ in range(clients if body else 0)
    ]
    for w in workers:
        w.start()
    time.sleep(0.5 if body else 0)  # let the load start
    poller = threading.Thread(target=poll_health, args=(port, stop, latencies, 100_000))
    poller.start()
    time.sleep(seconds)
    stop.set()
    poller.join()
    for w in workers:
        w.join()
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=existing_model, default=str(DEFAULT_MODEL))
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=4, help="concurrent /predict clients")
    parser.add_argument("--batch", type=int, default=1_000, help="records per /predict")
    args = parser.parse_args()

    from ratchet.dataset import sample, schema

    rows = sample.generate(args.batch, seed=3).drop(columns=[schema.TARGET])
    batch = json.dumps(json.loads(rows.to_json(orient="records"))).encode()
    # Hostile but well-formed: max_batch records whose ids are padded to 2 MB in all.
    padded = [{**r, schema.ID: "X" * (2 * 1024 * 1024 // args.batch)} for r in json.loads(batch)]
    big = json.dumps(padded).encode()
    port = free_port()
    process, _ = start(args.model, port)
    try:
        loads = [("idle", None), (f"{args.clients} x {args.batch:,} records", batch),
                 (f"{args.clients} x 2 MB bodies", big)]  # fmt: skip
        results = [(name, *phase(port, body, args.clients, args.seconds)) for name, body in loads]
    finally:
        process.terminate()
        process.wait(timeout=30)

    mb = len(batch) / 1e6
    print(f"GET /health every 20 ms; a batch is {mb:.2f} MB; {args.seconds:g} s a phase")
    print(f"{'while /predict gets':<26} {'polls':>6} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  /predict answers")  # fmt: skip
    for name, ms, statuses in results:
        p50, p99, top = np.percentile(ms, [50, 99, 100])
        counts = ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses))) or "-"
        print(f"{name:<26} {len(ms):>6} {p50:>8.2f} {p99:>8.2f} {top:>8.2f}  {counts}")


if __name__ == "__main__":
    main()
