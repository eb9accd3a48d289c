"""Queries read the read models from CREDIT_READ_DATABASE_URL when it is set (a replica);
writes, projections and the access log stay on the primary."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import create_app
from service.bootstrap import build_services
from service.commanding.commands import RegisterSubject
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.builders import AUTHORITY_CODE, enterprise

pytestmark = pytest.mark.integration


async def test_queries_go_to_the_read_database(tmp_path):
    primary, replica = (f"sqlite:///{tmp_path}/{name}.sqlite3" for name in ("primary", "replica"))
    for url in (primary, replica):
        upgrade(Database.from_url(url))
    base: dict[str, Any] = {  # what both databases' settings share
        "environment": "test",
        "subject_id_key": "test-subject-key",
        "client_secret_scrypt_n": 2,
        "client_cache_seconds": 0,
    }
    # The replica has the client (as if replicated) but not the subject recorded just now.
    lagging = build_services(Settings(database_url=replica, **base), migrate=False)
    lagging.clients.create("reader", "agency", "郑州市交通运输局", AUTHORITY_CODE)
    lagging.close_sync()
    settings = Settings(database_url=primary, read_database_url=replica, **base)
    services = build_services(settings, migrate=False)
    client, _ = services.clients.create("reader", "agency", "郑州市交通运输局", AUTHORITY_CODE)
    token = services.tokens.issue(client).access_token
    subject = services.files.register(RegisterSubject(**enterprise(2)), recorded_by="t")
    services.runner.catch_up()
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answer = await http.get(
                f"/v1/subjects/{subject.subject_id}/status",
                headers={"Authorization": f"Bearer {token}"},
            )
    assert answer.status_code == 404  # the primary has it; the replica has not caught up
    assert answer.json()["type"].endswith("/subject-not-found")
