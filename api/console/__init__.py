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

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInNeeded, to_sign_in)
    app.add_exception_handler(PageRefused, refused_page)
    app.include_router(pages.router)
    app.include_router(accounts.router)
    app.include_router(check.router)
    app.include_router(check_reports.router)
    app.include_router(subscriptions.router)
    app.include_router(notices.router)
    for admin_page in (clients, approvals, keys, erasures, admin_log):
        app.include_router(admin_page.router)
    app.include_router(audit.router)
    app.include_router(reports.router)
    app.include_router(report_details.router)
    # The stylesheet ships in the package: no CDN, no build step.
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
