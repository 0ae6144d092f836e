"""Reading a raw table (CSV or Parquet) with one clear line for every way a file goes wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ratchet.core.errors import RatchetError
from ratchet.core.io import ARROW_TEXT
from ratchet.dataset import contract, schema
from ratchet.dataset.contract import Contract


def check_file(path: str | os.PathLike) -> tuple[Path, str]:
    """(path, suffix) of a readable-looking raw file, without reading the table."""
    p = Path(path)
    if not p.exists():
        raise RatchetError(f"{p}: file not found")
    if not p.is_file():
        raise RatchetError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise RatchetError(f"{p}: file is empty")
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise RatchetError(
            f"{p}: unsupported file type {suffix or '(none)'!r}; use .csv or .parquet"
        )
    if suffix == ".csv":
        with p.open("rb") as fh:
            head = fh.read(8192)
        if b"\x00" in head:
            # Text never holds NUL bytes; parsing one as CSV yields misleading column errors.
            kind = "a Parquet file" if head.startswith(b"PAR1") else "binary, not CSV text"
            raise RatchetError(f"{p}: looks like {kind} (NUL bytes in the first 8 KiB)")
    return p, suffix


def read_raw(path: str | os.PathLike, *, as_text: bool = False) -> pd.DataFrame:
    """Read the raw table as it is on disk; type checks are the schema's job, not this one's.

    as_text: every CSV cell as the text the file holds, none read as missing (`ratchet init`
    infers types and missing tokens from that); Parquet columns keep their types.
    """
    p, suffix = check_file(path)
    if suffix == ".parquet":
        df = _read_parquet(p)
    elif as_text:
        df = _read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
    else:
        df = _read_csv(p, **csv_options(), low_memory=False)
    if len(df.columns) == 0:
        raise RatchetError(f"{p}: no columns")
    if suffix == ".csv" and len(df.columns) == 1:
        _explain_one_column(p, str(df.columns[0]))
    if len(df) == 0:
        raise RatchetError(f"{p}: has a header but no rows")
    return df


def _read_csv(p: Path, **options) -> pd.DataFrame:
    try:
        # Text columns are read as Arrow strings (ids stay text: "007" is not 7); every other
        # column is inferred, then coerced by the schema, which reports what does not convert.
        return pd.read_csv(p, **options, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RatchetError(
            f"{p}: not UTF-8 text at byte {exc.start} (binary file, or re-save it as UTF-8)"
        ) from None
    except pd.errors.EmptyDataError:
        raise RatchetError(f"{p}: no columns (is it empty?)") from None
    except pd.errors.ParserError as exc:
        raise RatchetError(f"{p}: cannot parse CSV ({' '.join(str(exc).split())})") from None


def csv_options(c: Contract | None = None) -> dict:
    """read_csv options: text columns as Arrow strings, missing cells as the contract says.

    Only the contract's tokens mean missing (not pandas' long default list, where "NA" or
    "None" could be a real category); tokens that need trimming first are handled by
    `normalize`.
    """
    c = c or contract.current()
    return {
        "dtype": dict.fromkeys(c.text_columns, schema.TEXT),
        "keep_default_na": False,
        "na_values": list(c.spec.missing),
    }


_TRUTH = {
    **dict.fromkeys(("true", "t", "yes", "y", "1"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0"), False),
}


def normalize(df: pd.DataFrame, c: Contract | None = None) -> pd.DataFrame:
    """Cells as the contract reads them: text trimmed, missing tokens as nulls, labels mapped.

    Pure: returns a new frame when something changed (the input is never modified), and
    the input itself when nothing did, so a clean million-row table costs a few scans.
    """
    c = c or contract.current()
    missing = list(c.spec.missing)
    changed: dict[str, pd.Series] = {}
    for column in df.columns:
        values = df[column]
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        text = values
        if c.spec.trim:
            trimmed = (
                text.str.strip()
                if pd.api.types.is_string_dtype(text)
                else text.map(lambda v: v.strip() if isinstance(v, str) else v)
            )
            if not trimmed.equals(text):
                text = trimmed
        if missing:
            blank = text.isin(missing)
            if blank.any():
                text = text.mask(blank)
        if column == c.target and c.spec.labels:
            mapped = text.map(c.spec.labels)
            text = mapped.where(mapped.notna() | text.isna(), text)
        spec = c.columns.get(column)
        if spec is not None and spec.type == "boolean":
            # Text spellings of a truth value; anything else stays and fails the schema.
            words = text.astype("string").str.lower().map(_TRUTH)
            text = words.where(words.notna() | text.isna(), text)
        if text is not values:
            changed[column] = text
    if c.spec.labels and c.target in df.columns and c.target not in changed:
        # a numeric label column (e.g. 1/2) with a mapping from its text form
        text = df[c.target].astype("string").str.strip()
        mapped = text.map(c.spec.labels)
        if mapped.isna().any() and pd.api.types.is_float_dtype(df[c.target]):
            # A float column (one missing value is enough) spells 1 as "1.0"; the
            # contract's label "1" means the same number.
            whole = text.str.replace(r"\.0+$", "", regex=True)
            mapped = mapped.fillna(whole.map(c.spec.labels))
        changed[c.target] = mapped.where(mapped.notna() | text.isna(), df[c.target])
    if not changed:
        return df
    out = df.copy(deep=False)  # the unchanged columns are shared, not copied
    for column, text in changed.items():
        out[column] = text
    return out


def _explain_one_column(p: Path, header: str) -> None:
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if sep in header:
            raise RatchetError(
                f"{p}: one column named {header[:60]!r}: the file looks {name}-separated; "
                "Ratchet reads comma-separated CSV (re-export it, or convert it to Parquet)"
            )


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pq.read_table(p).to_pandas(types_mapper=ARROW_TEXT.get)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise RatchetError(
            f"{p}: not a readable Parquet file ({' '.join(str(exc).split())})"
        ) from None
