"""The REST service: the real app on real models, bad input, parity, a load test, the image."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import (
    BIN,
    EXAMPLE,
    ROOT,
    free_port,
    project_files,
    ratchet,
    registered_repo,
    run,
    wait_healthy,
)  # fmt: skip
from ratchet.cli import build_parser, main
from ratchet.core.params import ServeParams, parse_section, read_yaml
from ratchet.dataset import contract, sample, schema, validation
from ratchet.pipeline import model, predict
from ratchet.serving import api, serve, workers
from task_fixtures import raw_rows, scaler_overflow, scored_outputs, toy_model

SERVE = parse_section("serve", ServeParams, read_yaml(EXAMPLE / "params.yaml"))


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as a client sends them: JSON, with a missing income as null."""
    return json.loads(frame.to_json(orient="records"))


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    batch = sample.generate(300, seed=21)
    assert batch["income"].isna().any()  # nulls travel as JSON null
    return batch


@pytest.fixture(scope="module")
def client(model_file):
    pipeline = model.load(model_file)
    app = api.create_app(
        api.Model(pipeline, "churn-model", "file:model.skops"), threshold=0.5, max_batch=50
    )
    with TestClient(app) as c:
        yield c


def expected_scores(model_file: Path, frame: pd.DataFrame) -> np.ndarray:
    """What `ratchet score` computes: pandera validation, then the feature function."""
    checked = validation.check(frame, require_target=schema.TARGET in frame, expectations=False)
    assert checked.passed
    return predict.scores(model.load(model_file), checked.table)


# --- the request model follows the schema ----------------------------------------------


def test_request_model_is_the_schema(rows):
    record = api.record_model()
    columns = schema.raw_schema(expectations=False).columns
    assert list(record.model_fields) == list(columns)
    table = api.table(
        [record(**r) for r in records(rows.drop(columns=[schema.TARGET]))], api.table_dtypes()
    )
    typed = validation.check(rows, expectations=False).table.drop(columns=[schema.TARGET])
    pd.testing.assert_frame_equal(table, typed.reset_index(drop=True))


# (column, value): the service must accept exactly what the schema accepts.
EDGES = [
    ("age", 18), ("age", 120), ("age", 17), ("age", 121), ("age", 42.0), ("age", 42.5),
    ("age", "42"), ("age", "forty"), ("age", None),
    ("income", None), ("income", 0.0), ("income", -0.01), ("income", "1200.5"),
    ("monthly_charges", 10_000.0), ("monthly_charges", 10_000.01), ("monthly_charges", None),
    ("tenure_months", 600), ("tenure_months", 601), ("tenure_months", -1),
    ("support_tickets", 1_000), ("support_tickets", 1_001),
    ("days_since_last_login", 3_650), ("days_since_last_login", 3_651),
    ("plan", "pro"), ("plan", "Pro"), ("plan", "platinum"), ("plan", None),
    ("region", "west"), ("region", "mars"), ("signup_channel", "partner"),
    ("signup_channel", "tv"), ("customer_id", "CUST-12345678"), ("customer_id", "CUST-1234"),
    ("customer_id", None), ("churned", 1), ("churned", 2),
]  # fmt: skip


# Text in a numeric column: the schema converts it (a CSV cell is text); a JSON request
# has numbers, and the published contract says number, so the service refuses it.
NUMERIC_TEXT = {("age", "42"), ("income", "1200.5")}


@pytest.mark.parametrize(("column", "value"), EDGES)
def test_request_model_accepts_what_the_schema_accepts(rows, column, value):
    row = records(rows.head(1))[0]
    row[column] = value
    frame = pd.DataFrame([row]).astype({c: schema.TEXT for c in schema.TEXT_COLUMNS})
    schema_ok = validation.check(frame, expectations=False).passed
    try:
        api.record_model()(**row)
        service_ok = True
    except Exception:
        service_ok = False
    expected = schema_ok and (column, value) not in NUMERIC_TEXT
    assert service_ok == expected, f"{column}={value!r}: schema {schema_ok}, service {service_ok}"


def test_a_check_the_service_cannot_translate_is_an_error():
    import pandera.pandas as pa

    with pytest.raises(TypeError, match="has no request-body equivalent"):
        api._constraints("age", [pa.Check.str_length(1, 3)])


# --- the app ----------------------------------------------------------------------------


def test_predict_one_record_and_a_list(client, model_file, rows):
    batch = rows.head(50).drop(columns=[schema.TARGET])
    expected = expected_scores(model_file, batch)
    one = client.post("/predict", json=records(batch.head(1))[0])
    assert one.status_code == 200, one.text
    assert one.json() == {
        "model": "file:model.skops",
        "threshold": 0.5,
        "predictions": [
            {"customer_id": batch[schema.ID].iloc[0], "score": expected[0],
             "label": int(expected[0] >= 0.5)},
        ],
    }  # fmt: skip
    many = client.post("/predict", json=records(batch)).json()["predictions"]
    assert [p["customer_id"] for p in many] == batch[schema.ID].tolist()
    np.testing.assert_array_equal([p["score"] for p in many], expected)
    assert [p["label"] for p in many] == (expected >= 0.5).astype(int).tolist()
    # The label is accepted, as in `ratchet score`, and does not change the score.
    labelled = client.post("/predict", json=records(rows.head(1))[0]).json()
    assert labelled["predictions"][0]["score"] == expected[0]


@pytest.mark.parametrize(
    ("change", "loc", "kind"),
    [
        ({"age": "forty"}, ["body", 1, "age"], "int_type"),
        ({"age": 42.5}, ["body", 1, "age"], "int_from_float"),
        ({"age": True}, ["body", 1, "age"], "int_type"),
        ({"monthly_charges": "a lot"}, ["body", 1, "monthly_charges"], "float_type"),
        ({"plan": "platinum"}, ["body", 1, "plan"], "literal_error"),
        ({"region": None}, ["body", 1, "region"], "literal_error"),
        ({"age": 7}, ["body", 1, "age"], "greater_than_equal"),
        ({"support_tickets": 5000}, ["body", 1, "support_tickets"], "less_than_equal"),
        ({"income": -5.0}, ["body", 1, "income"], "greater_than_equal"),
        ({"customer_id": "42"}, ["body", 1, "customer_id"], "string_pattern_mismatch"),
        ({"notes": "vip"}, ["body", 1, "notes"], "extra_forbidden"),
        ({"tenure_months": "DROP"}, ["body", 1, "tenure_months"], "int_type"),
    ],
)
def test_each_bad_field_is_a_422_naming_the_record_and_field(client, rows, change, loc, kind):
    body = records(rows.head(3).drop(columns=[schema.TARGET]))
    body[1].update(change)
    response = client.post("/predict", json=body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == loc and error["type"] == kind and error["msg"]


def test_missing_fields_and_single_records_name_the_field(client, rows):
    record = records(rows.head(1).drop(columns=[schema.TARGET, "plan", "income"]))[0]
    response = client.post("/predict", json=record)
    assert response.status_code == 422
    # A nullable field may be left out; a required one may not.
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["body", "plan"], "missing")
    ]


def test_every_error_in_a_batch_is_reported(client, rows):
    body = records(rows.head(4).drop(columns=[schema.TARGET]))
    body[0]["age"], body[3]["plan"] = 300, "gold"
    response = client.post("/predict", json=body)
    assert sorted(tuple(e["loc"]) for e in response.json()["detail"]) == [
        ("body", 0, "age"), ("body", 3, "plan"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "kind", "message"),
    [
        (b"[]", "too_short", "at least one record"),
        (b'{"customer_id": ', "json_invalid", "Invalid JSON"),
        (b"", "json_invalid", "Invalid JSON"),
        (b"\xff\xfe garbage", "json_invalid", "Invalid JSON"),
        (b"42", "body_type", "got int"),
        (b'"CUST-00000001"', "body_type", "got str"),
        (b'{"age": NaN}', "json_invalid", "Invalid JSON"),
        (b"[1, 2]", "model_type", "valid dictionary"),
    ],
)
def test_unusable_bodies_are_422_never_500(client, content, kind, message):
    response = client.post(
        "/predict", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["type"] == kind and message in error["msg"], error
    assert error["loc"][0] == "body"


def test_oversize_batch_is_refused_before_it_is_checked(client, rows):
    body = records(rows.head(51).drop(columns=[schema.TARGET]))
    body[0]["age"] = "not checked: the size is refused first"
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"loc": ["body"], "type": "too_long",
         "msg": "At most 50 records per request (serve.max_batch), got 51"},
    ]  # fmt: skip


def test_wrong_content_type_is_415(client, rows):
    text = json.dumps(records(rows.head(1))[0])
    response = client.post("/predict", content=text, headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["detail"][0]["loc"] == ["header", "content-type"]
    form = client.post("/predict", data={"age": "41"})  # what curl -d sends without -H
    assert form.status_code == 415
    utf8 = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/predict", content=text, headers=utf8).status_code == 200


def test_health_model_and_docs(client):
    assert client.get("/health").json() == {"status": "ok", "model": "file:model.skops"}
    info = client.get("/model").json()
    assert info == {
        "name": "churn-model", "version": "file:model.skops", "stage": None, "commit": None,
        "metrics": {}, "task": "binary", "threshold": 0.5, "max_batch": 50,
        "max_body_bytes": 64 * 1024,
    }  # fmt: skip
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["anyOf"][1]["maxItems"] == 50
    record = spec["components"]["schemas"]["Record"]
    for column, categories in schema.CATEGORICAL.items():
        assert record["properties"][column]["enum"] == list(categories)
    assert record["properties"]["age"]["minimum"] == 18 and record["additionalProperties"] is False
    assert client.get("/docs").status_code == 200


def test_health_is_503_until_the_model_has_loaded(model_file, rows):
    release = threading.Event()

    def slow_loader() -> api.Model:
        release.wait(timeout=30)
        return api.Model(model.load(model_file), "churn-model", "v9.9.9")

    app = api.create_app(slow_loader, threshold=0.5, max_batch=10)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 503
        assert c.get("/health").json() == {"status": "loading"}
        assert c.post("/predict", json=records(rows.head(1))[0]).status_code == 503
        assert c.get("/model").status_code == 503
        release.set()
        deadline = time.monotonic() + 30
        while c.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/health").json() == {"status": "ok", "model": "v9.9.9"}
        assert c.post("/predict", json=records(rows.head(1))[0]).status_code == 200


def test_a_model_that_fails_to_load_keeps_the_service_unready(rows):
    def broken() -> api.Model:
        raise OSError("model.skops: no such file")

    with TestClient(api.create_app(broken, threshold=0.5, max_batch=10)) as c:
        deadline = time.monotonic() + 10
        while c.get("/health").json()["status"] == "loading" and time.monotonic() < deadline:
            time.sleep(0.02)
        health = c.get("/health")
        assert health.status_code == 503
        assert health.json() == {"status": "failed", "detail": "OSError: model.skops: no such file"}
        assert c.post("/predict", json=records(rows.head(1))[0]).status_code == 503


# --- hostile input: overflowing numbers, huge errors, text for numbers ------------------


def post_bytes(client, content: bytes, **headers: str):
    headers = {"content-type": "application/json", **headers}
    return client.post("/predict", content=content, headers=headers)


def record_text(rows: pd.DataFrame, **changes: str) -> str:
    """One record as JSON text, with some values replaced by raw JSON text (e.g. 1e309)."""
    row = records(rows.head(1).drop(columns=[schema.TARGET]))[0]
    row.update({k: f"@{k}@" for k in changes})
    text = json.dumps(row)
    for key, raw in changes.items():
        text = text.replace(f'"@{key}@"', raw)
    return text


@pytest.mark.parametrize(
    ("field", "number", "kind"),
    [
        ("x", "1e309", "extra_forbidden"),  # an unknown field
        ("x", "-1e400", "extra_forbidden"),
        ("income", "1e309", "finite_number"),
        ("monthly_charges", "-1e309", "finite_number"),
        ("age", "1e309", "finite_number"),
        ("income", "1" + "0" * 400, "finite_number"),  # an integer too large for a float
        ("plan", '[1e309, {"a": 1e309}]', "literal_error"),
    ],
)
def test_a_number_too_large_for_a_float_is_a_422_naming_the_field(
    client, rows, field, number, kind
):
    bad = record_text(rows, **{field: number})
    one = post_bytes(client, bad.encode())
    many = post_bytes(client, f"[{record_text(rows)}, {bad}]".encode())
    for response, loc in ((one, ["body", field]), (many, ["body", 1, field])):
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == loc and error["type"] == kind, error
        if kind == "finite_number":
            assert error["msg"].startswith("Number out of range"), error


@pytest.mark.parametrize("body", [b"[1e309]", b"1e309", b'{"x": [1e309]}', b'[{"age": NaN}]'])
def test_overflowing_numbers_anywhere_are_4xx(client, body):
    response = post_bytes(client, body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_errors_show_a_short_excerpt_never_the_whole_input(client, rows):
    huge = "A" * 20_000  # the body stays under the client's 64 KiB limit
    body = records(rows.head(3).drop(columns=[schema.TARGET]))
    body[0][schema.ID] = huge
    body[1]["plan"] = {"nested": list(range(3_000))}
    body[2]["k" * 5_000] = 1
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert len(response.content) < 2_000, len(response.content)
    by_record = {e["loc"][1]: e for e in response.json()["detail"]}
    assert by_record[0]["loc"] == ["body", 0, schema.ID]
    assert by_record[0]["type"] == "string_pattern_mismatch"
    assert by_record[0]["input"] == "A" * (api.EXCERPT - 1) + "…"
    assert by_record[1]["input"].startswith('{"nested": [0, 1, 2')
    assert by_record[1]["input"].endswith("…") and len(by_record[1]["input"]) == api.EXCERPT
    assert by_record[2]["loc"][2] == "k" * (api.EXCERPT - 1) + "…"
    assert by_record[2]["type"] == "extra_forbidden" and by_record[2]["input"] == 1


def test_errors_are_capped_and_the_rest_counted(model_file):
    pipeline = model.load(model_file)
    app = api.create_app(api.Model(pipeline, "m", "v1"), threshold=0.5, max_batch=1_000)
    with TestClient(app) as c:
        empties = b"[" + b",".join([b"{}"] * 1_000) + b"]"  # 3 KB
        response = post_bytes(c, empties)
    assert response.status_code == 422
    assert len(response.content) < 5_000, len(response.content)
    detail = response.json()["detail"]
    required = [n for n, f in api.record_model().model_fields.items() if f.is_required()]
    found = 1_000 * len(required)
    assert len(detail) == api.MAX_ERRORS + 1
    assert all(e["type"] == "missing" and "input" not in e for e in detail[:-1])
    assert detail[-1] == {
        "loc": ["body"], "type": "too_many_errors",
        "msg": f"{found - api.MAX_ERRORS} more errors not listed ({found} in all; "
               f"the first {api.MAX_ERRORS} are shown)",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "kind"),
    [
        ("age", "44", "int_type"), ("income", "1200.5", "float_type"),
        ("support_tickets", True, "int_type"), ("monthly_charges", False, "float_type"),
        (schema.TARGET, True, "int_type"), (schema.TARGET, "1", "int_type"),
        (schema.TARGET, 1.5, "literal_error"),
        (schema.ID, "CUST-" + "\u0661" * 8, "string_pattern_mismatch"),  # Arabic-Indic 1s
        (schema.ID, "CUST-1234567\uff18", "string_pattern_mismatch"),  # a full-width 8
    ],
)  # fmt: skip
def test_the_service_accepts_only_what_its_published_schema_says(client, rows, field, value, kind):
    row = records(rows.head(1).drop(columns=[schema.TARGET]))[0]
    row[field] = value
    response = client.post("/predict", json=row)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert (error["loc"], error["type"]) == (["body", field], kind)


def test_json_schema_integers_and_labels_are_accepted(client, rows):
    row = records(rows.head(1))[0]
    row["age"], row[schema.TARGET] = 42.0, 1.0  # JSON Schema: 42.0 is an integer
    assert client.post("/predict", json=row).status_code == 200


TEXT_LABELS = {
    "name": "tumours", "task": "binary", "target": "diagnosis", "id": "ref",
    "labels": {"malignant": 1, "benign": 0},
    "columns": {
        "ref": {"type": "text", "role": "id"},
        "radius": {"type": "float", "min": 0, "max": 40},
        "diagnosis": {"type": "category", "role": "target", "categories": ["malignant", "benign"]},
    },
}  # fmt: skip


@pytest.mark.parametrize(
    ("label", "accepted"),
    [("malignant", True), ("benign", True), (1, True), (0, True), (None, True),
     ("Malignant", False), ("1", False), (2, False), (True, False)],
)  # fmt: skip
def test_a_record_may_carry_the_label_as_the_data_writes_it(label, accepted):
    row = {"ref": "T-1", "radius": 14.2, "diagnosis": label}
    with contract.use(contract.parse(TEXT_LABELS)):
        if isinstance(label, str) and not label.isdigit():  # text: as `ratchet score` reads it
            frame = pd.DataFrame([row]).astype({"ref": schema.TEXT, "diagnosis": schema.TEXT})
            assert validation.check(frame, expectations=False).passed == accepted
        try:
            api.record_model()(**row)
            service_ok = True
        except Exception:
            service_ok = False
    assert service_ok == accepted, f"diagnosis={label!r}"


class HalfPipeline:
    """Stands in for a model: every row scores 0.5."""

    def predict_proba(self, feats: pd.DataFrame) -> np.ndarray:
        return np.full((len(feats), 2), 0.5)


def test_an_integer_id_comes_back_as_the_text_the_response_model_declares():
    document = {
        **TEXT_LABELS,
        "columns": {**TEXT_LABELS["columns"], "ref": {"type": "integer", "role": "id"}},
    }
    with contract.use(contract.parse(document)):
        app = api.create_app(api.Model(HalfPipeline(), "m", "v1"), threshold=0.5, max_batch=10)
        with TestClient(app) as c:
            response = c.post(
                "/predict", json=[{"ref": 842302, "radius": 14.2}, {"ref": 7, "radius": 9.0}]
            )
            declared = c.get("/openapi.json").json()["components"]["schemas"]["Prediction"]
    assert response.status_code == 200, response.text
    assert [p["ref"] for p in response.json()["predictions"]] == ["842302", "7"]
    assert declared["properties"]["ref"]["type"] == "string"


def test_published_patterns_are_ascii_and_the_check_follows_them(client):
    spec = client.get("/openapi.json").json()
    pattern = spec["components"]["schemas"]["Record"]["properties"][schema.ID]["pattern"]
    assert "\\d" not in pattern and pattern.isascii()
    assert api.ascii_pattern("c", r"^CUST-\d{8}$") == "^CUST-[0-9]{8}$"
    assert api.ascii_pattern("c", r"[\d_]+\.\w\S") == r"[0-9_]+\.[0-9A-Za-z_][^\t\n\v\f\r ]"
    assert api.ascii_pattern("c", r"[]\d]x") == "[]0-9]x"
    with pytest.raises(TypeError, match=r"uses \\D"):
        api.ascii_pattern("c", r"[\D]")


def test_a_valid_record_whose_formula_overflows_is_scored_with_that_feature_missing(client, rows):
    # A positive value this small is valid; a formula dividing by it overflows. The
    # published schema accepts it, so the service scores it (the feature is missing).
    tiny = {c: "5e-324" for c, ok in float_features().items() if ok}
    assert tiny, "the example contract has a nullable float column without a floor above 0"
    for column, value in tiny.items():
        one = post_bytes(client, record_text(rows, **{column: value}).encode())
        assert one.status_code == 200, one.text
        (prediction,) = one.json()["predictions"]
        assert 0.0 <= prediction["score"] <= 1.0


def float_features() -> dict[str, bool]:
    """Float columns of the contract in force, and whether 5e-324 is a valid value."""
    from ratchet.dataset import contract

    c = contract.current()
    return {
        name: (spec.min is None or spec.min <= 0) and (spec.max is None or spec.max > 0)
        for name, spec in c.columns.items()
        if spec.type == "float" and spec.role == "feature"
    }


def test_infinite_features_are_found_by_row_and_column():
    feats = pd.DataFrame({
        "a": [1.0, np.inf, np.nan], "b": [-np.inf, 2.0, 3.0],
        "plan": pd.Categorical(["free", "pro", "free"]),
    })  # fmt: skip
    assert predict.infinite_features(feats) == [(0, "b"), (1, "a")]


# --- request size, and what runs where ----------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_parsed(client, rows):
    limit = api.default_max_body_bytes(50)
    assert limit == 64 * 1024  # 1 KiB a record, at least 64 KiB
    record = record_text(rows).encode()
    exactly = record + b" " * (limit - len(record))
    assert post_bytes(client, exactly).status_code == 200
    over = b"not even JSON" + b" " * limit
    for response in (
        post_bytes(client, over),  # with Content-Length
        client.post(
            "/predict", content=iter([over[:1000], over[1000:]]),  # chunked: no Content-Length
            headers={"content-type": "application/json"},
        ),
    ):  # fmt: skip
        assert response.status_code == 413, response.text
        assert response.headers["connection"] == "close"
        assert response.json()["detail"] == [{
            "loc": ["body"], "type": "too_large",
            "msg": f"Request body larger than {limit:,} bytes (serve.max_body_bytes)",
        }]  # fmt: skip


def test_the_body_limit_is_a_serve_knob(model_file):
    assert SERVE.max_body_bytes is None and SERVE.read_timeout == 10
    assert api.default_max_body_bytes(SERVE.max_batch) == 1_024_000
    text = (ROOT / "params.yaml").read_text()
    assert "max_body_bytes: null" in text and "1 KiB per record" in text
    app = api.create_app(
        api.Model(model.load(model_file), "m", "v1"), threshold=0.5, max_batch=10,
        max_body_bytes=2_000,
    )  # fmt: skip
    with TestClient(app) as c:
        assert post_bytes(c, b" " * 2_001).status_code == 413
        assert c.get("/model").json()["max_body_bytes"] == 2_000
        body = c.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
        assert "at most 2,000 bytes" in body["description"]


class BlockingPipeline:
    """Stands in for a model: scores 0.5, after `release` is set; records where it ran."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.seen: list[tuple[str, int]] = []

    def predict_proba(self, feats: pd.DataFrame) -> np.ndarray:
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

        self.seen.append((threading.current_thread().name, _openmp_effective_n_threads()))
        self.entered.set()
        self.release.wait(timeout=30)
        return np.full((len(feats), 2), 0.5)


@contextmanager
def uvicorn_serving(app, read_timeout: float = 10.0, http_base: type | None = None):
    """`app` in a real uvicorn server as `ratchet serve` configures it, on a free port."""
    import uvicorn

    port = free_port()
    cfg = ServeParams(max_batch=1_000, host="127.0.0.1", port=port, read_timeout=read_timeout)
    config = serve.uvicorn_config(app, cfg, "127.0.0.1", port)
    if http_base is not None:
        config.http = serve.http_protocol(read_timeout, http_base)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_health_answers_while_a_request_is_scored(rows):
    pipeline = BlockingPipeline()
    app = api.create_app(api.Model(pipeline, "m", "v1"), threshold=0.5, max_batch=1_000)
    body = json.dumps(records(rows.drop(columns=[schema.TARGET]))).encode()
    with uvicorn_serving(app) as port, ThreadPoolExecutor(1) as pool:

        def post() -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            return conn.getresponse().status

        pending = pool.submit(post)
        assert pipeline.entered.wait(timeout=30)
        try:
            health = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            health.request("GET", "/health")  # answered while the model is busy
            assert health.getresponse().status == 200
        finally:
            pipeline.release.set()
        assert pending.result(timeout=60) == 200
    ((name, threads),) = pipeline.seen
    assert name.startswith("ratchet-predict") and threads == 1  # one OpenMP thread


def read_until_closed(sock: socket.socket, seconds: float) -> tuple[bytes, float]:
    sock.settimeout(seconds)
    began, data = time.monotonic(), b""
    with contextlib.suppress(TimeoutError):
        while chunk := sock.recv(4096):
            data += chunk
    return data, time.monotonic() - began


@pytest.mark.parametrize("http_base", ["h11", "httptools"])
def test_a_client_that_never_finishes_its_headers_is_disconnected(model_file, http_base):
    from uvicorn.config import HTTP_PROTOCOLS
    from uvicorn.importer import import_from_string

    base = import_from_string(HTTP_PROTOCOLS[http_base])
    # The app's body deadline and the server's head deadline: 1 s each, well inside the
    # 10 s this test waits for the server to close the connection.
    app = api.create_app(
        api.Model(model.load(model_file), "m", "v1"), threshold=0.5, max_batch=10, read_timeout=1.0
    )
    with uvicorn_serving(app, read_timeout=1.0, http_base=base) as port:
        address = ("127.0.0.1", port)
        for sent in (b"", b"POST /predi", b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: "):
            with socket.create_connection(address) as sock:
                sock.sendall(sent)
                data, took = read_until_closed(sock, 10)
            assert data.startswith(b"HTTP/1.1 408 "), (sent, data)
            assert 0.5 < took < 5, (sent, took)
        with socket.create_connection(address) as sock:  # after a keep-alive response
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            response = b""
            while not response.endswith(b"}"):
                response += sock.recv(4096)
            assert response.startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"GET /hea")
            data, took = read_until_closed(sock, 10)
            assert data.startswith(b"HTTP/1.1 408 ") and took < 5
        with socket.create_connection(address) as sock:  # a body that never ends
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                         b"\r\nContent-Length: 100\r\n\r\n[{")  # fmt: skip
            data, took = read_until_closed(sock, 10)
            assert data.startswith(b"HTTP/1.1 408 ") and b"serve.read_timeout" in data
        with socket.create_connection(address) as sock:  # endless headers
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 10_000)
            data, took = read_until_closed(sock, 10)
            assert data.split(b" ")[1] in (b"431", b"400") and took < 5  # h11 has its own limit


def test_a_chunked_body_over_the_limit_is_413_on_a_real_server(model_file):
    app = api.create_app(
        api.Model(model.load(model_file), "m", "v1"), threshold=0.5, max_batch=10,
        max_body_bytes=2_000,
    )  # fmt: skip
    with uvicorn_serving(app) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")  # fmt: skip
        for _ in range(3):
            sock.sendall(b"3e8\r\n" + b" " * 1_000 + b"\r\n")
        data, _ = read_until_closed(sock, 10)
    assert data.startswith(b"HTTP/1.1 413 ") and b"connection: close" in data.lower()


# --- the command ------------------------------------------------------------------------


def test_serve_without_the_extra_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now fails
    assert main(["serve", "--model", "model.skops"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'ratchet[serve]'" in err and "Traceback" not in err


def top_level_imports(path: Path) -> set[str]:
    """Packages and ratchet modules a module imports when it is imported."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
            names |= {a.name for a in node.names if a.name.startswith("ratchet.")}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module.split(".")[0], node.module}
            if node.module.startswith("ratchet"):
                names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_only_the_app_module_imports_the_extra():
    """`ratchet` and every other command work where fastapi and uvicorn are not installed."""
    optional = {"fastapi", "starlette", "uvicorn", "ratchet.serving.api"}
    src = ROOT / "src" / "ratchet"
    app = src / "serving" / "api.py"
    modules = sorted(src.rglob("*.py"))
    assert {app, src / "serving" / "serve.py", src / "cli.py"} <= set(modules)
    for path in modules:
        if path != app:
            assert not top_level_imports(path) & optional, path.relative_to(src)
    assert "fastapi" in top_level_imports(app)


def test_command_errors_are_one_line(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project_files(tmp_path)
    assert main(["serve", "--stage", "prod", "--info", "x.json"]) == 2
    assert "use it with --model FILE" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(model_file), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"name": "churn-model", "version": "v1.0.0", "md5": "0" * 32}))
    with pytest.raises(serve.RatchetError, match="is not the one described"):
        serve.read_info(str(info), str(model_file))


def test_workers_out_of_range_are_a_one_line_error(model_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    project_files(tmp_path)
    assert main(["serve", "--model", str(model_file), "--workers", "0"]) == 2
    assert "--workers must be between 1 and 64, got 0" in capsys.readouterr().err


def children(pid: int) -> set[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(p) for p in text.split()}


def test_several_workers_answer_alike_replace_a_dead_one_and_stop_together(
    model_file, validated, tmp_path
):
    project_files(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "ratchet"), "serve", "--model", str(model_file), "--port", str(port),
         "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    rows = validated.drop(columns=[schema.TARGET]).head(40)
    expected = predict.table_outputs(model.load(model_file), rows, 0.5)["score"].tolist()
    bodies = [json.dumps(r) for r in records(rows)]

    def scores() -> list[float]:
        out = []
        for body in bodies:  # one connection each: the kernel spreads them over the workers
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            out.append(json.loads(response.read())["predictions"][0]["score"])
            conn.close()
        return out

    try:
        wait_healthy(port, process)
        first = children(process.pid)
        assert len(first) == 2
        assert scores() == expected
        time.sleep(workers.MIN_LIFETIME + 0.5)  # older than a failed start, however fast the rest
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (
            victim in children(process.pid) or len(children(process.pid)) < 2
        ):
            time.sleep(0.2)
        assert len(children(process.pid) - first) == 1  # a new worker took its place
        assert scores() == expected
        running = children(process.pid)
        process.terminate()
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "2 workers; compiled model" in out
    assert f"worker {victim} was killed by signal 9; starting another" in err
    assert "Traceback" not in err
    assert not [pid for pid in running if Path(f"/proc/{pid}").exists()]  # stopped together


# --- the image --------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (instruction, argument), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, argument = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), argument.strip()))
    return stages


def test_dockerfile_runs_a_command_serve_accepts_as_a_non_root_user():
    stages = dockerfile_stages()
    final = dict(stages[-1])
    froms = [a for s in stages for i, a in s if i == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS env", "env AS model", "${PYTHON_IMAGE}"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (ROOT / "Dockerfile").read_text()
    assert final["USER"] not in ("root", "0")
    assert "useradd" in final["RUN"]
    assert "/health" in final["HEALTHCHECK"] and "curl" not in final["HEALTHCHECK"]
    assert final["EXPOSE"] == "8000"
    argv = json.loads(final["CMD"])
    assert argv[:2] == ["ratchet", "serve"]
    args = build_parser(argv[1:]).parse_args(argv[1:])
    assert (args.host, args.port) == ("0.0.0.0", 8000)
    assert args.model == "/app/model.skops" and args.info == "/app/model.json"
    # The paths the command serves are the ones the model stage wrote.
    assert ("COPY", "--from=model /model/ /app/") in stages[-1]
    assert "uv sync --frozen --no-dev --extra serve" in " ".join(a for _, a in stages[0])
    model_stage = " ".join(a for i, a in stages[1] if i == "RUN")
    assert "ratchet model get" in model_stage and "--info /model/model.json" in model_stage
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line for line in lines if line and not line.startswith("#")]
    assert ".venv/" in ignored and ".git" not in ignored and ".dvc/" not in ignored


# --- with the registry: a real pipeline, registered and promoted -----------------------


@pytest.fixture(scope="module")
def registry_repo(tmp_path_factory, registered_template) -> Path:
    """A pipeline commit registered as v1.0.0 and promoted to prod."""
    repo = registered_repo(registered_template, tmp_path_factory.mktemp("serve") / "repo")
    for stage in ("dev", "staging", "prod"):
        ratchet(repo, "model", "promote", "v1.0.0", "--to", stage)
    return repo


@pytest.fixture(scope="module")
def test_split(registry_repo) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The raw rows of the evaluate stage's test split, and its predictions."""
    predictions = pd.read_parquet(registry_repo / "data/predictions/test.parquet")
    validated = pd.read_parquet(registry_repo / "data/validated/churn.parquet")
    raw = validated.set_index(schema.ID).loc[predictions[schema.ID]].reset_index()
    return raw, predictions


@pytest.mark.slow
def test_score_predict_and_evaluate_agree_exactly(registry_repo, test_split, tmp_path, monkeypatch):
    raw, predictions = test_split
    raw.to_csv(tmp_path / "batch.csv", index=False)  # as a user would hand it over
    ratchet(registry_repo, "score", "--input", str(tmp_path / "batch.csv"),
            "--output", str(tmp_path / "scores.parquet"))  # fmt: skip
    scored = pd.read_parquet(tmp_path / "scores.parquet")

    monkeypatch.chdir(registry_repo)
    args = build_parser(["serve"]).parse_args(["serve", "--stage", "prod"])
    loaded = serve.load(args)  # resolved through the registry, as `ratchet serve` does
    app = api.create_app(loaded, threshold=0.5, max_batch=SERVE.max_batch)
    served = []
    with TestClient(app) as c:
        body = records(raw)
        for start in range(0, len(body), SERVE.max_batch):
            response = c.post("/predict", json=body[start : start + SERVE.max_batch])
            assert response.status_code == 200, response.text
            served += response.json()["predictions"]
        info = c.get("/model").json()
    served_scores = np.array([p["score"] for p in served])
    np.testing.assert_array_equal(served_scores, predictions["score"].to_numpy())
    np.testing.assert_array_equal(scored["score"].to_numpy(), predictions["score"].to_numpy())
    assert [p["label"] for p in served] == predictions["label"].tolist()
    assert scored[schema.ID].tolist() == [p["customer_id"] for p in served]

    commit = run(["git", "rev-parse", "churn-model@v1.0.0^{commit}"], registry_repo).stdout.strip()
    metrics = json.loads((registry_repo / "metrics/evaluate/metrics.json").read_text())
    assert info == {
        "name": "churn-model", "version": "v1.0.0", "stage": "prod", "commit": commit,
        "metrics": {k: metrics[k] for k in ("roc_auc", "pr_auc", "f1", "log_loss", "brier")},
        "task": "binary", "threshold": 0.5, "max_batch": SERVE.max_batch,
        "max_body_bytes": api.default_max_body_bytes(SERVE.max_batch),
    }  # fmt: skip


@pytest.mark.slow
def test_the_image_command_serves_2000_requests_8_at_a_time(registry_repo, test_split, tmp_path):
    """`ratchet model get --info` as the image build runs it, then the image's CMD."""
    app_dir = tmp_path / "app"
    ratchet(registry_repo, "model", "get", "--stage", "prod",
            "-o", str(app_dir / "model.skops"), "--info", str(app_dir / "model.json"))  # fmt: skip
    (app_dir / "params.yaml").write_text((registry_repo / "params.yaml").read_text())
    info = json.loads((app_dir / "model.json").read_text())
    assert info["version"] == "v1.0.0" and info["stage"] == "prod"
    assert info["md5"] == hashlib.md5((app_dir / "model.skops").read_bytes()).hexdigest()

    argv = json.loads(dict(dockerfile_stages()[-1])["CMD"])
    port = free_port()
    argv = [a.replace("/app/", f"{app_dir}/") for a in argv]
    argv[argv.index("--host") + 1] = "127.0.0.1"  # the tests listen on loopback only
    argv[argv.index("--port") + 1] = str(port)
    process = subprocess.Popen(
        [str(BIN / argv[0]), *argv[1:]], cwd=app_dir, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_healthy(port, process)
        raw, predictions = test_split
        bodies = [json.dumps(r) for r in records(raw)]
        expected = dict(zip(predictions[schema.ID], predictions["score"], strict=True))

        def client(worker: int) -> list[tuple[int, str, float]]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # keep-alive
            out = []
            for i in range(worker, 2_000, 8):
                conn.request("POST", "/predict", bodies[i % len(bodies)],
                             {"Content-Type": "application/json"})  # fmt: skip
                response = conn.getresponse()
                payload = json.loads(response.read())
                (p,) = payload["predictions"] if response.status == 200 else [{}]
                out.append((response.status, p.get("customer_id"), p.get("score")))
            conn.close()
            return out

        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            results = [r for rs in pool.map(client, range(8)) for r in rs]
        elapsed = time.perf_counter() - start
        assert len(results) == 2_000
        assert [s for s, _, _ in results if s != 200] == []
        assert all(score == expected[cid] for _, cid, score in results)
        print(f"load test: 2000 requests, 8 concurrent, {elapsed:.1f} s")
        health = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        health.request("GET", "/model")
        assert json.loads(health.getresponse().read())["version"] == "v1.0.0"
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"serving churn-model v1.0.0 on http://127.0.0.1:{port}" in out
    assert "Traceback" not in err and "ERROR" not in err


@pytest.mark.slow
def test_unknown_version_is_a_one_line_error(registry_repo):
    result = ratchet(registry_repo, "serve", "--version", "v7.0.0", check=False)
    assert result.returncode == 2 and "version v7.0.0 is not registered" in result.stderr


# --- multiclass and regression models: request, response and /model follow the task ---


@pytest.fixture(scope="module")
def task_apps(tmp_path_factory, repo_params) -> dict[str, tuple[Path, object]]:
    """(model file, app) per task; each app is built under its model's own contract."""
    root = tmp_path_factory.mktemp("task-serve")
    out = {}
    for task in ("multiclass", "regression"):
        path = toy_model(root / task, task, repo_params)
        pipeline = model.load(path)
        with contract.use(model.contract_for(pipeline)):
            app = api.create_app(
                api.Model(pipeline, "toy", "file:model.skops"), threshold=0.5, max_batch=20
            )
        out[task] = (path, app)
    return out


def test_a_multiclass_model_answers_the_class_its_probability_and_every_class(task_apps):
    path, app = task_apps["multiclass"]
    batch = raw_rows("multiclass", 20, seed=31)
    expected = scored_outputs(path, batch)
    with TestClient(app) as c:
        one = c.post("/predict", json=records(batch.drop(columns=["y"]).head(1))[0])
        many = c.post("/predict", json=records(batch))  # labelled by class name: accepted
    assert one.status_code == 200, one.text
    assert one.json() == {
        "model": "file:model.skops",  # no threshold: a multiclass label is the likeliest class
        "predictions": [{
            "row": 1, "label": expected["label"][0], "score": expected["score"][0],
            "probabilities": {n: expected[f"proba_{n}"][0] for n in ("a", "b", "c")},
        }],
    }  # fmt: skip
    got = many.json()["predictions"]
    assert [p["label"] for p in got] == expected["label"].tolist()
    np.testing.assert_array_equal([p["probabilities"]["c"] for p in got], expected["proba_c"])
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-9 for p in got)
    assert all(p["score"] == max(p["probabilities"].values()) for p in got)


@pytest.mark.parametrize("label", ["d", "A", 1, True])
def test_a_class_the_model_does_not_know_is_a_422_naming_the_field_and_classes(task_apps, label):
    _, app = task_apps["multiclass"]
    with TestClient(app) as c:
        response = c.post("/predict", json=[{"x1": 0.1, "x2": 0.2, "g": "p", "y": label}])
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", 0, "y"] and error["type"] == "literal_error"
    assert error["msg"] == "Input should be 'a', 'b' or 'c'"


def test_a_regression_model_answers_a_prediction(task_apps):
    path, app = task_apps["regression"]
    batch = raw_rows("regression", 20, seed=32)
    expected = scored_outputs(path, batch)
    with TestClient(app) as c:
        response = c.post("/predict", json=records(batch))
        text_target = c.post("/predict", json={"x1": 0.1, "x2": 0.2, "g": "p", "y": "12.5"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"model", "predictions"}
    assert body["predictions"][0] == {"row": 1, "prediction": expected["prediction"][0]}
    np.testing.assert_array_equal([p["prediction"] for p in body["predictions"]],
                                  expected["prediction"])  # fmt: skip
    assert text_target.status_code == 422
    assert text_target.json()["detail"][0]["loc"] == ["body", "y"]


def test_model_says_the_task_its_classes_and_a_threshold_only_for_binary(task_apps, client):
    with TestClient(task_apps["multiclass"][1]) as c:
        multiclass = c.get("/model").json()
    with TestClient(task_apps["regression"][1]) as c:
        regression = c.get("/model").json()
    assert multiclass["task"] == "multiclass" and multiclass["classes"] == ["a", "b", "c"]
    assert regression["task"] == "regression" and "classes" not in regression
    assert "threshold" not in multiclass and "threshold" not in regression
    assert client.get("/model").json()["task"] == "binary"


def test_the_openapi_document_describes_each_task_exactly(task_apps, client):
    docs = {}
    for task, (_, app) in task_apps.items():
        with TestClient(app) as c:
            docs[task] = c.get("/openapi.json").json()["components"]["schemas"]
    docs["binary"] = client.get("/openapi.json").json()["components"]["schemas"]
    answer = {task: doc["PredictResponse"]["required"] for task, doc in docs.items()}
    assert answer == {"multiclass": ["model", "predictions"],
                      "regression": ["model", "predictions"],
                      "binary": ["model", "threshold", "predictions"]}  # fmt: skip
    multi = docs["multiclass"]
    assert multi["Prediction"]["required"] == ["row", "label", "score", "probabilities"]
    assert multi["Prediction"]["properties"]["label"]["enum"] == ["a", "b", "c"]
    assert multi["Prediction"]["additionalProperties"] is False
    probabilities = multi["Probabilities"]
    assert probabilities["required"] == ["a", "b", "c"]
    assert probabilities["properties"]["b"] == {
        "type": "number", "minimum": 0.0, "maximum": 1.0, "title": "B"
    }  # fmt: skip
    assert probabilities["additionalProperties"] is False
    assert multi["Record"]["properties"]["y"]["anyOf"][0] == {
        "type": "string", "enum": ["a", "b", "c"]
    }  # fmt: skip
    regression = docs["regression"]
    assert regression["Prediction"]["required"] == ["row", "prediction"]
    assert regression["Prediction"]["properties"]["prediction"]["type"] == "number"
    assert regression["Record"]["properties"]["y"]["anyOf"][0] == {"type": "number"}
    assert docs["binary"]["Prediction"]["required"] == [schema.ID, "score", "label"]


@pytest.mark.parametrize(
    ("task", "estimator"), [("regression", "ridge"), ("multiclass", "logistic_regression")]
)
def test_a_linear_model_that_overflows_on_a_huge_valid_record_is_a_422(
    tmp_path, repo_params, task, estimator
):
    # The record is valid (x1 has no bounds) and its features are finite; the linear
    # model's output is not, and JSON has no infinity: a 422 for that record, never a 500.
    path = toy_model(tmp_path, task, repo_params, estimator=estimator)
    pipeline = model.load(path)
    with contract.use(model.contract_for(pipeline)):
        app = api.create_app(api.Model(pipeline, "toy", "v1"), threshold=0.5, max_batch=5)
    huge = {"x1": 1e308, "x2": -1e308, "g": "p"}  # finite once scaled; the output is not
    # The largest float minus the training mean overflows in the scaler itself, and
    # scikit-learn refuses the whole batch: the 422 still names the record.
    column, value = scaler_overflow(path)
    largest = {"x1": 0.0, "x2": 0.0, "g": "p", column: value}
    fine = {"x1": 0.5, "x2": 0.0, "g": "q"}
    with TestClient(app) as c:
        outputs = c.post("/predict", json=[fine, huge])
        scaled = c.post("/predict", json=[fine, fine, largest])
        one = c.post("/predict", json=largest)
        large = c.post("/predict", json={"x1": 1e200, "x2": 0.0, "g": "q"})
    assert outputs.status_code == 422, outputs.text
    assert [(e["loc"], e["type"]) for e in outputs.json()["detail"]] == [
        (["body", 1], "prediction_not_finite")
    ]
    assert scaled.status_code == 422, scaled.text
    (error,) = scaled.json()["detail"]
    assert error["loc"] == ["body", 2]
    assert f"Feature {column!r} of this record overflows" in error["msg"]
    assert one.status_code == 422 and one.json()["detail"][0]["loc"] == ["body"]
    assert large.status_code == 200, large.text
