"""The REST prediction service: a FastAPI app around one loaded model.

Pure: no command line, no registry, no files. `create_app` takes a loaded `Model`, or a
function that loads one (the app then answers /health with 503 until it has). Request
bodies are checked by a pydantic model generated from the training schema
(`schema.raw_schema`): the same columns, types, ranges, categories and nullability, so
schema.py stays the one place that knows the data. Rows that pass go through the
training feature function and `predict.outputs`, so a record gets exactly what it gets
in `ratchet score` and in the evaluate stage. Request, response and /model follow the
model's task: binary (score and label at the threshold), multiclass (the class, its
probability and every class's) or regression (the prediction).

Pandera is not run per request: it costs tens of milliseconds for one row, while the
pydantic model checks the same rules in microseconds (a test keeps the two in step).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
import numpy as np
import pandas as pd
import pydantic_core
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
)
from pydantic import create_model as _pydantic_model
from pydantic_core import PydanticCustomError
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ratchet import __version__
from ratchet.dataset import contract, features, schema
from ratchet.pipeline import predict

JSON_TYPES = ("application/json",)
MAX_ERRORS = 20  # errors listed in one response; the rest are counted
EXCERPT = 40  # characters of an offending value (or of a field name) an error shows
BYTES_PER_RECORD = 1024  # the default body limit allows this much per record of max_batch


@dataclass(frozen=True)
class Model:
    """A loaded model and what /model says about it."""

    pipeline: Pipeline
    name: str
    version: str  # a registry version (v1.2.0), or file:NAME for a model file
    stage: str | None = None
    commit: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The fast inference form is derived when the model is loaded, not by a request
        # (and, with several workers, once in the parent they are forked from).
        predict.compiled_form(self.pipeline)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "commit": self.commit,
            "metrics": self.metrics,
        }


# --- the request body, generated from the schema ---------------------------------------


def _json_number(kind: str) -> BeforeValidator:
    """Only a JSON number, as the published schema says: no numeric text, no boolean.

    pydantic's lax mode would read "44" as 44 and true as 1; strict mode would refuse 42.0
    for an integer, which JSON Schema's "integer" allows. kind: the error type to report.
    """
    label = {"int_type": "an integer", "float_type": "a number"}[kind]

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PydanticCustomError(kind, f"Input should be {label} (a JSON number)")
        return value

    return BeforeValidator(check)


_INT_ONLY = _json_number("int_type")
_NUMBER_ONLY = _json_number("float_type")
_BOUNDS = {
    "greater_than_or_equal_to": {"min_value": "ge"},
    "greater_than": {"min_value": "gt"},
    "less_than_or_equal_to": {"max_value": "le"},
    "less_than": {"max_value": "lt"},
}


def _constraints(column: str, checks: list) -> dict[str, Any]:
    """pydantic Field arguments for a column's pandera checks (every check, or an error)."""
    out: dict[str, Any] = {}
    for check in checks:
        stats = check.statistics
        if check.name == "in_range":
            out["ge" if stats["include_min"] else "gt"] = stats["min_value"]
            out["le" if stats["include_max"] else "lt"] = stats["max_value"]
        elif check.name in _BOUNDS:
            ((stat, arg),) = _BOUNDS[check.name].items()
            out[arg] = stats[stat]
        elif check.name == "str_matches":
            out["pattern"] = ascii_pattern(column, stats["pattern"])
        elif check.name != "isin":  # isin becomes a Literal type
            raise TypeError(
                f"schema column {column!r}: check {check.name!r} has no request-body "
                "equivalent; translate it in ratchet.api._constraints"
            )
    return out


# Shorthand classes mean Unicode in the request checker's regex engine (\d matches "٣"),
# ASCII in JSON Schema's: written out as ASCII classes, the published pattern and the
# check agree. Negated classes inside [...] have no such spelling: they are an error.
_ASCII_CLASSES = {
    "d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\v\\f\\r ",
    "D": "^0-9", "W": "^0-9A-Za-z_", "S": "^\\t\\n\\v\\f\\r ",
}  # fmt: skip


def ascii_pattern(column: str, pattern: str) -> str:
    """`pattern` with \\d, \\w, \\s (and negations) spelt as ASCII character classes."""
    out: list[str] = []
    in_class = False
    opened = 0  # len(out) where the current [...] began
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            spelt = _ASCII_CLASSES.get(nxt)
            if nxt in ("b", "B") or (in_class and nxt in ("D", "W", "S")):
                raise TypeError(
                    f"schema column {column!r}: pattern {pattern!r} uses \\{nxt}, which has "
                    "no ASCII-only spelling here; write the characters out, e.g. [0-9]"
                )
            if spelt is None:
                out.append(char + nxt)
            else:
                out.append(spelt if in_class else f"[{spelt}]")
            continue
        if char == "[" and not in_class:
            in_class, opened = True, len(out)
        elif char == "]" and in_class and out[opened:] not in (["["], ["[", "^"]):
            in_class = False  # (a ] right after [ or [^ is a literal ])
        out.append(char)
    return "".join(out)


# Dates arrive as ISO 8601 text; pandas stores them without a time zone.
AwareOrNaiveDatetime = Annotated[
    datetime.datetime,
    AfterValidator(lambda v: v.astimezone(datetime.UTC).replace(tzinfo=None) if v.tzinfo else v),
]


def _field(name: str, column) -> tuple[Any, Any]:
    dtype = column.dtype.type
    limits = _constraints(name, column.checks)
    allowed = next(
        (c.statistics["allowed_values"] for c in column.checks if c.name == "isin"), None
    )
    c = contract.current()
    # Constraints sit next to the type (before the JSON-number check), so the OpenAPI
    # schema shows them as JSON Schema minimum/maximum/pattern.
    if name == schema.TARGET and c.task == "multiclass":
        # The class as the data spells it, as the response names it; class numbers are
        # the pipeline's own and mean nothing to a client.
        kind = Literal[c.class_names]
    elif allowed is not None:
        kind: Any = Literal[tuple(allowed)]
        if all(isinstance(v, int) and not isinstance(v, bool) for v in allowed):
            kind = Annotated[kind, _INT_ONLY]  # a label 1, never true or "1"
        raw_labels = c.spec.labels if name == schema.TARGET else None
        if raw_labels:
            # The label as the data writes it ("malignant"), as `ratchet score` reads it,
            # or already mapped to its class number.
            kind = Literal[tuple(raw_labels)] | kind
    elif dtype == pd.Int64Dtype():
        kind = Annotated[int, Field(**limits), _INT_ONLY]
    elif dtype == "float64":
        kind = Annotated[float, Field(allow_inf_nan=False, **limits), _NUMBER_ONLY]
    elif isinstance(dtype, pd.StringDtype):
        kind = Annotated[str, Field(**limits)]
    elif dtype == pd.BooleanDtype():
        kind = StrictBool  # true or false, never 1 or "yes": what the schema says
    elif str(dtype).startswith("datetime64"):
        kind = AwareOrNaiveDatetime  # ISO 8601 text, as JSON carries dates
    else:
        raise TypeError(f"schema column {name!r}: dtype {dtype} has no request-body equivalent")
    info = Field(description=column.description)
    if column.nullable or name == schema.TARGET:
        # A nullable field may be null or left out; the label is optional, as in scoring.
        return (Annotated[kind | None, info], None)
    return (Annotated[kind, info], ...)


def record_model(example: dict[str, Any] | None = None) -> type[BaseModel]:
    """One customer record as the service accepts it: the raw schema's columns and rules."""
    columns = schema.raw_schema(require_target=True, expectations=False).columns
    extra = {"examples": [example]} if example else None
    return _pydantic_model(
        "Record",
        __config__=ConfigDict(extra="forbid", json_schema_extra=extra),
        __doc__="One record: the columns of the training data, the label optional.",
        **{name: _field(name, column) for name, column in columns.items()},
    )


def table_dtypes() -> dict[str, Any]:
    """Columns of the validated table, with their dtypes (the label is not needed to score)."""
    columns = schema.raw_schema(require_target=False, expectations=False).columns
    return {name: column.dtype.type for name, column in columns.items()}


def table(records: list[BaseModel], dtypes: dict[str, Any]) -> pd.DataFrame:
    """Checked records as a table typed like `ratchet validate`'s output."""
    columns = {
        name: pd.array([getattr(r, name) for r in records], dtype=dtype)
        for name, dtype in dtypes.items()
    }
    return pd.DataFrame(columns, copy=False)  # the arrays are fresh: no copy needed


def _outputs_of(c: contract.Contract) -> dict[str, Any]:
    """Pydantic fields of one prediction of the contract's task (after the record's key)."""
    if c.task == "binary":
        return {
            "score": (
                float,
                Field(description="the positive class's probability, as `ratchet score` gives it"),
            ),
            "label": (
                Literal[0, 1],
                Field(description="1 if score >= threshold (evaluate.threshold)"),
            ),
        }
    if c.task == "regression":
        return {"prediction": (float, Field(description="the predicted " + c.target))}
    probability = Annotated[float, Field(ge=0, le=1)]
    # Class names need not be identifiers: the fields are named p0, p1, ... and published
    # under the class name (the response is written by hand, never through this model).
    probabilities = _pydantic_model(
        "Probabilities",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Every class's probability, by class name; they sum to 1.",
        **{f"p{i}": (probability, Field(alias=n)) for i, n in enumerate(c.class_names)},
    )
    return {
        "label": (
            Literal[c.class_names],
            Field(description="the most probable class, as the data names it"),
        ),
        "score": (probability, Field(description="the probability of that class")),
        "probabilities": (probabilities, ...),
    }


def response_model(key: str, c: contract.Contract | None = None) -> type[BaseModel]:
    """The /predict answer; each prediction names its record by `key` (the contract's id,
    or `row`, the record's 1-based place in the request, when the data has no id)."""
    c = c or contract.current()
    # Newer tasks publish that a prediction holds nothing else; the binary document is
    # left as clients already know it.
    closed = ConfigDict(extra="forbid") if c.task != "binary" else None
    prediction = _pydantic_model(
        "Prediction",
        __config__=closed,
        **{key: (str if key == schema.ID else int, ...)},
        **_outputs_of(c),
    )
    # The threshold turns a score into a label: only a binary model has one.
    threshold = {"threshold": (float, ...)} if c.task == "binary" else {}
    return _pydantic_model(
        "PredictResponse",
        model=(str, Field(description="the model version that scored the records")),
        **threshold,
        predictions=(list[prediction], Field(description="one per record, in request order")),
    )


def prediction_items(c: contract.Contract, outputs: dict[str, np.ndarray]) -> list[dict]:
    """`predict.outputs` as the response's predictions (without the record's key)."""
    if c.task == "binary":
        return [
            {"score": s, "label": y}
            for s, y in zip(outputs["score"].tolist(), outputs["label"].tolist(), strict=True)
        ]
    if c.task == "regression":
        return [{"prediction": p} for p in outputs["prediction"].tolist()]
    names = c.class_names
    proba = zip(*(outputs[predict.proba_column(n)].tolist() for n in names), strict=True)
    return [
        {"label": y, "score": s, "probabilities": dict(zip(names, ps, strict=True))}
        for y, s, ps in zip(
            outputs["label"].tolist(), outputs["score"].tolist(), proba, strict=True
        )
    ]


def describe_task(c: contract.Contract, threshold: float) -> dict[str, Any]:
    """What /model says of the task: its name, the classes, the threshold (binary only)."""
    if c.task == "binary":
        return {"task": c.task, "threshold": threshold}
    if c.task == "multiclass":
        return {"task": c.task, "classes": list(c.class_names)}
    return {"task": c.task}


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='["body", record index, field] for a field')
    msg: str = Field(description="the reason")
    type: str = Field(description="a machine-readable kind, e.g. int_type, missing")
    input: Any = Field(
        None,
        description=f"the offending value; text longer than {EXCERPT} characters, a list "
        "or an object as a cut excerpt ending in …",
    )


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] = Field(
        description=f"at most {MAX_ERRORS} errors, then one of type too_many_errors saying "
        "how many more were found"
    )


# --- errors: the field, the reason and a short excerpt, never the whole input -----------

_FLOAT_MAX = sys.float_info.max
OVERFLOW = "Number out of range: it does not fit a 64-bit float (at most about 1.8e308)"


def _json_scalar(value: Any) -> Any:
    """A JSON scalar as the error body can hold it (an infinity as text)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _tokens(value: Any) -> Iterator[str]:
    """`value` as JSON text, piece by piece (so a cut excerpt costs only what it shows)."""
    if isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield from ((", " if i else "") + json.dumps(str(key)[: EXCERPT + 1]), ": ")
            yield from _tokens(item)
        yield "}"
    elif isinstance(value, list | tuple):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ", "
            yield from _tokens(item)
        yield "]"
    elif isinstance(value, str):
        yield json.dumps(value[: EXCERPT + 1])
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        yield str(value)[: EXCERPT + 1]
    else:
        yield json.dumps(_json_scalar(value), default=repr)


def _cut(text: str) -> str:
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def excerpt(value: Any) -> Any:
    """An offending value as an error shows it: a short scalar as it is, else cut text."""
    if isinstance(value, str):
        return _cut(value)
    if (
        value is None
        or isinstance(value, bool | float)
        or (isinstance(value, int) and value.bit_length() <= 64)
    ):
        return _json_scalar(value)
    text = ""
    for token in _tokens(value):
        text += token
        if len(text) > EXCERPT:
            break
    return _cut(text)


def _loc(loc: tuple[str | int, ...]) -> list[str | int]:
    return ["body", *(part if isinstance(part, int) else _cut(part) for part in loc)]


def _is_overflow(value: Any) -> bool:
    if isinstance(value, float):
        return math.isinf(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX


def error_items(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pydantic errors as the 422 lists them: field, reason, excerpt; at most MAX_ERRORS."""
    out = []
    for e in errors[:MAX_ERRORS]:
        item = {"loc": _loc(e["loc"]), "msg": e["msg"], "type": e["type"]}
        value = e.get("input")
        if e["type"] != "missing":  # a missing field's "input" is the whole record
            item["input"] = excerpt(value)
        if e["type"] in ("finite_number", "float_type", "int_type") and _is_overflow(value):
            item["msg"], item["type"] = OVERFLOW, "finite_number"
        out.append(item)
    return out + _more(len(errors))


def _more(found: int) -> list[dict[str, Any]]:
    if found <= MAX_ERRORS:
        return []
    more = found - MAX_ERRORS
    return [{
        "loc": ["body"], "type": "too_many_errors",
        "msg": f"{more} more error{'s' if more > 1 else ''} not listed "
               f"({found} in all; the first {MAX_ERRORS} are shown)",
    }]  # fmt: skip


# --- parsing a request ------------------------------------------------------------------


class BadRequest(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def _error(msg: str, kind: str) -> BadRequest:
    """A problem with the body as a whole (not one record's field)."""
    return BadRequest([{"loc": ["body"], "msg": msg, "type": kind}])


class Parser:
    """Request bytes -> checked records, or BadRequest with field-level errors."""

    def __init__(self, record: type[BaseModel], max_batch: int) -> None:
        self.one = TypeAdapter(record)
        self.many = TypeAdapter(list[record])
        self.max_batch = max_batch

    def __call__(self, body: bytes) -> list[BaseModel]:
        try:
            data = pydantic_core.from_json(body, allow_inf_nan=False)
        except ValueError as exc:
            raise _error(f"Invalid JSON: {exc}", "json_invalid") from None
        try:
            if isinstance(data, dict):
                return [self.one.validate_python(data)]
            if not isinstance(data, list):
                raise _error(
                    "Expected a record (JSON object) or a list of records, "
                    f"got {type(data).__name__}",
                    "body_type",
                )
            if not data:
                raise _error("Expected at least one record, got an empty list", "too_short")
            if len(data) > self.max_batch:
                raise _error(
                    f"At most {self.max_batch} records per request (serve.max_batch), "
                    f"got {len(data)}",
                    "too_long",
                )
            return self.many.validate_python(data)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_context=False)
            raise BadRequest(error_items(errors)) from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # a client that names no type: take the body as JSON
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in JSON_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


# --- the app ----------------------------------------------------------------------------


def default_max_body_bytes(max_batch: int) -> int:
    """serve.max_body_bytes when params.yaml leaves it null: 1 KiB a record, 64 KiB at least.

    A record of the sample data is about 250 bytes as compact JSON, 350 indented.
    """
    return max(64 * 1024, BYTES_PER_RECORD * max_batch)


class _State:
    def __init__(self) -> None:
        self.model: Model | None = None
        self.error: str | None = None
        self.workers: ThreadPoolExecutor | None = None


class _Refused(Exception):
    """A request refused before its body is parsed (413, 408)."""

    def __init__(self, status: int, kind: str, msg: str) -> None:
        self.status, self.kind, self.msg = status, kind, msg


async def read_body(request: Request, limit: int, seconds: float) -> bytes:
    """The request body, refused (413) past `limit` bytes, whether or not it declares
    Content-Length, and (408) when it takes the client longer than `seconds` to send."""
    too_large = _Refused(
        413, "too_large", f"Request body larger than {limit:,} bytes (serve.max_body_bytes)"
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        with anyio.fail_after(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(
            408, "timeout", f"Request body not received within {seconds:g} s (serve.read_timeout)"
        ) from None
    return b"".join(chunks)


def _limit_model_threads(threads: int | None) -> None:
    # OpenMP limits are per thread: each worker sets its own, once, when it starts.
    if threads:
        threadpool_limits(threads, user_api="openmp")


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, separators=(",", ":"), allow_nan=False)
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def create_app(
    model: Model | Callable[[], Model],
    *,
    threshold: float,
    max_batch: int,
    max_body_bytes: int | None = None,
    read_timeout: float = 10.0,
    example: dict[str, Any] | None = None,
    model_threads: int | None = 1,
    workers: int | None = None,
) -> FastAPI:
    """The service for `model`, or for what `model()` returns once it has loaded.

    threshold: evaluate.threshold, where a score becomes label 1.
    max_batch: the most records one request may carry (serve.max_batch).
    max_body_bytes: the largest request body (serve.max_body_bytes; None: derived from
    max_batch, see `default_max_body_bytes`), refused with 413 before it is parsed.
    read_timeout: seconds a client has to send a request's body (408 after).
    example: a record shown in the OpenAPI docs.
    model_threads: OpenMP threads the model may use per request (None: the library's
    default, one per core). Scoring a few rows on a team of threads costs more than it
    saves, and under load the team waits for cores: one thread has the lower latency.
    workers: threads that parse, check and score requests (None: one per core). The
    event loop only moves bytes, so /health answers while they work.
    """
    state = _State()
    record = record_model(example)
    dtypes = table_dtypes()
    key = schema.ID or "row"
    c = contract.current()
    parse = Parser(record, max_batch)
    body_limit = max_body_bytes or default_max_body_bytes(max_batch)
    threshold_of = {"threshold": threshold} if c.task == "binary" else {}

    def load(loader: Callable[[], Model]) -> None:
        try:
            state.model = loader()
        except Exception as exc:  # reported by /health; the service stays unready
            state.error = f"{type(exc).__name__}: {exc}"

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state.workers = ThreadPoolExecutor(
            workers or os.cpu_count() or 1, thread_name_prefix="ratchet-predict",
            initializer=_limit_model_threads, initargs=(model_threads,),
        )  # fmt: skip
        if isinstance(model, Model):
            state.model = model
        else:
            threading.Thread(target=load, args=(model,), name="load-model", daemon=True).start()
        try:
            yield
        finally:
            state.workers.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title=f"Ratchet {c.name} model",
        version=__version__,
        description=(
            f"Scores of the registered {c.name} model; the dataset contract it was trained "
            "with checks every record."
        ),
        lifespan=lifespan,
    )

    def unready() -> JSONResponse:
        if state.error:
            return JSONResponse({"status": "failed", "detail": state.error}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503)

    @app.get("/health", summary="200 once the model is loaded, 503 before")
    async def health() -> Response:
        if state.model is None:
            return unready()
        return JSONResponse({"status": "ok", "model": state.model.version})

    @app.get(
        "/model",
        summary="the loaded model: name, version, stage, commit, metrics, task"
        + {"binary": ", threshold", "multiclass": ", classes"}.get(c.task, ""),
    )
    async def model_info() -> Response:
        if state.model is None:
            return unready()
        return JSONResponse(
            {**state.model.describe(), **describe_task(c, threshold), "max_batch": max_batch,
             "max_body_bytes": body_limit}
        )  # fmt: skip

    def score(current: Model, body: bytes) -> Response:
        """Parse, check and score one request: CPU work, run on a worker thread."""
        try:
            records = parse(body)
            rows = table(records, dtypes)
            with np.errstate(over="ignore", divide="ignore"):  # infinities are checked next
                feats = features.build_features(rows, c)
            single = body.lstrip()[:1] == b"{"
            _check_finite(feats, single=single)
            outputs = _model_outputs(current.pipeline, feats, threshold, c, single=single)
        except BadRequest as exc:
            return _json({"detail": exc.errors}, 422)
        # The id as text, whatever its type: as the response model and `ratchet score` say.
        ids = (
            rows[key].astype(str).tolist() if key in rows.columns else list(range(1, len(rows) + 1))
        )
        predictions = [
            {key: i, **item} for i, item in zip(ids, prediction_items(c, outputs), strict=True)
        ]
        return _json({"model": current.version, **threshold_of, "predictions": predictions})

    error = {"model": ErrorResponse}
    closes = "; the server then closes the connection"

    @app.post(
        "/predict",
        summary=_SUMMARY[c.task],
        response_model=response_model(key, c),
        responses={
            408: {**error, "description": f"body not received within serve.read_timeout{closes}"},
            413: {**error, "description": f"body larger than serve.max_body_bytes{closes}"},
            415: {**error, "description": "body is not JSON"},
            422: {
                **error,
                "description": "invalid records, field by field; or a valid record the "
                "model cannot answer with a number (prediction_not_finite: a linear model "
                "given values near the float limit)",
            },
            503: {"description": "model not loaded yet"},
        },
        openapi_extra={"requestBody": _request_body(max_batch, body_limit)},
    )
    async def predict_records(request: Request) -> Response:
        # The event loop only reads the body; parsing, checking and scoring run on a worker
        # thread, so /health and other requests are answered meanwhile.
        current = state.model
        if current is None:
            return unready()
        if not _is_json(request.headers.get("content-type")):
            return _json(
                {"detail": [{"loc": ["header", "content-type"], "type": "content_type",
                             "msg": "Send the records as JSON (Content-Type: application/json)"}]},
                415,
            )  # fmt: skip
        try:
            body = await read_body(request, body_limit, read_timeout)
        except _Refused as exc:
            # The rest of the body is not read: the connection cannot carry another request.
            detail = [{"loc": ["body"], "type": exc.kind, "msg": exc.msg}]
            return _json({"detail": detail}, exc.status, {"connection": "close"})
        workers = state.workers
        if workers is None:  # an app used without its lifespan (no worker threads)
            return score(current, body)
        return await asyncio.get_running_loop().run_in_executor(workers, score, current, body)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            spec.setdefault("components", {}).setdefault("schemas", {})["Record"] = (
                record.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_SUMMARY = {
    "binary": "score and label for one record or a list of records",
    "multiclass": "the class, its probability and every class's for one record or a list",
    "regression": "the prediction for one record or a list of records",
}


# Why the model cannot answer a valid record (`predict.guarded_outputs`' checks).
_UNSCORABLE = {
    "finite_after_scaling": "Feature {column!r} of this record overflows once the model scales it",
    "finite_output": "The model's output for this record is not a finite number",
}


def _model_outputs(
    pipeline: Pipeline, feats: pd.DataFrame, threshold: float, c, *, single: bool
) -> dict[str, np.ndarray]:
    """`predict.outputs`, or a 422 for the records the model cannot answer with a number
    (huge valid values a linear model overflows on): JSON has no infinity."""
    outputs, bad = predict.guarded_outputs(pipeline, feats, threshold, c)
    if not bad:
        return outputs
    # One error a record: its first overflowing feature.
    rows = {row: _UNSCORABLE[check].format(column=column)
            for row, column, check, _ in reversed(bad)}  # fmt: skip
    errors = [
        {"loc": ["body"] if single else ["body", row], "type": "prediction_not_finite",
         "msg": f"{msg}: a value of the record is too large to predict from"}
        for row, msg in sorted(rows.items())[:MAX_ERRORS]
    ]  # fmt: skip
    raise BadRequest(errors + _more(len(rows)))


def _check_finite(feats: pd.DataFrame, *, single: bool) -> None:
    """422 for records whose features are infinite (e.g. a ratio over a tiny number):
    the model would score them, but the score would mean nothing."""
    bad = predict.infinite_features(feats)
    if not bad:
        return
    errors = [
        {"loc": ["body"] if single else ["body", row], "type": "feature_not_finite",
         "msg": f"Feature {column!r} computed from this record is infinite: a value of the "
                "record is too large or too close to zero to score"}
        for row, column in bad[:MAX_ERRORS]
    ]  # fmt: skip
    raise BadRequest(errors + _more(len(bad)))


def _request_body(max_batch: int, max_bytes: int) -> dict[str, Any]:
    ref = {"$ref": "#/components/schemas/Record"}
    one_or_many = {
        "anyOf": [ref, {"type": "array", "items": ref, "minItems": 1, "maxItems": max_batch}]
    }
    return {
        "required": True,
        "description": f"one record, or a list of 1 to {max_batch} records; "
        f"at most {max_bytes:,} bytes",
        "content": {"application/json": {"schema": one_or_many}},
    }
