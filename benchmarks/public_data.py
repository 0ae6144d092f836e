"""Real public tables that ship with scikit-learn, as a user's own CSV would hold them.

wine: 178 wines, 13 chemical measurements, three cultivars (multiclass).
diabetes: 442 patients, 10 baseline measurements, disease progression after a year
(regression), in its original units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TABLES = {"multiclass": ("wine", "cultivar"), "regression": ("diabetes", "progression")}


def wines() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    names = np.array(["barolo", "grignolino", "barbera"])  # the three cultivars
    frame["cultivar"] = names[frame.pop("target").to_numpy()]
    return frame


def patients() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": "progression"})


def table(task: str) -> tuple[pd.DataFrame, str]:
    """(the table, its target column) of the task's public dataset."""
    name, target = TABLES[task]
    return {"wine": wines, "diabetes": patients}[name](), target
