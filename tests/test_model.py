import io
import json
import zipfile

import numpy as np
import pytest
import yaml

from ratchet.core.errors import RatchetError
from ratchet.core.params import FeaturizeParams, TrainParams, parse_section
from ratchet.dataset import schema
from ratchet.pipeline import model
from ratchet.pipeline.featurize import split
from ratchet.pipeline.train import fit


@pytest.fixture(scope="module")
def tables(validated):
    return split(validated, FeaturizeParams(test_size=0.3, seed=0))


@pytest.fixture(scope="module")
def train_params(repo_params):
    return parse_section("train", TrainParams, repo_params)


@pytest.mark.parametrize("estimator", ["hist_gradient_boosting", "logistic_regression"])
def test_both_estimators_fit_and_round_trip(tables, train_params, estimator):
    train, test = tables
    p = train_params.model_copy(update={"estimator": estimator, "max_iter": 50})
    fitted, metrics = fit(train, p)
    assert 0.7 < metrics["train_roc_auc"] <= 1.0
    data = model.to_bytes(fitted)
    assert model.to_bytes(fitted) == data  # byte-identical serialisation
    loaded = model.from_bytes(data)
    cols = [c for c in test.columns if c not in (schema.ID, schema.TARGET)]
    np.testing.assert_array_equal(
        loaded.predict_proba(test[cols]), fitted.predict_proba(test[cols])
    )


def test_refitting_gives_the_same_bytes(tables, train_params):
    p = train_params.model_copy(update={"max_iter": 30})
    first = model.to_bytes(fit(tables[0], p)[0])
    second = model.to_bytes(fit(tables[0], p)[0])
    assert first == second


def test_core_count_is_not_in_the_file(tables, train_params):
    fitted, _ = fit(tables[0], train_params.model_copy(update={"max_iter": 5}))
    model.to_bytes(fitted)
    assert fitted[-1]._bin_mapper.n_threads is None


def _tamper(data: bytes, module: str, cls: str) -> bytes:
    """Rewrite the top-level object of a model file to an arbitrary type."""
    src = zipfile.ZipFile(io.BytesIO(data))
    schema_json = json.loads(src.read("schema.json"))
    schema_json["__module__"], schema_json["__class__"] = module, cls
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            payload = json.dumps(schema_json) if name == "schema.json" else src.read(name)
            dst.writestr(name, payload)
    return out.getvalue()


def test_tampered_model_file_is_refused(tables, train_params, tmp_path):
    fitted, _ = fit(tables[0], train_params.model_copy(update={"max_iter": 5}))
    evil = _tamper(model.to_bytes(fitted), "os", "system")
    path = tmp_path / "model.skops"
    path.write_bytes(evil)
    with pytest.raises(RatchetError, match="outside the reviewed allowlist") as err:
        model.load(path)
    assert "os.system" in str(err.value) and str(path) in str(err.value)


def test_garbage_and_missing_model_files(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(b"not a zip")
    with pytest.raises(RatchetError, match="not a readable skops model file"):
        model.load(path)
    with pytest.raises(RatchetError, match="model file not found"):
        model.load(tmp_path / "absent.skops")


def test_a_model_without_a_contract_is_scored_only_where_the_columns_fit(model_file, validated):
    from ratchet.dataset import contract
    from ratchet.pipeline import predict

    pipeline = model.load(model_file)
    assert model.contract_of(pipeline) is not None  # train stores the contract it read
    delattr(pipeline, model.CONTRACT_ATTRIBUTE)  # as a model file from before contracts
    rows = validated.head(5)
    assert len(predict.scores(pipeline, rows)) == 5  # the project's contract fits it
    c = contract.current()
    document = yaml.safe_load(c.text)
    document["features"] = {"other_feature": f"{c.raw_features[0]} * 2"}
    with contract.use(contract.parse(document)), pytest.raises(RatchetError) as err:
        model.contract_for(pipeline)
    assert "carries no dataset contract" in str(err.value)
    assert "contract only: ['other_feature']" in str(err.value)
