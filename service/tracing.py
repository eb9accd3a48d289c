"""OpenTelemetry tracing, when CREDIT_TRACING is on: spans for requests (api/app.py) and for SQL,
exported over OTLP as the standard OTEL_* variables say (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER ...), or printed with OTEL_TRACES_EXPORTER=console.
The packages are the optional `tracing` extra: asked for without them, the start stops with a
one-line error naming the extra."""

from __future__ import annotations

import os
from typing import Any

DEFAULT_SERVICE_NAME = "credit-transport"


class TracingUnavailable(RuntimeError):
    """CREDIT_TRACING is on but the `tracing` extra is not installed."""


def check_tracing_available() -> None:
    """Stop at once, in one line, when tracing is asked for without its packages."""
    start_tracing(install=False)


def start_tracing(*, install: bool = True) -> Any:
    """Install a tracer provider with its exporter, and trace every SQLAlchemy engine made from
    now on (statements without their parameters). Returns the provider."""
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError as error:
        raise TracingUnavailable(
            "CREDIT_TRACING needs the tracing extra: pip install 'credit-transport[tracing]' "
            f"({error.name} is missing)"
        ) from None
    if not install:
        return None
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # once per process
    resource = Resource.create(
        {SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME}
    )
    provider = TracerProvider(resource=resource)  # reads OTEL_TRACES_SAMPLER and its argument
    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS ...
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # The instrumentation declares SQLAlchemy below 2.1; its engine events are the same in 2.1
    # (tests/integration/test_tracing.py checks the spans), so its version check is skipped.
    SQLAlchemyInstrumentor().instrument(
        tracer_provider=provider, enable_commenter=False, skip_dep_check=True
    )
    return provider


def trace_app(app: Any) -> None:
    """Spans named by route template for every request but the platform's probes."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=start_tracing(), excluded_urls="/livez,/readyz,/metrics,/health"
    )
