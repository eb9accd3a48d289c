"""A separate writer process for the concurrency test: appends records to one subject and
prints each acknowledgement as it is given.

Run as: python -m tests.integration.append_worker <database_url> <subject_id> <worker> <count>"""

from __future__ import annotations

import sys
from uuid import UUID

from service.bootstrap import build_services
from service.commanding.commands import record_command_adapter
from service.settings import Settings
from tests.builders import penalty


def main(database_url: str, subject_id: str, worker: str, count: str) -> None:
    settings = Settings(
        environment="test", database_url=database_url, subject_id_key="test-subject-key"
    )
    services = build_services(settings, migrate=False)
    for n in range(int(count)):
        command = record_command_adapter.validate_python(penalty(f"W{worker}-{n}"))
        ack = services.files.append(UUID(subject_id), command, recorded_by=f"worker-{worker}")
        print(f"{ack.record_id} {ack.version} {ack.position}", flush=True)
    services.close_sync()


if __name__ == "__main__":
    main(*sys.argv[1:])
