"""The observability settings and rules that need no server: where traces go (and that they are
off without an endpoint), the door of a path, the bound on model labels, the multiprocess
directory of a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import serve
from gateway.observability.metrics import MAX_MODELS, Metrics, door_of
from gateway.observability.tracing import traces_endpoint, tracing_from
from gateway.settings import SettingsError, load_settings


def test_tracing_is_off_without_an_otlp_endpoint() -> None:
    settings = load_settings({})
    assert traces_endpoint(settings) is None
    assert tracing_from(settings) is None


def test_the_traces_endpoint_comes_from_the_standard_variables() -> None:
    general = load_settings({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert traces_endpoint(general) == "http://collector:4318/v1/traces"
    both = load_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example/otlp/v1/traces",
        }
    )
    assert traces_endpoint(both) == "https://traces.example/otlp/v1/traces"
    assert general.otel_service_name == "thread-gateway"
    assert load_settings({"OTEL_SERVICE_NAME": "edge"}).otel_service_name == "edge"


@pytest.mark.parametrize(
    ("env", "mistake"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be an http"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "grpc://c:4317"},
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://"}, "OTEL_EXPORTER_OTLP_ENDPOINT must be an http"),
        ({"OTEL_SERVICE_NAME": "  "}, "OTEL_SERVICE_NAME must not be blank"),
    ],
)
def test_a_bad_tracing_setting_is_one_clear_mistake(env: dict[str, str], mistake: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert len(caught.value.mistakes) == 1
    assert caught.value.mistakes[0].startswith(mistake)


@pytest.mark.parametrize(
    ("path", "door"),
    [
        ("/v1/model/response", "freddy"),
        ("/v1/threads/abc", "freddy"),
        ("/v1/responses", "openai"),
        ("/v1/conversations/c1/items", "openai"),
        ("/api", "backboard"),
        ("/api/threads/x/messages", "backboard"),
        ("/apix", "other"),
        ("/health", "health"),
        ("/health/ready", "health"),
        ("/metrics", "other"),
        ("/schema", "other"),
    ],
)
def test_each_path_belongs_to_its_door(path: str, door: str) -> None:
    assert door_of(path) == door


def test_model_labels_are_bounded() -> None:
    metrics = Metrics()
    for i in range(MAX_MODELS):
        assert metrics.calls("openai", f"m{i}").labels == ("openai", f"m{i}")
    assert metrics.calls("openai", "one-too-many").labels == ("openai", "other")
    assert metrics.calls("openai", "m0").labels == ("openai", "m0")  # those seen keep their label
    metrics.calls("openai", "yet-another").calls.inc()
    text = metrics.exposition().decode()
    assert "one-too-many" not in text and "yet-another" not in text
    assert 'gateway_provider_calls_total{model="other",provider="openai"} 1.0' in text


def test_a_given_multiprocess_directory_is_emptied_of_an_earlier_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_123.db").write_bytes(b"old")
    (given / "keep.txt").write_text("not ours")
    monkeypatch.setenv(serve.MULTIPROC_ENV, str(given))
    assert serve.metrics_dir() == (str(given), False)
    assert sorted(p.name for p in given.iterdir()) == ["keep.txt"]


def test_without_a_directory_each_run_makes_a_fresh_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(serve.MULTIPROC_ENV, raising=False)
    first, made = serve.metrics_dir()
    monkeypatch.delenv(serve.MULTIPROC_ENV)
    second, _ = serve.metrics_dir()
    try:
        assert made and first != second
        assert Path(first).is_dir() and not any(Path(first).iterdir())
    finally:
        for d in (first, second):
            Path(d).rmdir()


_DEFERRED = r"""
import asyncio, glob, sys
from prometheus_client.multiprocess import MultiProcessCollector
from gateway.observability import metrics as m

directory = sys.argv[1]


def on_file(name):
    families = MultiProcessCollector.merge(glob.glob(directory + "/*.db"), accumulate=True)
    return sum(s.value for f in families for s in f.samples if s.name == name)


ms = m.Metrics()
assert ms.multiprocess
ms.request("freddy", "/v1/model/response", 200, 0.003)
ms.request("freddy", "/v1/model/response", 200, 0.004)
seen = [on_file("gateway_requests_total"), on_file("gateway_request_duration_seconds_count")]
m.publish()
seen += [on_file("gateway_requests_total"), on_file("gateway_request_duration_seconds_count")]
ms.request("freddy", "/v1/model/response", 200, 0.003)


async def main():
    task = asyncio.create_task(m.publish_every(0.05))
    await asyncio.sleep(0.3)  # published by the loop
    seen.append(on_file("gateway_requests_total"))
    ms.request("freddy", "/v1/model/response", 500, 0.003)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    seen.append(on_file("gateway_requests_total"))  # and once more when it stops


asyncio.run(main())
text = ms.exposition().decode()
bucket = 'gateway_request_duration_seconds_bucket{door="freddy",le="0.005",route="/v1/model/response"}'
print(seen, bucket + " 4.0" in text)
"""


def test_metric_updates_reach_the_multiprocess_files_when_published(tmp_path: Path) -> None:
    """In multiprocess mode an update stays in memory until `publish` (every second, before a
    scrape, at shutdown): the files, which a scrape of any worker sums, show it only then."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", _DEFERRED, str(tmp_path)], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[0.0,", "0.0,", "2.0,", "2.0,", "3.0,", "4.0]", "True"]
