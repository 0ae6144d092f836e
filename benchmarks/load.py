"""Concurrent clients against a running service: throughput, and what one record waits.

Each client is a thread with its own keep-alive connection sending requests back to back
(the client threads share this process and the machine's cores with the server: the
figures compare server setups with each other, not with a dedicated load generator).
"""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass

import numpy as np

HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float


def _client(port: int, bodies: list[bytes], stop: threading.Event, out: list[float]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    i = 0
    while not stop.is_set():
        start = time.perf_counter()
        conn.request("POST", "/predict", bodies[i % len(bodies)], HEADERS)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"POST /predict: HTTP {response.status}")
        out.append(time.perf_counter() - start)
        i += 1
    conn.close()


def run(port: int, singles: list[bytes], clients: int, seconds: float,
        batch: bytes | None = None) -> Load:  # fmt: skip
    """`clients` clients sending single records for `seconds`; with `batch`, one more
    client sends that batch back to back meanwhile. Figures are of the single records."""
    stop = threading.Event()
    times: list[list[float]] = [[] for _ in range(clients)]
    threads = [
        threading.Thread(target=_client, args=(port, singles[i::clients], stop, times[i]))
        for i in range(clients)
    ]
    if batch is not None:
        threads.append(threading.Thread(target=_client, args=(port, [batch], stop, [])))
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    ms = np.concatenate([np.array(t) for t in times]) * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    return Load(len(ms) / seconds, float(p50), float(p99))
