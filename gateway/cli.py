"""`python -m gateway keys ...`: API keys kept in the store (SPEC §15), with the server's settings
and store classes. `python -m gateway` alone (or `serve`) starts the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import click

from gateway.core.keys import NAME_MAX, mint, valid_org
from gateway.core.rules import Limits
from gateway.store.protocols import KeyStore


def _when(us: int | None) -> str:
    return "-" if us is None else datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_keys[T](fn: Callable[[KeyStore], Awaitable[T]]) -> T:
    from gateway.app import default_store
    from gateway.settings import load_settings

    settings = load_settings()
    backend = default_store(settings, Limits.from_settings(settings))
    keys: KeyStore | None = getattr(backend, "keys", None)
    if keys is None:
        raise click.ClickException(f"The {backend.name} store does not keep API keys.")

    async def run() -> T:
        await backend.open()
        try:
            return await fn(keys)
        finally:
            await backend.close()

    return asyncio.run(run())


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The gateway: with no command, serve."""
    if ctx.invoked_subcommand is None:
        serve_main()


def serve_main() -> None:
    from gateway.serve import main

    main()


@cli.command()
def serve() -> None:
    """Serve the gateway (the same as no command)."""
    serve_main()


@cli.group()
def keys() -> None:
    """API keys kept in the store."""


@keys.command("create")
@click.option("--org", required=True, help="The organization the key names.")
@click.option("--name", default=None, help="A name to tell the key by.")
def create(org: str, name: str | None) -> None:
    """Create a key; it is printed once, only its SHA-256 digest is kept."""
    if not valid_org(org):
        raise click.BadParameter("1 to 128 characters of A-Z a-z 0-9 _ - . :", param_hint="--org")
    if name is not None and len(name) > NAME_MAX:
        raise click.BadParameter(f"at most {NAME_MAX} characters", param_hint="--name")
    made = mint(org, name, int(time.time() * 1e6))
    _with_keys(lambda store: store.create_key(made.record, made.digest))
    click.echo(f"id: {made.record.id}")
    click.echo(f"key: {made.key}")
    click.echo("The key is shown only now: keep it.", err=True)


@keys.command("list")
@click.option("--org", default=None, help="Only this organization's keys.")
def list_(org: str | None) -> None:
    """One line per key: id, organization, name, created, last used, revoked."""
    for k in _with_keys(lambda store: store.list_keys(org)):
        revoked = "" if k.revoked_us is None else f"\trevoked {_when(k.revoked_us)}"
        click.echo(
            f"{k.id}\t{k.org}\t{k.name or '-'}\t{_when(k.created_us)}\t{_when(k.last_used_us)}{revoked}"
        )


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key: it answers 401 within a second on every worker and replica."""
    if not _with_keys(lambda store: store.revoke_key(key_id, int(time.time() * 1e6))):
        raise click.ClickException(f"No key {key_id} that is not already revoked.")
    click.echo(f"revoked {key_id}")
