"""The model artifact: how it is built from params, saved reproducibly and loaded safely.

The artifact is one skops file holding a scikit-learn Pipeline (preprocessing +
estimator). skops, unlike pickle, refuses to build any type that is not on an allowlist,
so a tampered model file cannot run code when it is loaded.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ratchet.core.errors import RatchetError
from ratchet.core.params import TrainParams, task_mismatch
from ratchet.dataset import contract
from ratchet.dataset.contract import Contract

# The dataset contract the model was trained with travels inside the model file, so
# scoring, serving, shadow runs and drift reports of a registered version read and check
# data the way its training did, whatever the checkout's contract says today.
CONTRACT_ATTRIBUTE = "ratchet_contract_"

# Types a Ratchet model file may contain beyond skops' built-in safe set. Review any
# addition: everything listed here can be constructed when a model file is loaded.
TRUSTED_TYPES = frozenset(
    {
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn._loss.link.IdentityLink",  # regression
        "sklearn._loss.link.MultinomialLogit",  # multiclass
        "sklearn._loss.loss.HalfMultinomialLoss",  # multiclass
        "sklearn._loss.loss.HalfSquaredError",  # regression
        "sklearn.compose._column_transformer.ColumnTransformer",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.preprocessing._encoders.OneHotEncoder",
        "sklearn.preprocessing._encoders.OrdinalEncoder",
        "sklearn.utils._bunch.Bunch",
        "collections.OrderedDict",
        "numpy.dtype",
        # HistGradientBoosting's internal categorical preprocessor holds
        # partial(check_array, ...); partial can only wrap functions trusted here.
        "functools.partial",
        "sklearn.utils.validation.check_array",
    }
)

# A fixed zip timestamp (the earliest zip can store) makes the file byte-identical per run.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_pipeline(
    p: TrainParams, numeric: list[str], categorical: list[str], task: str = "binary"
) -> Pipeline:
    """An unfitted Pipeline for the estimator chosen in params.yaml `train.estimator`:
    gradient boosting, or the task's linear baseline (logistic regression; ridge for
    regression, with alpha = 1 / C)."""
    mismatch = task_mismatch(p, task)
    if mismatch:
        raise RatchetError(f"params.yaml: {mismatch}")
    if p.estimator == "hist_gradient_boosting":
        # Trees need no scaling; categories become ordinal codes the booster splits natively.
        pre = ColumnTransformer(
            [
                (
                    "categorical",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value",
                        unknown_value=np.nan,
                        encoded_missing_value=np.nan,
                    ),
                    categorical,
                ),
                ("numeric", "passthrough", numeric),
            ],
            verbose_feature_names_out=False,
        )
        booster = dict(
            learning_rate=p.learning_rate,
            max_iter=p.max_iter,
            max_depth=p.max_depth,
            max_leaf_nodes=p.max_leaf_nodes,
            min_samples_leaf=p.min_samples_leaf,
            l2_regularization=p.l2_regularization,
            categorical_features=list(range(len(categorical))),
            early_stopping=False,  # every iteration runs: the fit does not hinge on a split
            random_state=p.seed,
        )
        estimator = (
            HistGradientBoostingRegressor(**booster)
            if task == "regression"
            else HistGradientBoostingClassifier(**booster, class_weight=p.class_weight)
        )
    else:
        pre = ColumnTransformer(
            [
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                    categorical,
                ),
                (
                    "numeric",
                    make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                    numeric,
                ),
            ],
            verbose_feature_names_out=False,
        )
        estimator = (
            Ridge(alpha=1.0 / p.C)
            if task == "regression"
            else LogisticRegression(
                C=p.C, class_weight=p.class_weight, max_iter=2_000, random_state=p.seed
            )
        )
    return Pipeline([("preprocess", pre), ("model", estimator)])


def attach_contract(model: Pipeline, c: Contract) -> None:
    setattr(model, CONTRACT_ATTRIBUTE, c.text)


def contract_of(model: Pipeline) -> Contract | None:
    """The contract a model was trained with; None for a model file without one."""
    text = getattr(model, CONTRACT_ATTRIBUTE, None)
    if not isinstance(text, str):
        return None
    return contract.from_text(text, "the model's dataset contract")


def contract_for(model: Pipeline) -> Contract:
    """The model's own contract; for a model file from before contracts, the checkout's,
    provided it builds the very columns the model was fitted on (else a clear refusal)."""
    own = contract_of(model)
    if own is not None:
        return own
    c = contract.current()
    fitted = set(getattr(model, "feature_names_in_", ()))
    built = {*c.raw_features, *c.engineered}
    if fitted and fitted != built and not c.spec.hook:
        missing, extra = sorted(fitted - built), sorted(built - fitted)
        raise RatchetError(
            f"the model carries no dataset contract (it was trained before contracts) and "
            f"{c.path} builds other columns (model only: {missing or 'none'}; contract only: "
            f"{extra or 'none'}): score it from a checkout of the commit it was trained at"
        )
    return c


def _normalise(model: Pipeline) -> None:
    # HistGradientBoosting records the machine's core count; it does not change
    # predictions but would make the file differ between machines.
    mapper = getattr(model[-1], "_bin_mapper", None)
    if mapper is not None:
        mapper.n_threads = None


def to_bytes(model: Pipeline) -> bytes:
    """Serialise to skops bytes that are identical for identical models.

    skops names arrays and memo entries after `id()` of the Python objects, which changes
    every run, and stamps the zip entries with the current time. Both are replaced by
    stable values: ids are renumbered in order of first appearance in schema.json.
    """
    _normalise(model)
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as src:
        schema_text = src.read("schema.json").decode("utf-8")
        renumber: dict[str, str] = {}
        for match in _ID_PATTERN.finditer(schema_text):
            renumber.setdefault(match.group(2), str(len(renumber) + 1))
        entries = {
            _stable_name(name, renumber): src.read(name)
            for name in src.namelist()
            if name != "schema.json"
        }
    entries["schema.json"] = _ID_PATTERN.sub(
        lambda m: m.group(1) + renumber[m.group(2)] + m.group(3), schema_text
    ).encode("utf-8")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, entries[name])
    return out.getvalue()


# `"__id__": 1234` and `"file": "1234.npy"` in skops' schema.json.
_ID_PATTERN = re.compile(r'("__id__": |"file": ")(\d+)(\.npy"|\b)')


def _stable_name(name: str, renumber: dict[str, str]) -> str:
    stem, dot, suffix = name.partition(".")
    if stem not in renumber:
        raise RatchetError(f"skops wrote an entry the model file cannot place: {name}")
    return renumber[stem] + dot + suffix


def from_bytes(data: bytes, source: str = "model") -> Pipeline:
    """Load skops bytes, refusing any type outside TRUSTED_TYPES."""
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise RatchetError(f"{source}: not a readable skops model file ({exc})") from None
    refused = sorted(untrusted - TRUSTED_TYPES)
    if refused:
        raise RatchetError(
            f"{source}: refusing to load; it contains types outside the reviewed allowlist "
            f"(ratchet.model.TRUSTED_TYPES): {', '.join(refused)}"
        )
    try:
        model = sio.loads(data, trusted=sorted(untrusted))
    except Exception as exc:
        raise RatchetError(f"{source}: cannot load model ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, Pipeline):
        raise RatchetError(
            f"{source}: expected a scikit-learn Pipeline, got {type(model).__name__}"
        )
    return model


def load(path: str | os.PathLike) -> Pipeline:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise RatchetError(f"{p}: model file not found (run: dvc repro)") from None
    return from_bytes(data, str(p))
