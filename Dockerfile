# syntax=docker/dockerfile:1
# Images of the job workers (target `workers`, the default) and of the one-shot model deployment
# (target `deploy`: the same image plus Node.js and the lint tools that `shuangshi deploy` runs first).
#
#   docker build -t shuangshi-workers:0.1.0 .
#   docker build --target deploy -t shuangshi-deploy:0.1.0 .
#
# docker-compose.yml builds both. Base images are pinned to exact versions; bump them together with
# the tags in .env.

ARG PYTHON_IMAGE=python:3.11.16-slim-bookworm
ARG NODE_IMAGE=node:22.23.2-bookworm-slim

# --- build: a wheel of the project, installed with its runtime dependencies only (no [dev] extra) ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY shuangshi ./shuangshi
COPY workers ./workers
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install /wheels/shuangshi-*.whl

# --- runtime: the installed package, the models and the configuration, a non-root user ---
FROM ${PYTHON_IMAGE} AS runtime
# The installed package does not sit in a checkout, so it is told where config/ (catalog, holidays,
# notification templates) and bpmn/ + forms/ are. Seal keys come from a mounted secret folder and are
# never generated in the container. The HTTP endpoints (/healthz, /readyz, /metrics) listen on all
# interfaces so that the health check and Prometheus reach them.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SHUANGSHI_CONFIG_DIR=/app/config \
    SHUANGSHI_RESOURCES_DIR=/app \
    SHUANGSHI_DATA_DIR=/var/lib/shuangshi \
    SHUANGSHI_SEAL_KEY_DIR=/run/secrets/seals \
    SHUANGSHI_SEAL_GENERATE_KEYS=false \
    SHUANGSHI_HTTP_HOST=0.0.0.0 \
    SHUANGSHI_HTTP_PORT=9464 \
    SHUANGSHI_LOG_FORMAT=json
# uid/gid 10001: mounted secrets must belong to it (scripts/make-secrets.sh does that).
RUN groupadd --system --gid 10001 shuangshi \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/shuangshi --shell /usr/sbin/nologin shuangshi \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/shuangshi
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY bpmn ./bpmn
COPY forms ./forms
COPY config ./config
USER 10001:10001
EXPOSE 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('SHUANGSHI_HTTP_PORT', '9464') + '/healthz', timeout=4)"]
ENTRYPOINT ["shuangshi"]
CMD ["workers"]

# --- node-tools: the npm packages of package-lock.json (bpmnlint and its Camunda rules, ajv) ---
FROM ${NODE_IMAGE} AS node-tools
WORKDIR /tools
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error

# --- deploy: `shuangshi deploy` lints bpmn/ and forms/ with Node, then deploys them in one request ---
FROM runtime AS deploy
COPY --from=node-tools /usr/local/bin/node /usr/local/bin/node
COPY --from=node-tools /tools/node_modules /app/node_modules
COPY package.json .bpmnlintrc /app/
COPY scripts /app/scripts
# The lint finds its Node script, .bpmnlintrc and node_modules under SHUANGSHI_RESOURCES_DIR (/app).
HEALTHCHECK NONE
CMD ["deploy"]

# --- workers (default target): the runtime image as it is ---
FROM runtime AS workers
