"""The HTTP stack alone: `ratchet serve`'s FastAPI + uvicorn setup with an endpoint that
reads the body and answers a fixed prediction. The floor of a request over loopback.

    python -m benchmarks.noop PORT
"""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request
from fastapi.responses import Response

from ratchet.core.params import ServeParams
from ratchet.serving.serve import uvicorn_config

ANSWER = b'{"model":"noop","threshold":0.5,"predictions":[{"row":1,"score":0.5,"label":1}]}'


def app() -> FastAPI:
    service = FastAPI()

    @service.get("/health")
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @service.post("/predict")
    async def predict(request: Request) -> Response:
        await request.body()
        return Response(ANSWER, media_type="application/json")

    return service


def main() -> None:
    import uvicorn

    cfg = ServeParams(max_batch=1_000, host="127.0.0.1", port=int(sys.argv[1]))
    uvicorn.Server(uvicorn_config(app(), cfg, cfg.host, cfg.port)).run()


if __name__ == "__main__":
    main()
