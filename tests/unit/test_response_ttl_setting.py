"""GATEWAY_RESPONSE_TTL_S (SPEC §15): read from the environment, 24 hours by default, and carried
into the limits that stamp each saved response's expiry."""

from __future__ import annotations

from gateway.core.rules import Limits
from gateway.settings import load_settings

DAY_S = 86_400


def test_the_response_ttl_defaults_to_24_hours() -> None:
    settings = load_settings({})
    assert settings.response_ttl_s == DAY_S
    assert Limits.from_settings(settings).response_ttl_us == DAY_S * 1_000_000


def test_the_response_ttl_is_read_from_the_environment() -> None:
    settings = load_settings({"GATEWAY_RESPONSE_TTL_S": "90"})
    assert settings.response_ttl_s == 90
    assert Limits.from_settings(settings).response_ttl_us == 90_000_000
