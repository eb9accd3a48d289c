# The credit service: API (with the projection runner in-process by default) or `credit worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CREDIT_DATABASE_URL=sqlite:////data/credit.sqlite3
WORKDIR /app
COPY pyproject.toml requirements.lock README.md alembic.ini ./
COPY domain ./domain
COPY service ./service
COPY projections ./projections
COPY api ./api
COPY alembic ./alembic
# The versions CI tested: the lock, its hashes stripped, constrains the install, so the image
# gets every runtime dependency at its locked version and none of the test tools.
RUN sed -e '/--hash=/d' -e 's/ \\$//' requirements.lock > /tmp/constraints.txt \
    && pip install -c /tmp/constraints.txt . && rm /tmp/constraints.txt \
    && useradd --system --home /app credit && mkdir /data && chown credit /data
USER credit
EXPOSE 8000
CMD ["sh", "-c", "credit migrate && credit serve --host 0.0.0.0 --port 8000"]
