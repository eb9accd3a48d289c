"""Tamper evidence at scale on PostgreSQL: the cost of sealing on import, signing a checkpoint
over the whole log, a whole-store export, its offline verification, and proofs.

    .venv/bin/python -m bench.integrity --rows 100000 --subjects 20000
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from pathlib import Path

from bench.fixtures import machine, penalty_csv, scratch_postgres
from service.bootstrap import build_services
from service.commanding.importing.batch import import_stream
from service.integrity.export import export_lines
from service.integrity.verifier import verify_export
from service.settings import Settings


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    args = parser.parse_args()
    print(f"command: python -m bench.integrity {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    with scratch_postgres() as url, tempfile.TemporaryDirectory() as folder:
        settings = Settings(environment="test", database_url=url, subject_id_key="bench")
        services = build_services(settings, migrate=False)
        try:
            import_stream(
                io.BytesIO(penalty_csv(args.rows, args.subjects)),
                "seed.csv",
                services.files,
                recorded_by="bench",
                batch_size=2000,
            )
            started = time.perf_counter()
            checkpoint = services.checkpoints.make()
            signed = time.perf_counter() - started
            size = checkpoint.tree_size
            print(f"checkpoint over {size:,} events (tree built from nothing): {signed:.2f} s")

            path = Path(folder) / "store.ndjson"
            started = time.perf_counter()
            with path.open("wb") as out:
                out.writelines(export_lines(services.checkpoints))
            exported = time.perf_counter() - started
            print(
                f"whole-store export: {exported:.1f} s ({size / exported:,.0f} events/s), "
                f"{path.stat().st_size / 1e6:,.0f} MB"
            )
            started = time.perf_counter()
            with path.open("rb") as lines:
                report = verify_export(lines, saved_checkpoint=checkpoint.as_json())
            verified = time.perf_counter() - started
            print(
                f"offline verification: {verified:.1f} s ({size / verified:,.0f} events/s); "
                f"ok={report.ok}"
            )
            log = services.checkpoints.log
            timings = []
            with services.checkpoints.reader.connect() as conn:
                for index in range(0, size, max(1, size // 200)):
                    started = time.perf_counter()
                    log.inclusion_proof(conn, index, size)
                    timings.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                log.consistency_proof(conn, size // 3, size)
                consistency = (time.perf_counter() - started) * 1000
            timings.sort()
            print(
                f"inclusion proof: median {timings[len(timings) // 2]:.2f} ms, "
                f"max {timings[-1]:.2f} ms over {len(timings)} leaves; "
                f"consistency proof {consistency:.2f} ms"
            )
        finally:
            services.close_sync()


if __name__ == "__main__":
    main()
