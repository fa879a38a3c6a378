"""`gateway.http.body`: a route's body is decoded once, strictly, into the type its `data` declares;
a body decoded in front of the framework (the fast path) is handed over, not decoded again."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar, Request, Response, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient

from gateway.errors import GatewayError
from gateway.http.body import StrictRequest, hand_over


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    flag: bool = False


@post("/echo", status_code=200)
async def echo(data: JSONBody[Body]) -> dict[str, Any]:
    return {"name": data.name, "flag": data.flag, "same": data is HANDED}


HANDED = Body(name="handed", flag=True)


class HandOver:
    """Stands where the fast path stands: in front of the route, with the body already decoded."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        hand_over(scope, HANDED)
        await self.app(scope, receive, send)


def refusal(_: Request[Any, Any, Any], exc: GatewayError) -> Response[dict[str, Any]]:
    return Response({"code": exc.code, "reason": exc.details.get("reason")}, status_code=exc.status)


def app(*, handing: bool) -> Litestar:
    return Litestar(
        route_handlers=[echo],
        request_class=StrictRequest,
        middleware=[HandOver] if handing else [],
        exception_handlers={GatewayError: refusal},
    )


async def test_the_body_is_decoded_into_the_declared_type() -> None:
    async with AsyncTestClient(app=app(handing=False)) as client:
        r = await client.post("/echo", json={"name": "raw", "flag": True})
        assert r.status_code == 200 and r.json() == {"name": "raw", "flag": True, "same": False}


async def test_strict_rules_refuse_what_lax_conversion_would_accept() -> None:
    async with AsyncTestClient(app=app(handing=False)) as client:
        for body, reason in (
            ({"name": "x", "flag": "true"}, "Expected `bool`, got `str` - at `$.flag`"),
            ({"name": 1}, "Expected `str`, got `int` - at `$.name`"),
            ({"name": "x", "extra": 1}, "Object contains unknown field `extra`"),
        ):
            r = await client.post("/echo", json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json() == {"code": "VALIDATION_ERROR", "reason": reason}


async def test_a_handed_over_body_is_used_as_it_is_and_the_raw_body_not_decoded() -> None:
    async with AsyncTestClient(app=app(handing=True)) as client:
        # The raw body is not even JSON: decoding it again would refuse the request.
        r = await client.post("/echo", content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json() == {"name": "handed", "flag": True, "same": True}
