# syntax=docker/dockerfile:1
# The credit service: one image for every process of compose.yaml (`credit migrate`, `credit
# serve`, `credit worker`). Build: `docker build -t credit-transport .`
#
# The base image is pinned to a patch release; to pin its digest as well, build with
# --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest of your registry's copy>.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# Stage 1: the locked runtime dependencies, each checked against its hash, in a venv.
FROM ${PYTHON_IMAGE} AS dependencies
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements-runtime.lock /tmp/requirements-runtime.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements-runtime.lock

# Stage 2: the venv and the source, no compiler, no pip cache, run as an unprivileged user.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CREDIT_DATABASE_URL=sqlite:////data/credit.sqlite3
COPY --from=dependencies /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
COPY domain ./domain
COPY service ./service
COPY projections ./projections
COPY api ./api
# `credit` runs the source in /app (migrations and the policy files are found beside it).
RUN printf '#!/bin/sh\nexec python -m service.cli "$@"\n' > /opt/venv/bin/credit \
    && chmod 755 /opt/venv/bin/credit \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin credit \
    && mkdir /data && chown credit /data
USER 10001
EXPOSE 8000
# Liveness only (no database asked): compose.yaml checks /readyz for the API instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/livez', timeout=2).status != 200)"]
CMD ["credit", "serve", "--host", "0.0.0.0", "--port", "8000"]
