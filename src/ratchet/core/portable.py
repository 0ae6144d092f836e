"""Elementwise maths that gives the same bits on every x86-64 CPU.

NumPy picks a kernel for `log1p`, `exp`, `log` and `power` at run time by the CPU's instruction set:
on a CPU with AVX-512 its vectorised kernels round about one value in twenty differently
(in the last bit) from those of a CPU without. Features computed that way change the bytes
of the feature tables and the model, so `dvc.lock` made on one machine is stale on another
and every fresh clone reruns the pipeline. Arrow's kernels call the C library for each
value, whatever the CPU: the pipeline's outputs depend only on the code and the data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _array(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype="float64").reshape(-1))  # NaN stays NaN, not null


def _apply(function, *values) -> np.ndarray:
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    arrays = [_array(np.broadcast_to(v, shape)) for v in values]
    return function(*arrays).to_numpy(zero_copy_only=False, writable=True).reshape(shape)


def log1p(values) -> np.ndarray:
    """log(1 + x); -inf at -1, NaN below."""
    return _apply(pc.log1p, values)


def log(values) -> np.ndarray:
    """Natural logarithm; -inf at 0, NaN below."""
    return _apply(pc.ln, values)


def exp(values) -> np.ndarray:
    return _apply(pc.exp, values)


def power(base, exponent) -> np.ndarray:
    """base ** exponent, elementwise (either may be a scalar)."""
    return _apply(pc.power, base, exponent)
