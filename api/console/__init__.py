"""The staff console (工作台): server-rendered pages for government staff who sign in with a
personal account. `install` adds its routes, its stylesheet and its page answers to the app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.console import (
    accounts,
    admin_log,
    approvals,
    audit,
    check,
    check_reports,
    clients,
    erasures,
    keys,
    notices,
    pages,
    report_details,
    reports,
    subscriptions,
)
from api.console.staff import PageRefused, SignInNeeded, refused_page, to_sign_in
from api.routers import serve_router

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInNeeded, to_sign_in)
    app.add_exception_handler(PageRefused, refused_page)
    serve_router(app, pages.router)
    serve_router(app, accounts.router)
    serve_router(app, check.router)
    serve_router(app, check_reports.router)
    serve_router(app, subscriptions.router)
    serve_router(app, notices.router)
    for admin_page in (clients, approvals, keys, erasures, admin_log):
        serve_router(app, admin_page.router)
    serve_router(app, audit.router)
    serve_router(app, reports.router)
    serve_router(app, report_details.router)
    # The stylesheet ships in the package: no CDN, no build step.
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
