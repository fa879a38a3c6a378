"""The Caller (SPEC §7): which provider is asked when, how long it waits between attempts, when it
gives up, and the one answer each failure becomes; and what each attempt reports (metrics, spans,
the log line of a failed one).

The providers are `ScriptedProvider`s on a `VirtualClockLoop`: a backoff or a deadline is read
from the loop's clock, which jumps over waits instead of taking them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import errors
from gateway.core.calls import Caller, CallPolicy, gateway_error, provider_errors
from gateway.observability.metrics import Metrics
from gateway.observability.probe import NO_PROBE, Probe
from providers.base import ChatMessage, Completion, EmbeddingRequest, ModelRequest, TextDelta
from providers.errors import (
    EmbeddingsUnsupported,
    NotConfigured,
    ProviderError,
    UnknownModel,
    UpstreamFailed,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from providers.registry import Registry, Route
from tests.fakes.scripted import ANSWER, VECTORS, ScriptedProvider, Wait, run_virtual

REQUEST = ModelRequest(model="smart", messages=(ChatMessage("user", ("hi",)),))
EMBED = EmbeddingRequest(model="embedder", texts=("one", "two"))
POLICY = CallPolicy(total_timeout_s=30.0, attempts=2, backoff_s=0.2)


def down(provider: str, status: int = 503) -> UpstreamFailed:
    return UpstreamFailed(provider, status, retryable=True)


def caller(policy: CallPolicy = POLICY, probe: Probe = NO_PROBE) -> Caller:
    return Caller(Registry({}), policy, probe)


def chain(*providers: ScriptedProvider) -> tuple[Route, ...]:
    return tuple(Route(p, f"{p.name}-model") for p in providers)


def outcome[T](main: Callable[[], Awaitable[T]]) -> tuple[T | BaseException, float]:
    """What `main()` gave or raised, and the loop's clock when it ended."""

    async def caught() -> T | BaseException:
        try:
            return await main()
        except (errors.GatewayError, ValueError) as exc:
            return exc

    return run_virtual(caught)


async def collect(stream: AsyncGenerator[TextDelta | Completion], into: list[Any]) -> list[Any]:
    async for item in stream:
        into.append(item)
    return into


def times(provider: ScriptedProvider) -> list[float]:
    return [round(call.at, 6) for call in provider.calls]


# -- the table from adapter failures to answers --------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "kind", "message", "headers"),
    [
        (UnknownModel("nope"), errors.ModelNotFound, "Model 'nope' is not known to this gateway.", {}),
        (
            NotConfigured("openai"),
            errors.ProviderNotConfigured,
            "Provider 'openai' has no API key configured.",
            {},
        ),
        (
            EmbeddingsUnsupported("anthropic"),
            errors.ProviderNotConfigured,
            "Provider 'anthropic' does not offer embeddings.",
            {},
        ),
        (
            UpstreamRateLimited("openai", "7"),
            errors.RateLimited,
            "Provider 'openai' is rate limiting requests.",
            {"Retry-After": "7"},
        ),
        (
            UpstreamRateLimited("openai", None),
            errors.RateLimited,
            "Provider 'openai' is rate limiting requests.",
            {},
        ),
        (UpstreamTimeout("openai"), errors.ProviderTimeout, "Provider 'openai' did not answer in time.", {}),
        (down("openai", 500), errors.ProviderFailed, "Provider 'openai' failed (upstream status 500).", {}),
        (ProviderError("odd failure"), errors.ProviderFailed, "odd failure", {}),
        (
            TimeoutError("the call's deadline passed"),
            errors.ProviderTimeout,
            "the call's deadline passed",
            {},
        ),
        (TimeoutError(), errors.ProviderTimeout, "The provider did not answer in time.", {}),
    ],
)
def test_each_adapter_failure_becomes_one_gateway_answer(
    failure: ProviderError | TimeoutError,
    kind: type[errors.GatewayError],
    message: str,
    headers: dict[str, str],
) -> None:
    answer = gateway_error(failure)
    assert type(answer) is kind
    assert (answer.message, str(answer), answer.headers) == (message, message, headers)


def test_provider_errors_raises_the_answer_without_the_adapter_failure_attached() -> None:
    with pytest.raises(errors.ProviderTimeout) as caught, provider_errors():
        raise UpstreamTimeout("openai")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


# -- complete: attempts, backoff, fallbacks, the deadline ----------------------------------------


def test_the_first_answer_comes_back_and_the_provider_is_asked_for_its_own_model_name() -> None:
    a = ScriptedProvider("a", [ANSWER])
    result, _ = outcome(lambda: caller().complete(chain(a), REQUEST))
    assert result == ANSWER
    (call,) = a.calls
    assert call.request == ModelRequest(model="a-model", messages=REQUEST.messages)


def test_a_retryable_failure_is_retried_on_the_same_provider_after_a_doubling_backoff() -> None:
    a = ScriptedProvider("a", [down("a"), UpstreamTimeout("a"), ANSWER])
    policy = CallPolicy(total_timeout_s=30.0, attempts=3, backoff_s=0.2)
    result, _ = outcome(lambda: caller(policy).complete(chain(a), REQUEST))
    assert result == ANSWER
    assert times(a) == [0.0, 0.2, 0.6]


def test_the_fallback_is_asked_at_once_after_the_last_attempt_then_retried_with_its_own_backoff() -> None:
    a = ScriptedProvider("a", [down("a"), down("a")])
    b = ScriptedProvider("b", [down("b"), ANSWER])
    result, _ = outcome(lambda: caller().complete(chain(a, b), REQUEST))
    assert result == ANSWER
    assert (times(a), times(b)) == ([0.0, 0.2], [0.2, 0.4])
    assert [c.request.model for c in a.calls + b.calls] == ["a-model", "a-model", "b-model", "b-model"]


def test_when_every_attempt_failed_the_answer_is_the_last_failure() -> None:
    a = ScriptedProvider("a", [down("a", 500), down("a", 502)])
    b = ScriptedProvider("b", [down("b", 503), down("b", 504)])
    result, _ = outcome(lambda: caller().complete(chain(a, b), REQUEST))
    assert isinstance(result, errors.ProviderFailed)
    assert result.message == "Provider 'b' failed (upstream status 504)."


@pytest.mark.parametrize(
    ("failure", "kind", "headers"),
    [
        (UpstreamFailed("a", 400), errors.ProviderFailed, {}),
        (UpstreamRateLimited("a", "3"), errors.RateLimited, {"Retry-After": "3"}),
        (NotConfigured("a"), errors.ProviderNotConfigured, {}),
    ],
)
def test_a_refusal_or_a_rate_limit_is_final_neither_retried_nor_passed_to_the_fallback(
    failure: ProviderError, kind: type[errors.GatewayError], headers: dict[str, str]
) -> None:
    a = ScriptedProvider("a", [failure])
    b = ScriptedProvider("b", [ANSWER])
    result, _ = outcome(lambda: caller().complete(chain(a, b), REQUEST))
    assert type(result) is kind and result.headers == headers
    assert (len(a.calls), len(b.calls)) == (1, 0)


def test_an_attempt_that_outlasts_the_deadline_is_cut_there_and_not_retried() -> None:
    a = ScriptedProvider("a", [Wait(100.0), ANSWER])
    policy = CallPolicy(total_timeout_s=10.0, attempts=2, backoff_s=0.2)
    result, ended = outcome(lambda: caller(policy).complete(chain(a), REQUEST))
    assert isinstance(result, errors.ProviderTimeout)
    assert result.message == "Provider 'a' did not answer in time."
    assert (ended, len(a.calls)) == (10.0, 1)


def test_the_wait_before_a_retry_ends_at_the_deadline_and_no_attempt_starts_then() -> None:
    a = ScriptedProvider("a", [down("a"), ANSWER])
    policy = CallPolicy(total_timeout_s=0.5, attempts=2, backoff_s=10.0)
    result, ended = outcome(lambda: caller(policy).complete(chain(a), REQUEST))
    assert isinstance(result, errors.ProviderFailed)
    assert result.message == "Provider 'a' failed (upstream status 503)."
    assert (ended, len(a.calls)) == (0.5, 1)


def test_a_deadline_passed_on_the_first_provider_names_it_not_a_fallback_never_asked() -> None:
    a = ScriptedProvider("a", [Wait(100.0), ANSWER])
    b = ScriptedProvider("b", [ANSWER])
    policy = CallPolicy(total_timeout_s=10.0, attempts=2, backoff_s=0.2)
    result, _ = outcome(lambda: caller(policy).complete(chain(a, b), REQUEST))
    assert isinstance(result, errors.ProviderTimeout)
    assert result.message == "Provider 'a' did not answer in time."
    assert (len(a.calls), len(b.calls)) == (1, 0)


def test_a_deadline_passed_on_a_fallback_names_the_fallback() -> None:
    a = ScriptedProvider("a", [down("a"), down("a")])
    b = ScriptedProvider("b", [Wait(100.0), ANSWER])
    policy = CallPolicy(total_timeout_s=10.0, attempts=2, backoff_s=0.2)
    result, _ = outcome(lambda: caller(policy).complete(chain(a, b), REQUEST))
    assert isinstance(result, errors.ProviderTimeout)
    assert result.message == "Provider 'b' did not answer in time."
    assert (len(a.calls), len(b.calls)) == (2, 1)


def test_a_call_with_no_time_at_all_asks_nobody_and_names_the_first_provider() -> None:
    a, b = ScriptedProvider("a", [ANSWER]), ScriptedProvider("b", [ANSWER])
    result, _ = outcome(lambda: caller(CallPolicy(total_timeout_s=0.0)).complete(chain(a, b), REQUEST))
    assert isinstance(result, errors.ProviderTimeout)
    assert result.message == "Provider 'a' did not answer in time."
    assert (len(a.calls), len(b.calls)) == (0, 0)


def test_a_call_without_any_route_is_a_timeout_naming_no_provider() -> None:
    result, _ = outcome(lambda: caller().complete((), REQUEST))
    assert isinstance(result, errors.ProviderTimeout)
    assert result.message == "Provider 'provider' did not answer in time."


def test_an_adapter_bug_is_raised_as_it_is_not_retried_and_counted_as_an_internal_error() -> None:
    metrics = Metrics()
    a = ScriptedProvider("a", [ValueError("bad parameter"), ANSWER])
    result, _ = outcome(lambda: caller(probe=Probe(metrics)).complete(chain(a), REQUEST))
    assert isinstance(result, ValueError) and str(result) == "bad parameter"
    assert len(a.calls) == 1
    errors_of = {
        code: sample(metrics, "gateway_provider_errors_total", provider="a", model="a-model", error=code)
        for code in ("INTERNAL_ERROR", "CANCELLED")
    }
    assert errors_of == {"INTERNAL_ERROR": 1.0, "CANCELLED": None}


def test_a_failed_attempt_is_logged_with_its_provider_and_error() -> None:
    a = ScriptedProvider("a", [down("a"), ANSWER])
    with structlog.testing.capture_logs() as logs:
        outcome(lambda: caller().complete(chain(a), REQUEST))
    assert logs == [
        {
            "event": "provider_attempt_failed",
            "provider": "a",
            "error": "UpstreamFailed",
            "log_level": "warning",
        }
    ]


# -- embed ---------------------------------------------------------------------------------------


def test_embeddings_come_from_the_embedding_models_route_after_its_fallback() -> None:
    a = ScriptedProvider("a", [down("a"), down("a")])
    b = ScriptedProvider("b", [VECTORS])
    result, _ = outcome(lambda: caller().embed(chain(a, b), EMBED))
    assert result == VECTORS
    assert [(c.operation, c.request) for c in b.calls] == [
        ("embed", EmbeddingRequest(model="b-model", texts=("one", "two")))
    ]


def test_an_embedding_model_on_a_provider_without_embeddings_is_not_configured() -> None:
    a = ScriptedProvider("a", [EmbeddingsUnsupported("a")])
    b = ScriptedProvider("b", [VECTORS])
    result, _ = outcome(lambda: caller().embed(chain(a, b), EMBED))
    assert isinstance(result, errors.ProviderNotConfigured)
    assert result.message == "Provider 'a' does not offer embeddings."
    assert b.calls == []


def test_an_embedding_call_that_outlasts_the_deadline_is_a_timeout() -> None:
    a = ScriptedProvider("a", [Wait(100.0, VECTORS)])
    policy = CallPolicy(total_timeout_s=5.0, attempts=1, backoff_s=0.2)
    result, ended = outcome(lambda: caller(policy).embed(chain(a), EMBED))
    assert isinstance(result, errors.ProviderTimeout)
    assert ended == 5.0


# -- stream --------------------------------------------------------------------------------------

DONE = Completion(text="Hello", input_tokens=6, output_tokens=2)


def test_a_stream_gives_its_deltas_then_its_completion() -> None:
    a = ScriptedProvider("a", [(TextDelta("Hel"), TextDelta("lo"), DONE)])
    items, _ = outcome(lambda: collect(caller().stream(chain(a), REQUEST), []))
    assert items == [TextDelta("Hel"), TextDelta("lo"), DONE]
    assert [(c.operation, c.request.model) for c in a.calls] == [("stream", "a-model")]


def test_a_stream_that_failed_before_any_text_falls_back() -> None:
    a = ScriptedProvider("a", [(TextDelta(""), down("a")), (down("a"),)])
    b = ScriptedProvider("b", [(TextDelta("Hello"), DONE)])
    items, _ = outcome(lambda: collect(caller().stream(chain(a, b), REQUEST), []))
    assert items == [TextDelta(""), TextDelta("Hello"), DONE]
    assert (len(a.calls), len(b.calls)) == (2, 1)


def test_a_stream_that_failed_after_text_reached_the_client_ends_with_the_failure() -> None:
    a = ScriptedProvider("a", [(TextDelta("Hel"), down("a")), (TextDelta("Hello"), DONE)])
    b = ScriptedProvider("b", [(TextDelta("Hello"), DONE)])
    got: list[Any] = []
    result, _ = outcome(lambda: collect(caller().stream(chain(a, b), REQUEST), got))
    assert isinstance(result, errors.ProviderFailed)
    assert got == [TextDelta("Hel")]
    assert (len(a.calls), len(b.calls)) == (1, 0)


def test_a_stream_that_stalls_past_the_deadline_is_a_timeout() -> None:
    a = ScriptedProvider("a", [(TextDelta(""), Wait(100.0, DONE))])
    policy = CallPolicy(total_timeout_s=8.0, attempts=1, backoff_s=0.2)
    got: list[Any] = []
    result, ended = outcome(lambda: collect(caller(policy).stream(chain(a), REQUEST), got))
    assert isinstance(result, errors.ProviderTimeout)
    assert (got, ended) == ([TextDelta("")], 8.0)


# -- what the attempts report ---------------------------------------------------------------------


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_the_metrics_count_each_attempt_its_retries_fallbacks_errors_and_tokens() -> None:
    metrics = Metrics()
    a = ScriptedProvider("a", [down("a"), UpstreamTimeout("a")])
    b = ScriptedProvider("b", [ANSWER])
    outcome(lambda: caller(probe=Probe(metrics)).complete(chain(a, b), REQUEST))
    counted = {
        (provider, metric): sample(
            metrics, f"gateway_provider_{metric}_total", provider=provider, model=model
        )
        for provider, model in (("a", "a-model"), ("b", "b-model"))
        for metric in ("calls", "retries", "fallbacks")
    }
    assert counted == {
        ("a", "calls"): 2.0,
        ("a", "retries"): 1.0,
        ("a", "fallbacks"): 0.0,
        ("b", "calls"): 1.0,
        ("b", "retries"): 0.0,
        ("b", "fallbacks"): 1.0,
    }
    errors_of_a = {
        code: sample(metrics, "gateway_provider_errors_total", provider="a", model="a-model", error=code)
        for code in ("PROVIDER_ERROR", "PROVIDER_TIMEOUT")
    }
    assert errors_of_a == {"PROVIDER_ERROR": 1.0, "PROVIDER_TIMEOUT": 1.0}
    tokens = {
        d: sample(metrics, "gateway_provider_tokens_total", provider="b", model="b-model", direction=d)
        for d in ("input", "output")
    }
    assert tokens == {"input": 5.0, "output": 3.0}


def test_an_embedding_attempt_counts_its_input_tokens_only() -> None:
    metrics = Metrics()
    a = ScriptedProvider("a", [VECTORS])
    outcome(lambda: caller(probe=Probe(metrics)).embed(chain(a), EMBED))
    tokens = {
        d: sample(metrics, "gateway_provider_tokens_total", provider="a", model="a-model", direction=d)
        for d in ("input", "output")
    }
    assert tokens == {"input": 4.0, "output": 0.0}


def test_a_rate_limited_attempt_is_counted_by_its_code() -> None:
    metrics = Metrics()
    a = ScriptedProvider("a", [UpstreamRateLimited("a", None)])
    outcome(lambda: caller(probe=Probe(metrics)).complete(chain(a), REQUEST))
    assert (
        sample(metrics, "gateway_provider_errors_total", provider="a", model="a-model", error="RATE_LIMITED")
        == 1.0
    )


def test_a_streamed_attempt_counts_its_completions_tokens_and_one_without_a_completion_is_an_error() -> None:
    metrics = Metrics()
    whole = ScriptedProvider("whole", [(TextDelta("Hello"), DONE)])
    cut = ScriptedProvider("cut", [(TextDelta("Hel"),)])
    probe = Probe(metrics)
    outcome(lambda: collect(caller(probe=probe).stream(chain(whole), REQUEST), []))
    outcome(lambda: collect(caller(probe=probe).stream(chain(cut), REQUEST), []))
    assert [
        sample(metrics, "gateway_provider_tokens_total", provider="whole", model="whole-model", direction=d)
        for d in ("input", "output")
    ] == [6.0, 2.0]
    error = "gateway_provider_errors_total"
    assert sample(metrics, error, provider="whole", model="whole-model", error="PROVIDER_ERROR") is None
    assert sample(metrics, error, provider="cut", model="cut-model", error="PROVIDER_ERROR") == 1.0


def test_a_streamed_attempt_that_failed_is_counted_by_its_code() -> None:
    metrics = Metrics()
    a = ScriptedProvider("a", [(TextDelta("Hel"), UpstreamTimeout("a"))])
    outcome(lambda: collect(caller(probe=Probe(metrics)).stream(chain(a), REQUEST), []))
    error = "gateway_provider_errors_total"
    assert sample(metrics, error, provider="a", model="a-model", error="PROVIDER_TIMEOUT") == 1.0


@pytest.mark.parametrize("operation", ["complete", "stream"])
def test_an_attempt_the_client_left_is_counted_as_cancelled(operation: str) -> None:
    metrics = Metrics()
    if operation == "complete":
        a = ScriptedProvider("a", [Wait(100.0)])
    else:
        a = ScriptedProvider("a", [(TextDelta("Hel"), Wait(100.0, DONE))])

    async def leave() -> None:
        calls = caller(probe=Probe(metrics))
        task: asyncio.Future[Any]
        if operation == "complete":
            task = asyncio.ensure_future(calls.complete(chain(a), REQUEST))
        else:
            task = asyncio.ensure_future(collect(calls.stream(chain(a), REQUEST), []))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    outcome(leave)
    assert (
        sample(metrics, "gateway_provider_errors_total", provider="a", model="a-model", error="CANCELLED")
        == 1.0
    )
    assert len(a.calls) == 1


@pytest.mark.parametrize("operation", ["complete", "embed", "stream"])
def test_each_attempt_is_a_span_of_its_operation_marked_retry_or_fallback(operation: str) -> None:
    exporter = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    answer: Any = {"complete": ANSWER, "embed": VECTORS, "stream": (TextDelta("Hi"), DONE)}[operation]
    fail: Any = (down("a"),) if operation == "stream" else down("a")
    a = ScriptedProvider("a", [fail, fail])
    b = ScriptedProvider("b", [answer])
    traced = caller(probe=Probe(tracer=tracing.get_tracer("test")))
    calls = {
        "complete": lambda: traced.complete(chain(a, b), REQUEST),
        "embed": lambda: traced.embed(chain(a, b), EMBED),
        "stream": lambda: collect(traced.stream(chain(a, b), REQUEST), []),
    }
    outcome(calls[operation])
    spans = [
        (
            s.name,
            s.attributes["gen_ai.system"],
            s.attributes["gen_ai.request.model"],
            s.attributes["gateway.provider.retry"],
            s.attributes["gateway.provider.fallback"],
        )
        for s in exporter.get_finished_spans()
        if s.attributes is not None
    ]
    name = f"provider {operation}"
    assert spans == [
        (name, "a", "a-model", False, False),
        (name, "a", "a-model", True, False),
        (name, "b", "b-model", False, True),
    ]
