"""What the gateway tells its operators beyond logs: Prometheus metrics (`metrics`, scraped at
`/metrics`) and OpenTelemetry traces (`tracing`, exported over OTLP when configured). The core and
the store report through one `Probe` (`probe`); the ASGI entry counts requests (`gateway.http.asgi`).
"""
