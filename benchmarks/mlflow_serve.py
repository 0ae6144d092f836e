"""`mlflow models serve` of the same fitted pipeline: a user's obvious alternative.

MLflow is no project dependency: it is installed into a throwaway virtual environment
(under a temporary directory, or --mlflow-venv DIR to reuse one) with the project's
scikit-learn version, the skops model file is loaded there and saved with MLflow's
sklearn flavour (`predict_proba` as the pyfunc), and `mlflow models serve` runs it.
MLflow's model is the pipeline alone: its requests carry the feature table's rows (it
neither checks records nor runs the feature function), so it does less work per request.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# Loads the model file with the project's reviewed allowlist (argv[3], JSON), as Ratchet does.
EXPORT = """
import json, sys, mlflow.sklearn, skops.io as sio
data = open(sys.argv[1], "rb").read()
trusted = sorted(set(sio.get_untrusted_types(data=data)) & set(json.loads(sys.argv[3])))
pipeline = sio.loads(data, trusted=trusted)
mlflow.sklearn.save_model(pipeline, sys.argv[2], pyfunc_predict_fn="predict_proba",
                          skops_trusted_types=trusted)
"""


def environment(venv: Path) -> str | None:
    """Create `venv` with mlflow unless it has it; None, or why it could not."""
    python = venv / "bin" / "python"
    if python.exists() and _run([str(python), "-c", "import mlflow, skops"]) is None:
        return None
    import sklearn

    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "--quiet", "mlflow", "skops",
         f"scikit-learn=={sklearn.__version__}"],
    ]  # fmt: skip
    for cmd in steps:
        failed = _run(cmd, timeout=1_800)
        if failed:
            return f"{' '.join(cmd[:4])}... failed: {failed}"
    return None


def _run(cmd: list[str], timeout: float = 120) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode:
        return (done.stderr.strip().splitlines() or ["exit " + str(done.returncode)])[-1]
    return None


def start(venv: Path, model_file: Path, workdir: Path, port: int, one_thread: bool):
    """`mlflow models serve` of the pipeline on `port` once it answers /ping (the process),
    or the reason it does not."""
    model_dir = workdir / "mlflow-model"
    if not model_dir.exists():
        from ratchet.pipeline.model import TRUSTED_TYPES

        failed = _run([str(venv / "bin" / "python"), "-c", EXPORT, str(model_file),
                       str(model_dir), json.dumps(sorted(TRUSTED_TYPES))])  # fmt: skip
        if failed:
            return f"saving the pipeline with mlflow.sklearn failed: {failed}"
    env = {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": (workdir / "mlruns").as_uri(), "DO_NOT_TRACK": "1",
           "MLFLOW_DISABLE_TELEMETRY": "true"}  # fmt: skip
    if one_thread:
        env["OMP_NUM_THREADS"] = "1"
    process = subprocess.Popen(
        [str(venv / "bin" / "mlflow"), "models", "serve", "-m", str(model_dir), "-h",
         "127.0.0.1", "-p", str(port), "--env-manager", "local"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"mlflow models serve exited: {process.stderr.read()[-500:]}"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    return "mlflow models serve did not answer /ping within 180 s"
