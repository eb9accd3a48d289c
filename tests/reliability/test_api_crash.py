"""A crash of the API process under load loses no acknowledged write and doubles none: the
client retries with the same Idempotency-Keys after the restart."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import httpx
import pytest

from service.commanding.commands import RegisterSubject
from service.replay.check import verify_read_models
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE, enterprise, penalty
from tests.reliability.api_process import free_port, post, start_api

pytestmark = pytest.mark.integration
WRITES = 120


def test_a_killed_api_loses_no_acknowledged_write_and_doubles_none(services, settings):
    client, _ = services.clients.create(
        "crash-recorder",
        "recorder",
        "局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE, OTHER_AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    token = services.tokens.issue(client).access_token
    subject = services.files.register(RegisterSubject(**enterprise(777)), recorded_by="t")
    url_path = f"/v1/subjects/{subject.subject_id}/events"
    headers = {"Authorization": f"Bearer {token}"}
    answers: dict[str, dict] = {}

    def send(port: int, n: int) -> dict | None:
        try:
            response = post(
                f"http://127.0.0.1:{port}{url_path}",
                json=penalty(f"CRASH-{n:04d}"),
                headers={**headers, "Idempotency-Key": f"crash-{n}"},
                timeout=5,
            )
        except httpx.HTTPError:
            return None  # not acknowledged: the client will retry it
        return response.json() if response.status_code in (200, 201) else None

    port = free_port()
    api = start_api(settings, port)
    lock = threading.Lock()

    def first_round(n: int) -> None:
        answer = send(port, n)
        if answer is not None:
            with lock:
                answers[f"crash-{n}"] = answer
                if len(answers) == WRITES // 3:
                    api.send_signal(signal.SIGKILL)  # with other writes in flight

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(first_round, range(WRITES)))
    api.wait()
    acknowledged = dict(answers)
    assert WRITES // 3 <= len(acknowledged) < WRITES, "the kill should land mid-load"

    port = free_port()
    api = start_api(settings, port)
    try:
        for n in range(WRITES):  # retry everything, acknowledged or not, with the same keys
            answer = send(port, n)
            assert answer is not None, n
            if f"crash-{n}" in acknowledged:
                assert answer == acknowledged[f"crash-{n}"]  # the first answer, again
    finally:
        api.kill()
        api.wait()

    stream = list(services.ledger.events.get(UUID(str(subject.subject_id))))
    refs = [e.source_ref for e in stream[1:]]
    assert sorted(refs) == [f"CRASH-{n:04d}" for n in range(WRITES)]  # each exactly once
    services.runner.catch_up()
    assert verify_read_models(services).ok
