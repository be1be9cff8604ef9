# syntax=docker/dockerfile:1
# One image for every Python service of retail-hub. The command picks the
# service (see deploy/compose.yaml):
#
#   retail-hub serve                 pull API on RETAIL_HUB_API_PORT (8080)
#   retail-hub connector schedule    every connector on its interval
#   retail-hub publisher run         publisher loop
#   retail-hub monitor run           monitor, /metrics and dashboard (8090)
#   retail-hub-agent run             reference store agent
#   retail-hub-erp-simulator         ERP simulator, for demos only
#
# Secrets are never baked in: every setting comes from RETAIL_HUB_* variables
# at run time, or from a file named by RETAIL_HUB_<NAME>_FILE.

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:22-slim

# Chart.js for the monitor's dashboard, from monitor/web/package-lock.json.
FROM ${NODE_IMAGE} AS web
WORKDIR /web
COPY monitor/web/package.json monitor/web/package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

# Dependencies from the hash-pinned lock file, then the project without deps.
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/retail-hub
COPY requirements.lock /tmp/requirements.lock
RUN /opt/retail-hub/bin/pip install --require-hashes -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY connectors connectors
COPY hub hub
COPY monitor monitor
COPY erp_simulator erp_simulator
COPY store_agent store_agent
# NOTE: the build backend (setuptools>=68) is fetched unpinned into pip's
# isolated build environment. It runs only here and is not in the final image.
RUN /opt/retail-hub/bin/pip install --no-deps . \
    && /opt/retail-hub/bin/python -c "import hub, monitor, store_agent, erp_simulator"

FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid "${UID}" retailhub \
    && useradd --system --uid "${UID}" --gid retailhub \
        --home-dir /var/lib/retail-hub --create-home --shell /usr/sbin/nologin retailhub
COPY --from=builder /opt/retail-hub /opt/retail-hub
# monitor.dashboard serves monitor/web/node_modules/chart.js/dist/chart.umd.min.js
# next to the installed package. The UMD bundle contains its own dependencies.
COPY --from=web /web/node_modules/chart.js \
    /opt/retail-hub/lib/python3.11/site-packages/monitor/web/node_modules/chart.js
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/retail-hub-entrypoint
ENV PATH=/opt/retail-hub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RETAIL_HUB_API_HOST=0.0.0.0 \
    RETAIL_HUB_MONITOR_HOST=0.0.0.0 \
    RETAIL_HUB_HEALTH_URL=http://127.0.0.1:8080/v1/health
USER retailhub
WORKDIR /var/lib/retail-hub
EXPOSE 8080 8090
# Fails on a refused connection or any status other than 2xx, such as the
# API's 503 while MongoDB is down. Services without an HTTP port override it
# in deploy/compose.yaml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['RETAIL_HUB_HEALTH_URL'], timeout=4)"]
ENTRYPOINT ["retail-hub-entrypoint"]
CMD ["retail-hub", "serve"]
