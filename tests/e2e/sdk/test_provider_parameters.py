"""What aitronos-sdk's request fields make of the provider call (SPEC §3, §10): `temperature`,
`top_p` and `max_output_synapses` reach the model; `instructions` are its first system message for
that request only; `usage` is the provider's."""

from __future__ import annotations

from tests.conftest import uid
from tests.e2e.sdk.helpers import Client, call, user
from tests.fakes.upstream import FakeUpstream


async def test_sampling_and_max_output_synapses_reach_the_provider(
    upstream_sdk: Client, upstream: tuple[FakeUpstream, str]
) -> None:
    fake, _ = upstream
    answer = await call(
        upstream_sdk.responses.create_response(
            model="slow/model-x",
            inputs=[user("Hi")],
            temperature=0.2,
            top_p=0.9,
            max_output_synapses=17,
        )
    )
    assert answer["output_text"] == "Hello from the fake" and answer["model"] == "slow/model-x"
    assert answer["usage"] == {"input_tokens": 11, "output_tokens": 7, "total_tokens": 18}
    [sent] = fake.calls
    assert (sent.body["temperature"], sent.body["top_p"], sent.body["max_tokens"]) == (0.2, 0.9, 17)
    assert sent.body["model"] == "model-x"


async def test_instructions_lead_one_request_and_are_not_saved(
    upstream_sdk: Client, upstream: tuple[FakeUpstream, str]
) -> None:
    fake, _ = upstream
    tid = uid("instr")
    await call(
        upstream_sdk.responses.create_response(
            model="slow/model-x", inputs=[user("Hi")], thread_id=tid, instructions="Answer in French."
        )
    )
    await call(
        upstream_sdk.responses.create_response(model="slow/model-x", inputs=[user("Again")], thread_id=tid)
    )
    first, second = (call_.body["messages"] for call_ in fake.calls)
    assert first == [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"}]
    assert second == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello from the fake"},
        {"role": "user", "content": "Again"},
    ]
    thread = await call(upstream_sdk.threads.get_thread(tid))
    assert thread.message_count == 4 and thread.last_model_used == "slow/model-x"
