"""OpenTelemetry traces of the gateway, exported over OTLP (HTTP/protobuf) when an endpoint is set.

The standard variables say where: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the whole URL), else
`OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` added; `OTEL_SERVICE_NAME` names the service
(`thread-gateway` by default); the exporter reads `OTEL_EXPORTER_OTLP_HEADERS` and the batch
processor `OTEL_BSP_*` themselves. With neither endpoint set there is no tracer at all, and the
code that would make spans is not on the path of a request (see `Probe`, `gateway.http.asgi`).

The tracer provider is the app's own, not the process-wide global: each app (a worker, a test)
exports its spans and flushes them when its lifespan ends.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from gateway.settings import Settings

INSTRUMENTATION = "gateway"


def traces_endpoint(settings: Settings) -> str | None:
    """Where spans are sent, or None: tracing is off."""
    if settings.otlp_traces_endpoint:
        return settings.otlp_traces_endpoint
    if settings.otlp_endpoint:
        return settings.otlp_endpoint.rstrip("/") + "/v1/traces"
    return None


class Tracing:
    """The app's tracer provider, batch-exporting to `endpoint`; `shutdown` flushes what is left."""

    def __init__(self, endpoint: str, service_name: str) -> None:
        self.endpoint = endpoint
        self._provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
        self.tracer: Tracer = self._provider.get_tracer(INSTRUMENTATION)

    def shutdown(self) -> None:
        """Export the spans still queued, then stop (blocking: call it off the event loop)."""
        self._provider.shutdown()


def tracing_from(settings: Settings) -> Tracing | None:
    endpoint = traces_endpoint(settings)
    return None if endpoint is None else Tracing(endpoint, settings.otel_service_name)
