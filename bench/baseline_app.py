"""The Python limit for a status read: a bare FastAPI + asyncpg endpoint reading one row by
primary key from the same subjects table. Run by bench/status_latency.py."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
from fastapi import FastAPI, HTTPException


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["BASELINE_DSN"], min_size=2, max_size=10)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/v1/subjects/{subject_id}/status")
async def status(subject_id: UUID) -> dict:
    row = await app.state.pool.fetchrow(
        "SELECT subject_id, kind, name, code_masked, version FROM subjects WHERE subject_id = $1",
        subject_id,
    )
    if row is None:
        raise HTTPException(404)
    return dict(row)
