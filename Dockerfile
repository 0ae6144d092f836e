# The churn model's REST service (`ratchet serve`), with one registered version baked in.
#
#   docker build --build-arg STAGE=prod -t churn-model:prod .
#   docker build --build-arg STAGE= --build-arg VERSION=v1.2.0 -t churn-model:v1.2.0 .
#   docker run --rm -p 8000:8000 churn-model:prod
#
# Build from a clone that has the registry's tags (git fetch --tags, full history) and the
# model in its DVC cache (make pull, or make repro at the version's commit). The model
# stage fetches the version with `ratchet model get`, which checks the file's md5 against
# that version's dvc.lock. With STAGE and VERSION both set (the tag workflow), the build
# fails unless the stage still holds that version.

ARG PYTHON_IMAGE=python:3.11-slim

# The environment: exact versions from uv.lock, the serve extra, no dev tools.
FROM ${PYTHON_IMAGE} AS env
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN pip install uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --extra serve --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --extra serve --no-editable

# The model: resolved through the registry (git tags) and fetched from the DVC cache.
FROM env AS model
ARG STAGE=prod
ARG VERSION=
ENV DVC_NO_ANALYTICS=1 DO_NOT_TRACK=1
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /repo
COPY . .
RUN set -eu; \
    if [ -n "$STAGE" ]; then which="--stage=$STAGE"; else which="--version=$VERSION"; fi; \
    /app/.venv/bin/ratchet model get "$which" -o /model/model.skops --info /model/model.json; \
    if [ -n "$STAGE" ] && [ -n "$VERSION" ]; then \
      /app/.venv/bin/python -c 'import json, sys; held = json.load(open(sys.argv[1]))["version"]; sys.exit(None if held == sys.argv[2] else f"stage holds {held}, not {sys.argv[2]}")' \
        /model/model.json "$VERSION"; \
    fi; \
    cp params.yaml /model/params.yaml

# The service: the environment, the model, its description and params; no git, no DVC cache.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 ratchet \
    && useradd --system --uid 10001 --gid ratchet --home-dir /app --shell /usr/sbin/nologin ratchet
WORKDIR /app
COPY --from=env /app/.venv /app/.venv
COPY --from=model /model/ /app/
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 DVC_NO_ANALYTICS=1 DO_NOT_TRACK=1
USER ratchet
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["ratchet", "serve", "--model", "/app/model.skops", "--info", "/app/model.json", "--host", "0.0.0.0", "--port", "8000"]
