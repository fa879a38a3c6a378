"""What aitronos-freddy's camelCase fields make of the model call (SPEC §10), seen by the recording
endpoint `slow`: `temperature`, `max_tokens` (sent as `maxTokens`), `instructions`, and
`assistant_id` (sent as `assistantId`) bringing the assistant's instructions."""

from __future__ import annotations

from gateway_process import REPLY, Gateway, Upstream
from helpers import Client, call, text_of, texts, uid


async def test_temperature_and_max_tokens_reach_the_provider(freddy: Client, upstream: Upstream) -> None:
    seen = len(upstream.bodies)
    answer = await call(
        freddy.responses.create(model="slow/model-x", inputs=[texts("Hi")], temperature=0.2, max_tokens=17)
    )
    assert text_of(answer) == REPLY and answer.model == "slow/model-x"
    [body] = upstream.since(seen)
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("model-x", 0.2, 17)


async def test_instructions_lead_one_request_only(freddy: Client, upstream: Upstream) -> None:
    seen = len(upstream.bodies)
    tid = uid("instr")
    await call(
        freddy.responses.create(
            model="slow/model-x", inputs=[texts("Hi")], thread_id=tid, instructions="Answer in French."
        )
    )
    await call(freddy.responses.create(model="slow/model-x", inputs=[texts("Again")], thread_id=tid))
    first, second = (body["messages"] for body in upstream.since(seen))
    assert first == [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Hi"}]
    assert second == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "Again"},
    ]


async def test_assistant_id_binds_the_thread_and_brings_its_instructions(
    freddy: Client, gateway: Gateway, upstream: Upstream
) -> None:
    # The SDK has no assistants client: the assistant is made over plain HTTP, then named by the SDK.
    made = gateway.request(
        "POST", "/v1/assistants", json={"name": "Support", "instructions": "You are Support."}
    )
    assert made.status_code == 201, made.text
    aid = made.json()["id"]
    seen = len(upstream.bodies)
    tid = uid("asst")
    answer = await call(
        freddy.responses.create(model="slow/model-x", inputs=[texts("Hi")], thread_id=tid, assistant_id=aid)
    )
    assert text_of(answer) == REPLY
    # A later turn names only the thread: the thread's assistant still leads.
    await call(freddy.responses.create(model="slow/model-x", inputs=[texts("Again")], thread_id=tid))
    first, second = (body["messages"] for body in upstream.since(seen))
    assert first == [{"role": "system", "content": "You are Support."}, {"role": "user", "content": "Hi"}]
    assert second == [
        {"role": "system", "content": "You are Support."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "Again"},
    ]
    thread = gateway.request("GET", f"/v1/threads/{tid}").json()
    assert thread["assistant_id"] == aid and thread["message_count"] == 4
