"""The import's reading of rows alone: `row_to_item` over the rows of a national-format penalty
file held in memory (no store), in instructions per row or under cProfile.

    .venv/bin/python -m bench.import_rows --rows 20000 --subjects 4000 --instructions
    .venv/bin/python -m bench.import_rows --rows 20000 --subjects 4000 --profile

Instructions are counted by valgrind in two runs, of `--rows` and of a fifth of them, and
divided by the rows between: the start-up, the file's generation and its parsing into cells
are counted in both and drop out, so the figure is `row_to_item`'s own.
"""

from __future__ import annotations

import argparse
import io
import sys
from datetime import date

from bench.fixtures import machine, penalty_csv, valgrind_instructions

TODAY = date(2026, 12, 6)


def read(rows: int, subjects: int) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """The kind and the rows, by column name, of a generated penalty file."""
    from service.commanding.importing.sniffing import read_rows

    kind, records = read_rows(io.BytesIO(penalty_csv(rows, subjects)), "penalties.csv")
    return kind, list(records)


def convert(kind: str, records: list[tuple[int, dict[str, str]]], count: int) -> int:
    """`row_to_item` on the first `count` rows; the rows accepted."""
    from service.commanding.importing.columns import row_to_item
    from service.policy import load_policy

    policy = load_policy()
    accepted = 0
    for line, row in records[:count]:
        row_to_item(kind, line, row, today=TODAY, policy=policy)
        accepted += 1
    return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--subjects", type=int, default=4_000)
    parser.add_argument("--convert", type=int, help=argparse.SUPPRESS)  # a counted run's rows
    parser.add_argument("--instructions", action="store_true", help="count (valgrind)")
    parser.add_argument("--profile", action="store_true", help="cProfile, by own time")
    args = parser.parse_args()
    if args.convert is not None:
        kind, records = read(args.rows, args.subjects)
        print(convert(kind, records, args.convert))
        return
    print(f"command: python -m bench.import_rows {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    if args.instructions:
        small = args.rows // 5
        counts = {}
        for count in (small, args.rows):
            arguments = ["-m", "bench.import_rows", "--rows", str(args.rows)]
            arguments += ["--subjects", str(args.subjects), "--convert", str(count)]
            counts[count], _ = valgrind_instructions(arguments)
        per_row = (counts[args.rows] - counts[small]) / (args.rows - small)
        print(
            f"instructions per row of row_to_item (valgrind, {args.rows:,} rows less "
            f"{small:,}): {per_row:,.0f}"
        )
    if args.profile:
        import cProfile
        import pstats

        kind, records = read(args.rows, args.subjects)
        convert(kind, records, 100)  # imports and first-use caches out of the profile
        profile = cProfile.Profile()
        profile.runcall(convert, kind, records, len(records))
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
