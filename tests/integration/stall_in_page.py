"""A projection process that stalls inside a page transaction, to be killed there by a test.

Run as: python -m tests.integration.stall_in_page <database_url> <marker_file>"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from projections.credit_file.projector import CreditFileProjector
from service.bootstrap import build_services
from service.settings import Settings


class StallingProjector(CreditFileProjector):
    """Writes its rows for the page, then hangs before the transaction can commit."""

    def __init__(self, policy, marker: Path):
        super().__init__(policy)
        self.marker = marker

    def apply(self, conn, events):
        super().apply(conn, events)
        self.marker.write_text(str(events[-1][0]))
        time.sleep(600)


def main(database_url: str, marker: str) -> None:
    settings = Settings(
        environment="test",
        database_url=database_url,
        subject_id_key="test-subject-key",
        projection_page_size=50,
    )
    services = build_services(settings, migrate=False)
    services.runner.projectors = [StallingProjector(services.policy, Path(marker))]
    services.runner.catch_up()


if __name__ == "__main__":
    main(*sys.argv[1:])
