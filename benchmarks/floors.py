"""What each part of a prediction costs on its own, in this process, on one OpenMP thread.

The floors a request's latency is judged against: request parsing and checking (pydantic),
the typed table, the feature function, and the model alone, as scikit-learn's pipeline
(`predict_proba` on the feature table) and as the compiled form (the table to arrays, then
its two tree walks: numpy over all trees at once, and TreePredictor tree by tree).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def timings(step: Callable[[], object], repeats: int, warmup: int = 5) -> np.ndarray:
    """Milliseconds per call of `step`, `repeats` times after `warmup` calls."""
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        out.append(time.perf_counter() - start)
    return np.array(out) * 1e3


def measure(model_file: Path, records: list[dict], repeats: int) -> list[tuple[str, np.ndarray]]:
    """(step, milliseconds per call) for one record and for 1,000 (fewer repeats)."""
    from threadpoolctl import threadpool_limits

    from ratchet.dataset import contract, features
    from ratchet.pipeline import model, predict
    from ratchet.serving import api

    threadpool_limits(1, user_api="openmp")  # as in a service worker
    pipeline = model.load(model_file)
    c = model.contract_for(pipeline)
    form = predict.compiled_form(pipeline)
    out = []
    with contract.use(c):
        parse = api.Parser(api.record_model(), len(records))
        dtypes = api.table_dtypes()
        for size in (1, 1_000):
            body = json.dumps(records[0] if size == 1 else records[:size]).encode()
            rows = parse(body)
            table = api.table(rows, dtypes)
            feats = features.build_features(table, c)
            n = repeats if size == 1 else max(10, repeats // 20)
            steps: dict[str, Callable[[], object]] = {
                "parse + check (pydantic)": lambda body=body: parse(body),
                "typed table": lambda rows=rows: api.table(rows, dtypes),
                "feature function": lambda table=table: features.build_features(table, c),
                "model: pipeline predict_proba": lambda f=feats: pipeline.predict_proba(f),
            }
            if form is not None:
                X = form.matrix(feats)
                steps |= {
                    "model: compiled, table -> arrays": lambda f=feats: form.matrix(f),
                    "model: compiled, numpy walk": lambda X=X: form._raw_numpy(X),
                    "model: compiled, TreePredictor": lambda X=X: form._raw_trees(X, 1),
                    "model: compiled, as served": lambda f=feats: predict.predict_proba(
                        pipeline, f
                    ),
                }
            for name, step in steps.items():
                out.append((f"{name}, {size:,} row{'s' if size > 1 else ''}", timings(step, n)))
    return out


def large_batch(model_file: Path, rows: int, repeats: int) -> list[tuple[str, float]]:
    """(path, rows per second) of the model alone on `rows` rows, all cores: the floor of
    batch scoring. Median of `repeats`."""
    from threadpoolctl import threadpool_limits

    from ratchet.dataset import contract, features, sample, schema
    from ratchet.pipeline import model, predict

    pipeline = model.load(model_file)
    c = model.contract_for(pipeline)
    with contract.use(c):
        raw = sample.generate(rows, seed=5).drop(columns=[schema.TARGET])
        feats = features.build_features(schema.raw_schema(require_target=False).validate(raw), c)
    form = predict.compiled_form(pipeline)
    paths = {"pipeline predict_proba": lambda: pipeline.predict_proba(feats)}
    if form is not None:
        paths["compiled (arrays + TreePredictor)"] = lambda: form.predict_proba(form.matrix(feats))
    # All cores, as `ratchet score` runs (measure() limits this process to one thread).
    with threadpool_limits(os.cpu_count() or 1, user_api="openmp"):
        return [
            (name, rows / (float(np.median(timings(step, repeats, warmup=1))) / 1e3))
            for name, step in paths.items()
        ]
