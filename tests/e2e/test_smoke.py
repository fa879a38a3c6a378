from __future__ import annotations

from tests.conftest import Api, ok


async def test_first_message_creates_thread_and_second_sees_first(a: Api) -> None:
    first = ok(await a.say("My favorite color is blue."))
    assert first["output_text"] == "My favorite color is blue."
    second = ok(await a.say("What did I just tell you?", thread=first["thread_id"]))
    assert second["output_text"].splitlines() == ["My favorite color is blue.", "What did I just tell you?"]
