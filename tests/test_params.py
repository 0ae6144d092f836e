import pytest

from ratchet.core import params
from ratchet.core.errors import RatchetError


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_repository_params_parse_for_every_section(repo_params):
    for name, model in params.SECTIONS.items():
        params.parse_section(name, model, repo_params)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("featurize:\n  seed: 1\n", "missing key 'featurize.test_size'"),
        ("featurize:\n  test_size: abc\n  seed: 1\n", "'featurize.test_size'"),
        ("featurize:\n  test_size: 1.5\n  seed: 1\n", "'featurize.test_size'"),
        ("featurize:\n  test_size: 0.2\n  seed: 1\n  tets: 3\n", "unknown key 'featurize.tets'"),
        ("other: {}\n", "missing section 'featurize'"),
        ("featurize: [1, 2]\n", "'featurize' must be a mapping"),
        ("featurize: {test_size: 0.2\n", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_bad_params_name_the_key_and_reason(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(RatchetError) as err:
        params.section("featurize", params.FeaturizeParams, path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_wrong_type_reports_the_value(tmp_path):
    path = write(tmp_path, "featurize:\n  test_size: abc\n  seed: 1\n")
    with pytest.raises(RatchetError, match="got 'abc'"):
        params.section("featurize", params.FeaturizeParams, path)


def test_missing_file(tmp_path):
    with pytest.raises(RatchetError, match="file not found"):
        params.section("train", params.TrainParams, tmp_path / "nope.yaml")


def test_estimator_must_be_a_known_one(repo_params):
    bad = {**repo_params, "train": {**repo_params["train"], "estimator": "xgboost"}}
    with pytest.raises(RatchetError, match=r"'train\.estimator'"):
        params.parse_section("train", params.TrainParams, bad)
