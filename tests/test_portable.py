"""The pipeline's numbers must not depend on which CPU computed them.

NumPy chooses SIMD kernels for transcendental functions at run time; on a CPU with AVX-512
they round some values differently, which changed the feature tables and the model between
machines and left `dvc.lock` stale on every fresh clone.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXAMPLE_CONTRACT_ENV
from ratchet.core import portable

# Generate a sample, validate it, build its features; print a digest of every byte.
DIGEST = """
import hashlib, io
from ratchet.dataset import features, sample, schema
raw = sample.generate(3_000, seed=11)
table = features.build_features(schema.raw_schema().validate(raw))
digest = hashlib.sha256()
for frame in (raw, table):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    digest.update(buffer.getvalue())
print(digest.hexdigest())
"""


def dispatched_cpu_features() -> list[str]:
    """The instruction sets NumPy may pick kernels for above its baseline, on this CPU."""
    from numpy._core import _multiarray_umath as umath

    found = umath.__cpu_features__
    return [name for name in umath.__cpu_dispatch__ if found.get(name)]


@pytest.mark.parametrize("name", ["log1p", "log", "exp"])
def test_portable_functions_give_the_c_librarys_bits(name):
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [
            rng.uniform(-1.0, 50.0, 20_000),
            rng.exponential(30.0, 20_000),
            rng.normal(0.0, 300.0, 20_000) if name == "exp" else rng.uniform(0, 1e9, 20_000),
            [0.0, -1.0, -2.0, np.inf, np.nan],
        ]
    )
    got = getattr(portable, name)(values)
    reference = getattr(math, name)

    def expected(v: float) -> float:
        try:
            return reference(v)
        except ValueError:  # math raises where C returns -inf (pole) or NaN (domain)
            return -math.inf if v == (-1.0 if name == "log1p" else 0.0) else math.nan
        except OverflowError:
            return math.inf

    want = np.array([expected(float(v)) for v in values])
    assert got.dtype == np.float64 and got.flags.writeable
    assert got.tobytes() == want.tobytes()


def test_features_and_sample_are_the_same_bits_whatever_numpy_kernels_run():
    features = dispatched_cpu_features()
    digests = set()
    for disabled in ("", " ".join(features)):
        env = {**os.environ, **EXAMPLE_CONTRACT_ENV, "NPY_DISABLE_CPU_FEATURES": disabled}
        out = subprocess.run(
            [sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True, check=True
        )
        digests.add(hashlib.sha256(out.stdout.encode()).hexdigest())
    assert len(digests) == 1, f"outputs differ with NumPy's {features} kernels disabled"
