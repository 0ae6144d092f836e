"""Reading a raw table (CSV or Parquet) with one clear line for every way a file goes wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ratchet import schema
from ratchet.errors import RatchetError


def read_raw(path: str | os.PathLike) -> pd.DataFrame:
    """Read the raw table as it is on disk; type checks are the schema's job, not this one's."""
    p = Path(path)
    if not p.exists():
        raise RatchetError(f"{p}: file not found")
    if not p.is_file():
        raise RatchetError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise RatchetError(f"{p}: file is empty")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        df = _read_csv(p)
    elif suffix == ".parquet":
        df = _read_parquet(p)
    else:
        raise RatchetError(
            f"{p}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet"
        )
    if len(df.columns) == 0:
        raise RatchetError(f"{p}: no columns")
    if len(df) == 0:
        raise RatchetError(f"{p}: has a header but no rows")
    return df


def _read_csv(p: Path) -> pd.DataFrame:
    with p.open("rb") as fh:
        head = fh.read(8192)
    if b"\x00" in head:
        # Text never holds NUL bytes; parsing one as CSV yields misleading column errors.
        kind = "a Parquet file" if head.startswith(b"PAR1") else "binary, not CSV text"
        raise RatchetError(f"{p}: looks like {kind} (NUL bytes in the first 8 KiB)")
    try:
        # Ids stay text ("007" is not 7); every other column is inferred, then coerced by the
        # schema, which reports what does not convert.
        return pd.read_csv(p, dtype={schema.ID: "string"}, encoding="utf-8", low_memory=False)
    except UnicodeDecodeError as exc:
        raise RatchetError(
            f"{p}: not UTF-8 text at byte {exc.start} (binary file, or re-save it as UTF-8)"
        ) from None
    except pd.errors.EmptyDataError:
        raise RatchetError(f"{p}: no columns (is it empty?)") from None
    except pd.errors.ParserError as exc:
        raise RatchetError(f"{p}: cannot parse CSV ({' '.join(str(exc).split())})") from None


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p, engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RatchetError(
            f"{p}: not a readable Parquet file ({' '.join(str(exc).split())})"
        ) from None
