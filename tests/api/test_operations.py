"""What operators see: request ids, request log lines and metrics by route template, liveness,
readiness and who may read /metrics."""

from __future__ import annotations

import json
import logging
import re
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from service.logs import logging_config
from tests.builders import enterprise, licence, penalty_file, penalty_file_row

pytestmark = pytest.mark.api


async def new_subject_with_a_record(client, serial: int = 1) -> tuple[str, int]:
    response = await client.post("/v1/subjects", json=enterprise(serial))
    assert response.status_code == 201, response.text
    subject_id = response.json()["subject_id"]
    response = await client.post(f"/v1/subjects/{subject_id}/events", json=licence())
    assert response.status_code == 201, response.text
    return subject_id, response.json()["position"]


async def test_every_answer_has_a_request_id_and_a_sane_incoming_one_is_kept(anonymous):
    fresh = await anonymous.get("/livez")
    assert fresh.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Request-ID"])
    # An error answer too (no token), and a problem answered before any route.
    refused = await anonymous.get("/v1/subjects/0/status")
    assert re.fullmatch(r"[0-9a-f]{32}", refused.headers["X-Request-ID"])
    assert refused.headers["X-Request-ID"] != fresh.headers["X-Request-ID"]

    kept = await anonymous.get("/livez", headers={"X-Request-ID": "gw-7f3a9c21-0001"})
    assert kept.headers["X-Request-ID"] == "gw-7f3a9c21-0001"
    for insane in ('a b\tinjected" line', "x" * 200, "<script>alert(1)</script>", "short"):
        replaced = await anonymous.get("/livez", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"]), insane


class Lines(logging.Handler):
    """Keeps each record as the service's handler sees it: through the request id filter."""

    def __init__(self) -> None:
        super().__init__()
        from asgi_correlation_id import CorrelationIdFilter

        self.addFilter(CorrelationIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_request_is_logged_by_its_route_template_with_its_request_id(client):
    subject_id, position = await new_subject_with_a_record(client)
    lines = Lines()
    logger = logging.getLogger("api.requests")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        response = await client.get(
            f"/v1/subjects/{subject_id}/status",
            params={"min_position": position},
            headers={"X-Request-ID": "trace-0123456789abcdef"},
        )
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    assert response.status_code == 200
    [line] = lines.records
    assert (line.method, line.route, line.status) == (  # type: ignore[attr-defined]
        "GET",
        "/v1/subjects/{subject_id}/status",
        200,
    )
    assert line.duration_ms >= 0  # type: ignore[attr-defined]
    assert line.correlation_id == "trace-0123456789abcdef"  # type: ignore[attr-defined]
    assert subject_id not in line.getMessage()


def test_a_log_line_is_one_json_object_with_the_request_id():
    from asgi_correlation_id import correlation_id

    config = logging_config("json")
    logging.config.dictConfig(
        {
            **config,
            "handlers": {
                "default": {**config["handlers"]["default"], "stream": "ext://sys.stdout"}
            },
        }
    )
    stream_handler = logging.getLogger().handlers[0]
    record = logging.LogRecord(
        "service.x", logging.WARNING, __file__, 1, "hi %s", ("you, 交通运输厅",), None
    )
    token = correlation_id.set("req-1234567890")
    try:
        for log_filter in stream_handler.filters:
            log_filter.filter(record)  # type: ignore[union-attr]
        line = stream_handler.format(record)
    finally:
        correlation_id.reset(token)
        logging.getLogger().handlers.clear()
    document = json.loads(line)
    assert document["request_id"] == "req-1234567890"
    assert (document["level"], document["logger"], document["message"]) == (
        "WARNING",
        "service.x",
        "hi you, 交通运输厅",
    )
    assert "交通运输厅" in line  # as itself, for a person reading the line, not as \u escapes
    assert "time" in document


async def test_each_answer_is_counted_once_under_its_own_status(client):
    """The series of each label set is looked up once and kept: every later answer still
    lands in its own series (route and status), each counted once."""
    subject_id, position = await new_subject_with_a_record(client)
    route = "/v1/subjects/{subject_id}/status"

    async def counts() -> tuple[float, float, float]:
        text = (await client.get("/metrics")).text

        def value(name: str, status: str) -> float:
            labels = re.escape(f'method="GET",route="{route}",status="{status}"')
            found = re.search(name + r"\{" + labels + r"\} (\S+)", text)
            return float(found.group(1)) if found else 0.0

        return (
            value("credit_http_requests_total", "200"),
            value("credit_http_requests_total", "404"),
            value("credit_http_request_duration_seconds_count", "200"),
        )

    before = await counts()
    for _ in range(3):
        answer = await client.get(
            f"/v1/subjects/{subject_id}/status", params={"min_position": position}
        )
        assert answer.status_code == 200
    missing = await client.get(f"/v1/subjects/{UUID(int=5)}/status")
    assert missing.status_code == 404
    after = await counts()
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (3, 1, 3)


async def test_metrics_count_requests_by_route_template_never_by_path(client):
    subject_id, position = await new_subject_with_a_record(client)
    for _ in range(2):
        response = await client.get(
            f"/v1/subjects/{subject_id}/status", params={"min_position": position}
        )
        assert response.status_code == 200
    await client.get("/no/such/page/never-a-label")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    status_route = 'method="GET",route="/v1/subjects/{subject_id}/status",status="200"'
    labels = re.escape(status_route)
    counted = re.search(r"credit_http_requests_total\{" + labels + r"\} (\S+)", text)
    assert counted is not None and float(counted.group(1)) >= 2
    assert re.search(r"credit_http_request_duration_seconds_count\{" + labels, text)
    assert 'route="unmatched",status="404"' in text
    assert subject_id not in text and "never-a-label" not in text
    assert "_created" not in text  # no per-series creation times: noise for every scrape
    # the read models' positions, read from the database when scraped
    head = re.search(r"^credit_log_head_position (\S+)$", text, re.MULTILINE)
    assert head is not None and float(head.group(1)) >= position
    for projector in ("credit_file", "cases", "report_records", "changes"):
        assert re.search(rf'credit_projection_lag_events{{projector="{projector}"}} \S+', text)
        assert f'credit_projection_position{{projector="{projector}"}}' in text
    assert "credit_outbox_last_change_position" in text
    assert "credit_access_log_batch_entries_count" in text
    assert "python_gc_objects_collected_total" in text  # one process: its own collectors too
    assert 'credit_db_pool_connections_in_use{pool="write"}' in text
    assert "# TYPE credit_import_rows_total counter" in text or "credit_import_rows" in text


async def test_metrics_are_refused_to_an_untrusted_address_without_the_token(settings, services):
    services.settings = settings.model_copy(update={"metrics_token": SecretStr("m" * 40)})
    app = create_app(services.settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
            refused = await http.get("/metrics")
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "credit_http" not in refused.text
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer " + "n" * 40})
            assert wrong.status_code == 401
            allowed = await http.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
            assert allowed.status_code == 200
            assert "credit_http_requests_total" in allowed.text


async def test_readiness_waits_for_the_projections_and_liveness_does_not(
    settings, services, role_headers
):
    services.settings = settings.model_copy(
        update={"run_projections_in_api": False, "ready_max_lag": 0}
    )
    app = create_app(services.settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
            http.headers.update(role_headers["recorder"])
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["migrations_at_head"] is True
            await http.post("/v1/subjects", json=enterprise())
            behind = await http.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["status"] == "not-ready"
            assert any("credit_file is 1 events behind" in r for r in behind.json()["reasons"])
            assert (await http.get("/livez")).status_code == 200
            services.runner.catch_up()
            assert (await http.get("/readyz")).status_code == 200
            # /health answers as before
            health = await http.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ok"


async def test_import_rows_and_access_log_batches_are_counted(client):
    from prometheus_client import REGISTRY

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    before = {
        outcome: sample("credit_import_rows_total", {"outcome": outcome})
        for outcome in ("accepted", "already_present", "rejected")
    }
    batches = sample("credit_access_log_batch_entries_count")
    data = penalty_file([penalty_file_row(1), penalty_file_row(2, CF_NR_FK="-3")])
    response = await client.post("/v1/imports", files={"file": ("batch.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    again = await client.post("/v1/imports", files={"file": ("batch.csv", data, "text/csv")})
    assert again.status_code == 200, again.text
    after = {
        outcome: sample("credit_import_rows_total", {"outcome": outcome}) for outcome in before
    }
    assert {k: after[k] - before[k] for k in before} == {
        "accepted": 1,
        "already_present": 1,
        "rejected": 2,
    }
    subject_id, position = await new_subject_with_a_record(client, serial=50)
    read = await client.get(f"/v1/subjects/{subject_id}/status", params={"min_position": position})
    assert read.status_code == 200
    assert sample("credit_access_log_batch_entries_count") > batches  # the read was logged


async def test_a_served_app_sets_its_start_up_heap_aside_from_full_collections(settings, services):
    """A serving process collects once after start-up and freezes what is left, so that no
    later full collection walks it (a pause in every answer); the tests' apps do not, or each
    would pin its heap for the rest of the run."""
    import gc
    import weakref

    from api.app import create_app

    frozen = gc.get_freeze_count()
    made_for_a_test = create_app(settings, services=services)
    async with made_for_a_test.router.lifespan_context(made_for_a_test):
        assert gc.get_freeze_count() == frozen
    served = create_app(settings, services=services, serving=True)

    class Cycle:
        pass

    garbage = Cycle()
    garbage.itself = garbage  # type: ignore[attr-defined]
    collected = weakref.ref(garbage)
    del garbage
    gc.disable()  # only the app's own collection may collect it
    try:
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > frozen + 10_000
            assert collected() is None  # collected before the freeze, not pinned by it
    finally:
        gc.enable()
        gc.unfreeze()
