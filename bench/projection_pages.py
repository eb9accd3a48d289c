"""What a live projection runner pays for each page it applies, as `credit worker` follows the
log behind single appends: CPU per page and per event, and the statements it sends to the
read-model database per page (a count the machine's load does not move).

    .venv/bin/python -m bench.projection_pages --subjects 1000 --pages 200 --sizes 1,10,100

A worker behind appends arriving one by one applies small pages: what each page costs whatever
its size (reading the positions, a transaction per read model with its tracked position) is
then most of its work. The store is seeded by the import (penalties for `--subjects`
subjects, projected); then, for each page size, that many penalties are appended (as the API
appends them, one event each) and the runner applies them as one page, `--pages` times. CPU is
this process's while the runner applies (the appends are not counted); the statements are
those the runner's engine executes, besides the one read of the log a page makes.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from typing import Any

from sqlalchemy import event

from bench.fixtures import machine, penalty_command, penalty_csv, scratch_postgres


def services(url: str) -> Any:
    from service.bootstrap import build_services
    from service.settings import Settings

    settings = Settings(environment="test", database_url=url, subject_id_key="bench")
    return build_services(settings, migrate=False)


def penalty(number: int, rng: random.Random) -> Any:
    """A penalty as bench/append_latency.py posts it, with its own decision number."""
    from service.commanding.commands import RECORD_COMMANDS

    source_ref = f"郑交执罚〔2026〕页-{number:07d}号"
    body = penalty_command(source_ref, rng.choice(["minor", "general", "serious"]))
    return RECORD_COMMANDS["PenaltyDecided"].model_validate(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--sizes", default="1,10,100", help="events per page, comma-separated")
    args = parser.parse_args()
    from service.commanding.importing.batch import import_stream

    print(f"command: python -m bench.projection_pages {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    rng = random.Random(7)
    with scratch_postgres() as url:
        built = services(url)
        try:
            seed = penalty_csv(args.subjects * 3, args.subjects)
            import_stream(io.BytesIO(seed), "seed.csv", built.files, recorded_by="bench")
            built.runner.catch_up()
            with built.write_engine.connect() as conn:
                ids = [r[0] for r in conn.exec_driver_sql("SELECT subject_id FROM subjects")]
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            event.listen(built.runner.engine, "before_cursor_execute", count)
            number = 0
            for size in (int(s) for s in args.sizes.split(",")):
                cpu = 0.0
                statements = 0
                for _ in range(args.pages):
                    for _ in range(size):
                        number += 1
                        subject_id = rng.choice(ids)
                        built.files.append(subject_id, penalty(number, rng), recorded_by="bench")
                    started = time.thread_time()
                    applied = built.runner.process_next_page()
                    cpu += time.thread_time() - started
                    assert applied == size, (applied, size)
                pages = args.pages
                print(
                    f"pages of {size:>4} event(s): {cpu / pages * 1e3:7.2f} ms CPU per page, "
                    f"{cpu / (pages * size) * 1e3:6.2f} ms per event; "
                    f"{statements / pages:5.1f} statements per page to the read models "
                    f"(and one read of the log)"
                )
        finally:
            built.close_sync()


if __name__ == "__main__":
    main()
