"""Read-model snapshots for comparing a live projection with a rebuild."""

from __future__ import annotations

from sqlalchemy import select

from projections.tables import READ_MODEL_TABLES


def dump(engine) -> dict[str, list[dict]]:
    with engine.connect() as conn:
        return {
            table.name: [
                dict(row)
                for row in conn.execute(
                    select(table).order_by(*table.primary_key.columns)
                ).mappings()
            ]
            for table in READ_MODEL_TABLES
        }
