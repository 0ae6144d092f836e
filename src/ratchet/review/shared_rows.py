"""Which held-out rows both models may be scored on, and what the base model reads there.

Pure: tables and contracts in, masks and tables out.

A row is fair to compare on when neither model was trained on it: it is in this change's
test split (so not in this change's training rows) and not in the base's train split.
When the data or the split changed, some of this change's test rows were the base's
training rows; scoring the base model on them would flatter it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ratchet.dataset.contract import Contract


def key_columns(base: Contract, new: Contract, base_train: pd.DataFrame, test: pd.DataFrame):
    """Columns that identify a row in both tables: the id (when both contracts name the
    same one), every raw feature both contracts share, and the target.

    Values, not the id alone: a fresh export can reuse ids for other records (the bundled
    sample does, for every seed), and a customer whose row changed is a new observation
    the base model never saw. Engineered features are left out: they follow from the raw
    ones, and a changed expression would make the same row look new.
    """
    ids = [base.id] if base.id and base.id == new.id else []
    shared = sorted(set(base.raw_features) & set(new.raw_features))
    found = [c for c in [*ids, *shared] if c in base_train and c in test]
    # The target alone identifies nothing: no shared column, no row known to be seen.
    return [*found, new.target] if found else []


def row_keys(table: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One 64-bit hash per row of `columns`' values (categories hash by value, not code)."""
    return pd.util.hash_pandas_object(table[columns], index=False).to_numpy()


def unseen(test: pd.DataFrame, base_train: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Mask of `test` rows absent from the base's train split."""
    if not columns:
        return np.ones(len(test), dtype=bool)
    return ~np.isin(row_keys(test, columns), row_keys(base_train, columns))


def feature_mismatch(
    base: Contract, new: Contract, fitted: list[str], hook_same: bool
) -> str | None:
    """Why this change's feature table cannot feed the base model; None: it can.

    The test split holds this change's features. The base model reads only its own
    columns; each must be computed the same way under both contracts (same column type
    and categories, same expression), or the base would be scored on inputs it never saw.
    """
    if base.spec.hook and not hook_same:
        return f"the base computes features with the hook {base.spec.hook}, changed since"
    for name in fitted:
        if name in base.features:
            before = base.spec.features.get(name)
            if new.spec.features.get(name) != before:
                return f"feature {name!r} is computed differently ({before!r} at the base)"
        elif name in base.columns:
            old, now = base.columns[name], new.columns.get(name)
            if now is None or now.role != "feature":
                return f"column {name!r}, a feature of the base model, is not one here"
            spec = ("type", "categories", "unknown")
            if any(getattr(old, k) != getattr(now, k) for k in spec):
                return f"column {name!r} changed type or categories"
    return None
