"""What a live projection runner pays for each page it applies, as `credit worker` follows the
log behind single appends: CPU per page and per event, PostgreSQL's CPU per page, and the
statements it sends to the read-model database per page (a count the machine's load does not
move).

    .venv/bin/python -m bench.projection_pages --subjects 1000 --pages 200 --sizes 1,10,100

A worker behind appends arriving one by one applies small pages: what each page costs whatever
its size (reading the positions, a transaction per read model with its tracked position) is
then most of its work. The store is seeded by the import (penalties for `--subjects`
subjects, projected); then, for each page size, that many penalties are appended (as the API
appends them, one event each) and the runner applies them as one page, `--pages` times. CPU is
this process's while the runner applies (the appends are not counted), and PostgreSQL's that
of every `postgres` process meanwhile (so the server must be this run's alone); the statements
are those the runner's engine executes, besides the one read of the log a page makes.

With `--instructions` it also counts the instructions per page of each size (valgrind, as the
other benchmarks count theirs): two child processes on copies of the seeded store, each
appending the same `5 * --instructions-pages * size` penalties first and then applying
`--instructions-pages` pages and five times as many; the difference over the extra pages, per
page. The appends, the start-up and the seed drop out.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from typing import Any

from sqlalchemy import event

from bench.fixtures import (
    copy_of,
    machine,
    penalty_command,
    penalty_csv,
    postgres_cpu_seconds,
    scratch_postgres,
    valgrind_instructions,
)


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


def subject_ids(built: Any) -> list[Any]:
    with built.write_engine.connect() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT subject_id FROM subjects ORDER BY 1")]


def append_penalties(
    built: Any, ids: list[Any], count: int, rng: random.Random, number: int
) -> int:
    """`count` penalties appended as the API appends them, each to one of `ids` chosen by
    `rng`, numbered after `number`; returns the last number used."""
    for _ in range(count):
        number += 1
        built.files.append(rng.choice(ids), penalty(number, rng), recorded_by="bench")
    return number


def counted_pages(url: str, size: int, pages: int, appended: int, number: int) -> None:
    """The child process valgrind counts: `appended` penalties numbered after `number` (the
    store's own are numbered up to it: a decision recorded again is no new event), then
    `pages` pages of `size`."""
    built = services(url)
    try:
        append_penalties(built, subject_ids(built), appended, random.Random(7), number)
        for _ in range(pages):
            applied = built.runner.process_next_page(page_size=size)
            assert applied == size, (applied, size)
    finally:
        built.close_sync()


def instructions_per_page(url: str, size: int, pages: int, number: int) -> float:
    """Valgrind's instructions for `5 * pages` pages of `size` less those for `pages`, per page,
    each run on its own copy of the seeded store at `url` (its penalties numbered up to
    `number`), after the same appends."""
    appended = 5 * pages * size
    counts = []
    for n in (pages, 5 * pages):
        with copy_of(url) as copy:
            arguments = [
                *("--counted-pages", str(n), "--size", str(size), "--store", copy),
                *("--after-number", str(number)),
            ]
            counts.append(
                valgrind_instructions(
                    ["-m", "bench.projection_pages", *arguments, "--appended", str(appended)]
                )[0]
            )
    return (counts[1] - counts[0]) / (4 * pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--sizes", default="1,10,100", help="events per page, comma-separated")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions per page (valgrind)"
    )
    parser.add_argument(
        "--instructions-pages", type=int, default=20, help="pages in the shorter counted run"
    )
    parser.add_argument("--counted-pages", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--appended", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--after-number", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted_pages is not None:
        counted_pages(args.store, args.size, args.counted_pages, args.appended, args.after_number)
        return
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
            ids = subject_ids(built)
            statements = 0

            def count(*_: Any) -> None:
                nonlocal statements
                statements += 1

            event.listen(built.runner.engine, "before_cursor_execute", count)
            number = 0
            for size in (int(s) for s in args.sizes.split(",")):
                cpu = database_cpu = 0.0
                statements = 0
                for _ in range(args.pages):
                    number = append_penalties(built, ids, size, rng, number)
                    started, database_started = time.thread_time(), postgres_cpu_seconds()
                    applied = built.runner.process_next_page()
                    cpu += time.thread_time() - started
                    database_cpu += postgres_cpu_seconds() - database_started
                    assert applied == size, (applied, size)
                pages = args.pages
                print(
                    f"pages of {size:>4} event(s): {cpu / pages * 1e3:7.2f} ms CPU per page, "
                    f"{cpu / (pages * size) * 1e3:6.2f} ms per event, PostgreSQL's "
                    f"{database_cpu / pages * 1e3:.2f} ms per page; "
                    f"{statements / pages:5.1f} statements per page to the read models "
                    f"(and one read of the log)"
                )
        finally:
            built.close_sync()
        if args.instructions:  # on copies of the store as it stands, no one connected to it
            for size in (int(s) for s in args.sizes.split(",")):
                counted = instructions_per_page(url, size, args.instructions_pages, number)
                print(
                    f"pages of {size:>4} event(s): {counted:,.0f} instructions per page "
                    f"(valgrind, {args.instructions_pages} and {5 * args.instructions_pages} "
                    f"pages), {counted / size:,.0f} per event"
                )


if __name__ == "__main__":
    main()
