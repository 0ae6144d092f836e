"""Several `ratchet serve` worker processes on one listening socket (pre-fork).

One process handles requests on threads that share one interpreter lock: while one
thread parses a batch of 1,000 records, a one-record request waits for it. Worker
processes each answer on their own. The parent loads the model and opens the socket
once, then forks: workers share the loaded model's memory (copy on write) and take
connections from the same socket, so no worker loads anything or binds anything itself.

The parent only supervises: SIGINT or SIGTERM stops every worker (uvicorn finishes the
requests in flight), and a worker that dies is replaced, unless it died within
`MIN_LIFETIME` seconds of starting (then something is wrong with every worker, and the
parent stops all of them and exits non-zero instead of forking in a loop).

The parent must not have run the model before forking: an OpenMP runtime that has
started its threads is not safe to use in a forked child. Loading it is safe.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

MIN_LIFETIME = 5.0  # seconds: a worker dying sooner than this stops the service


def run(serve: Callable[[list[socket.socket]], None], sock: socket.socket, workers: int) -> int:
    """Fork `workers` processes that each call `serve([sock])`; wait for them.

    Returns 0 after a requested stop, 1 when a worker failed straight after its start.
    """
    children: dict[int, float] = {}  # pid -> start time
    stopping = False

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, signal.SIG_DFL)  # uvicorn installs its own
                serve([sock])
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        children[pid] = time.monotonic()

    def stop(signum: int, frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        for _ in range(workers):
            spawn()
        while children:
            pid, status = os.wait()
            started = children.pop(pid, None)
            if started is None or stopping:
                continue
            lived = time.monotonic() - started
            how = _exit_description(status)
            if lived < MIN_LIFETIME:
                print(f"serve: worker {pid} {how} {lived:.1f} s after starting; stopping",
                      file=sys.stderr, flush=True)  # fmt: skip
                code = 1
                stop(signal.SIGTERM, None)
                continue
            print(f"serve: worker {pid} {how}; starting another", file=sys.stderr, flush=True)
            spawn()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


def _exit_description(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"
