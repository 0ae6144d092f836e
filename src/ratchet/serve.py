"""`ratchet serve`: the REST prediction service (FastAPI + uvicorn, the `serve` extra).

The model is resolved through the registry (a stage or a version, from the DVC cache or
remote, md5-checked) or read from a file, and loaded once, before the port opens: a
model that cannot be loaded is a one-line error, never a service that answers 500.
The app itself lives in `ratchet.api`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
from pathlib import Path
from typing import Any

from ratchet import loading, modelcard, params, schema, tags
from ratchet.errors import RatchetError
from ratchet.params import EvaluateParams, ServeParams

INSTALL_HINT = "pip install 'ratchet[serve]' (in this repository: uv sync --extra serve)"
INFO_KEYS = {"name", "version", "stage", "commit", "metrics", "md5"}


def _require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise RatchetError(
            f"ratchet serve needs the optional 'serve' extra ({exc.name} is not installed): "
            + INSTALL_HINT
        ) from None


def read_info(path: str, model_file: str) -> dict[str, Any]:
    """`ratchet model get --info` output, checked against the model file it describes."""
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RatchetError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RatchetError(f"{path}: not a readable JSON file ({exc})") from None
    if not isinstance(info, dict) or not {"name", "version"} <= set(info):
        raise RatchetError(f"{path}: expected an object with name and version (model get --info)")
    unknown = sorted(set(info) - INFO_KEYS)
    if unknown:
        raise RatchetError(f"{path}: unknown keys {unknown}; expected {sorted(INFO_KEYS)}")
    if "md5" in info:
        actual = hashlib.md5(Path(model_file).read_bytes()).hexdigest()
        if actual != info["md5"]:
            raise RatchetError(
                f"{model_file}: md5 {actual} differs from {info['md5']} recorded in {path}; "
                "the model file is not the one described"
            )
    return {k: v for k, v in info.items() if k != "md5"}


def load(args: argparse.Namespace):
    """The model to serve, with what /model says about it."""
    from ratchet import api

    if args.info and not args.model:
        raise RatchetError("--info describes a model file: use it with --model FILE")
    pipeline, ref = loading.load_file_or_registered(args.model, args.version, args.stage)
    if ref is None:
        info = read_info(args.info, args.model) if args.info else {}
        default = {"name": Path(args.model).stem, "version": loading.file_version(args.model)}
        return api.Model(pipeline, **{**default, **info})
    summary = modelcard.summary(tags.toplevel("."), ref.name, ref.version, ref.commit, ref.stage)
    return api.Model(pipeline, **summary)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RatchetError(f"cannot listen on {host}:{port} ({exc.strerror})") from None


def _example() -> dict[str, Any]:
    """A record for the OpenAPI docs' "Try it out", from the sample generator."""
    from ratchet import sample

    row = sample.generate(1, seed=0).drop(columns=[schema.TARGET])
    return json.loads(row.to_json(orient="records"))[0]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stage", default="prod", help="registry stage (default: %(default)s)")
    which.add_argument("--version", help="registry version, e.g. v1.2.0")
    which.add_argument("--model", help="a model file instead of the registry")
    parser.add_argument(
        "--info", help="with --model: its description from `ratchet model get --info` (JSON)"
    )
    parser.add_argument("--host", help="listen address (default: params serve.host)")
    parser.add_argument("--port", type=int, help="listen port (default: params serve.port)")
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs latency)"
    )


def command(args: argparse.Namespace) -> int:
    _require_extra()
    import uvicorn

    from ratchet import api

    cfg = params.section("serve", ServeParams, args.params)
    threshold = params.section("evaluate", EvaluateParams, args.params).threshold
    host = args.host or cfg.host
    port = cfg.port if args.port is None else args.port
    if not 0 < port < 65_536:
        raise RatchetError(f"--port must be between 1 and 65535, got {port}")
    _check_port_free(host, port)
    model = load(args)
    app = api.create_app(model, threshold=threshold, max_batch=cfg.max_batch, example=_example())
    print(
        f"serving {model.name} {model.version} on http://{host}:{port} "
        f"(threshold {threshold}, at most {cfg.max_batch} records a request; docs: /docs)",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, access_log=args.access_log, log_level="info")
    return 0
