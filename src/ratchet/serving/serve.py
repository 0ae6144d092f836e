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

from ratchet.core import params
from ratchet.core.errors import RatchetError
from ratchet.core.params import EvaluateParams, ServeParams
from ratchet.dataset import contract
from ratchet.pipeline import compiled, predict
from ratchet.pipeline import model as model_file
from ratchet.registry import loading, modelcard, tags

INSTALL_HINT = "pip install 'ratchet[serve]' (in this repository: uv sync --extra serve)"
INFO_KEYS = {"name", "version", "stage", "commit", "metrics", "md5"}
MAX_HEAD_BYTES = 64 * 1024  # request line and headers; a longer head gets 431


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
    from ratchet.serving import api

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


def _example() -> dict[str, Any] | None:
    """A record for the OpenAPI docs' "Try it out", from the dataset contract."""
    return contract.current().example_record()


def _refuse(status: str, text: str) -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


def http_protocol(seconds: float, base: type | None = None) -> type:
    """uvicorn's HTTP protocol (or `base`), with a deadline for each request's head.

    uvicorn times out only idle keep-alive connections: a client that sends half a
    request line, or headers one byte at a time, holds its connection for ever. Here the
    request line and headers must arrive within `seconds` of the connection opening (or
    of the first byte after a response), and within MAX_HEAD_BYTES; otherwise the client
    gets 408 (431) and the connection is closed. The body's deadline is the app's.
    """
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol
    timeout = _refuse("408 Request Timeout", f"Request headers not received within {seconds:g} s")
    too_long = _refuse("431 Request Header Fields Too Large", "Request headers too large")

    class HeadDeadline(base):  # type: ignore[misc, valid-type]
        _head_timer: Any = None
        _head_bytes = 0

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._start_head_timer()

        def data_received(self, data: bytes) -> None:
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before:  # a request's head is complete: it is being served
                self._stop_head_timer()
                self._head_bytes = 0
            elif self._awaiting_head() and not self.transport.is_closing():
                self._head_bytes += len(data)  # part of the next request's head
                if self._head_bytes > MAX_HEAD_BYTES:
                    self._refuse(too_long)
                else:
                    self._start_head_timer()  # keeps a running deadline: never extended

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            super().connection_lost(exc)

        def _awaiting_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _start_head_timer(self) -> None:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(seconds, self._expired)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            self._head_timer = None
            if self._awaiting_head() and not self.transport.is_closing():
                self._refuse(timeout)

        def _refuse(self, response: bytes) -> None:
            self._stop_head_timer()
            self.transport.write(response)
            self.transport.close()

    HeadDeadline.__name__ = HeadDeadline.__qualname__ = f"HeadDeadline{base.__name__}"
    return HeadDeadline


def uvicorn_config(app, cfg: ServeParams, host: str, port: int, access_log: bool = False):
    """How `ratchet serve` runs the app: uvicorn, with the request-head deadline."""
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=http_protocol(cfg.read_timeout),
        timeout_keep_alive=5,  # seconds an idle keep-alive connection stays open
        access_log=access_log,
        log_level="info",
    )


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
        "--workers", type=int, help="worker processes (default: params serve.workers)"
    )
    parser.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs latency)"
    )


def command(args: argparse.Namespace) -> int:
    _require_extra()

    cfg = params.section("serve", ServeParams, args.params)
    threshold = params.section("evaluate", EvaluateParams, args.params).threshold
    host = args.host or cfg.host
    port = cfg.port if args.port is None else args.port
    if not 0 < port < 65_536:
        raise RatchetError(f"--port must be between 1 and 65535, got {port}")
    if args.workers is not None and not 1 <= args.workers <= 64:
        raise RatchetError(f"--workers must be between 1 and 64, got {args.workers}")
    _check_port_free(host, port)
    model = load(args)
    # Requests are read and checked by the contract the model was trained with.
    with contract.use(model_file.contract_for(model.pipeline)):
        return _serve(args, cfg, threshold, host, port, model)


def _serve(args, cfg: ServeParams, threshold: float, host: str, port: int, model) -> int:
    import uvicorn

    from ratchet.serving import api

    app = api.create_app(
        model,
        threshold=threshold,
        max_batch=cfg.max_batch,
        max_body_bytes=cfg.max_body_bytes,
        read_timeout=cfg.read_timeout,
        example=_example(),
    )
    max_bytes = cfg.max_body_bytes or api.default_max_body_bytes(cfg.max_batch)
    task = contract.current().task
    what = f"threshold {threshold}" if task == "binary" else task
    n = args.workers or cfg.workers
    print(
        f"serving {model.name} {model.version} on http://{host}:{port} "
        f"({what}, at most {cfg.max_batch} records and {max_bytes:,} bytes "
        f"a request; {n} worker{'s' if n > 1 else ''}; {_prediction_path(model)}; docs: /docs)",
        flush=True,
    )
    config = uvicorn_config(app, cfg, host, port, args.access_log)
    if n == 1:
        uvicorn.Server(config).run()
        return 0
    from ratchet.serving import workers

    return workers.run(lambda sockets: uvicorn.Server(config).run(sockets=sockets),
                       config.bind_socket(), n)  # fmt: skip


def _prediction_path(model) -> str:
    """Which prediction path the service takes (`ratchet.pipeline.compiled`)."""
    if predict.compiled_form(model.pipeline) is not None:
        return "compiled model"
    reason = compiled.why_not(model.pipeline) or "a layout the compiled form does not cover"
    return f"scikit-learn pipeline: {reason}"
