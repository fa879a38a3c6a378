"""What the benchmark sends: its key and organization, the model of the config file's `bench`
endpoint, one turn body (and the same as chat completions, with Portkey's headers), and threads
and responses made through the API before a measurement."""

from __future__ import annotations

import asyncio
import os

import httpx
import msgspec

KEY = "bench_key_0123456789"
ORG = "org_bench"
MODEL = "bench/bench-model"  # the config file's endpoint `bench`, an OpenAI-compatible server
TEXT = "Please summarise the last quarter's figures for the northern region in two sentences."  # ~86 chars


def turn(model: str, **fields: object) -> bytes:
    return msgspec.json.encode({"model": model, "inputs": [{"role": "user", "content": TEXT}], **fields})


def chat_turn() -> bytes:
    """The same user text as `turn`, as a chat-completions body: what the fake upstream is sent
    directly and through Portkey."""
    return msgspec.json.encode({"model": "bench-model", "messages": [{"role": "user", "content": TEXT}]})


def portkey_headers(upstream: str) -> dict[str, str]:
    """Portkey's routing of a request: its OpenAI provider at the fake upstream (which takes any key)."""
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"{upstream}/v1",
        "Authorization": "Bearer sk-bench",
    }


def openai_turn(model: str, **fields: object) -> bytes:
    """The same turn as `turn`, as the OpenAI door's `POST /v1/responses` body."""
    return msgspec.json.encode({"model": model, "input": TEXT, **fields})


def seed(url: str, model: str, threads: int, length: int, **fields: object) -> list[str]:
    """Threads of `length` messages, made through the API (two messages a turn, each with `fields`
    in its body, e.g. an `assistant_id`)."""
    ids = [f"bench_{length}_{i}_{os.urandom(4).hex()}" for i in range(threads)]

    async def fill() -> None:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:

            async def one(tid: str) -> None:
                for _ in range(length // 2):
                    r = await http.post("/v1/model/response", content=turn(model, thread=tid, **fields))
                    r.raise_for_status()

            await asyncio.gather(*(one(t) for t in ids))

    asyncio.run(fill())
    return ids


def backboard_turn(model: str, **fields: object) -> bytes:
    """The same turn as `turn`, as the Backboard door's JSON body (`llm_provider` + `model_name`),
    as backboard-sdk's `send_message` sends it."""
    provider, name = model.split("/", 1)
    return msgspec.json.encode({"content": TEXT, "llm_provider": provider, "model_name": name, **fields})


def seed_backboard(url: str, model: str, threads: int, length: int) -> list[str]:
    """Threads of `length` messages made through the Backboard door (`POST /api/threads/messages`,
    without then with `thread_id`): their ids are the UUIDs that door addresses."""
    body = backboard_turn(model)

    async def fill() -> list[str]:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:

            async def one() -> str:
                r = await http.post("/api/threads/messages", content=body)
                r.raise_for_status()
                tid: str = r.json()["thread_id"]
                for _ in range(length // 2 - 1):
                    r = await http.post("/api/threads/messages", content=backboard_turn(model, thread_id=tid))
                    r.raise_for_status()
                return tid

            return list(await asyncio.gather(*(one() for _ in range(threads))))

    return asyncio.run(fill())


def seed_items(url: str, threads: int, length: int) -> list[str]:
    """Threads of `length` messages (user and assistant by turns), written as conversation items
    through the OpenAI door: 20 messages a request and no model call, so that many long threads
    are made in seconds. They are threads like any other (a conversation is a thread)."""
    answer = "Sure, here is a short answer."

    async def fill() -> list[str]:
        async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:

            async def one() -> str:
                r = await http.post("/v1/conversations", json={})
                r.raise_for_status()
                tid: str = r.json()["id"]
                for start in range(0, length, 20):
                    items = [
                        {
                            "type": "message",
                            "role": "user" if k % 2 == 0 else "assistant",
                            "content": TEXT if k % 2 == 0 else answer,
                        }
                        for k in range(start, min(start + 20, length))
                    ]
                    r = await http.post(f"/v1/conversations/{tid}/items", json={"items": items})
                    r.raise_for_status()
                return tid

            return list(await asyncio.gather(*(one() for _ in range(threads))))

    return asyncio.run(fill())


def responses(url: str, model: str, count: int) -> list[str]:
    with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60) as http:
        return [
            http.post("/v1/model/response", content=turn(model, store=False)).json()["id"]
            for _ in range(count)
        ]
