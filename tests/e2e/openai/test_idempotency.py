"""`Idempotency-Key` on `POST /v1/responses` (SPEC §15), as the Freddy door keeps it: a retry of a
saved turn gets the same answer again (JSON or stream) and runs nothing; the key with another body
is 422; `store: false` keeps no answer, so its key is not claimed."""

from __future__ import annotations

import uuid

import httpx
import openai

from tests.e2e.openai.helpers import Client, call, every, raises, strict_events, thread_texts


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"idem-{uuid.uuid4()}"}


async def test_a_retry_with_the_key_gets_the_same_response_and_runs_nothing(
    client: Client, http: httpx.AsyncClient
) -> None:
    conversation = await call(client.conversations.create())
    headers = _key()
    first = await call(
        client.responses.create(
            model="echo", input="once", conversation=conversation.id, extra_headers=headers
        )
    )
    raw = await call(
        client.responses.with_raw_response.create(
            model="echo", input="once", conversation=conversation.id, extra_headers=headers
        )
    )
    again = raw.parse()
    assert raw.headers["idempotent-replayed"] == "true"
    assert (again.id, again.output_text, again.output[0].id) == (
        first.id,
        first.output_text,
        first.output[0].id,
    )
    assert await thread_texts(http, conversation.id) == [("user", "once"), ("assistant", "once")]


async def test_a_streamed_retry_replays_the_saved_answer_as_events(
    client: Client, http: httpx.AsyncClient
) -> None:
    headers = _key()
    first = await call(client.responses.create(model="echo", input="replayed", extra_headers=headers))
    r = await http.post(
        "/v1/responses", json={"model": "echo", "input": "replayed", "stream": True}, headers=headers
    )
    # The key is the request's, not its body's `stream`: the fingerprint differs, so it is refused...
    assert r.status_code == 422 and r.json()["error"]["code"] == "idempotency_mismatch"
    # ... while the same streamed request twice replays the first one's events.
    stream_headers = _key()
    events = await every(
        client.responses.create(model="echo", input="s", stream=True, extra_headers=stream_headers)
    )
    r = await http.post(
        "/v1/responses", json={"model": "echo", "input": "s", "stream": True}, headers=stream_headers
    )
    assert r.headers["idempotent-replayed"] == "true"
    replayed = strict_events(r.text)
    assert replayed[-1]["response"]["id"] == events[-1].response.id != first.id
    assert replayed[-1]["response"]["output"][0]["id"] == events[-1].response.output[0].id


async def test_the_key_with_another_body_is_422(client: Client) -> None:
    headers = _key()
    await call(client.responses.create(model="echo", input="a", extra_headers=headers))
    exc = await raises(
        lambda: client.responses.create(model="echo", input="b", extra_headers=headers),
        openai.UnprocessableEntityError,
        422,
    )
    assert exc.body["code"] == "idempotency_mismatch"  # type: ignore[index]


async def test_store_false_does_not_claim_its_key(client: Client) -> None:
    headers = _key()
    one = await call(client.responses.create(model="echo", input="x", store=False, extra_headers=headers))
    two = await call(client.responses.create(model="echo", input="x", store=False, extra_headers=headers))
    assert one.id != two.id
