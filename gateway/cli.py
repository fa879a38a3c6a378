"""`python -m gateway keys ...`: API keys kept in the store (SPEC §15); `python -m gateway threads ...`:
an organization's threads as JSON lines. Both with the server's settings and store classes.
`python -m gateway` alone (or `serve`) starts the server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import click
import msgspec

from gateway.core.keys import NAME_MAX, mint, valid_name, valid_org
from gateway.core.listing import every_message, every_thread
from gateway.core.records import ThreadRecord
from gateway.core.rules import Limits, now_us
from gateway.doors.freddy.render import message_object, thread_object
from gateway.errors import ThreadNotFound
from gateway.settings import Settings, load_settings
from gateway.store.protocols import Backend, CursorNotFound, KeyStore


def _when(us: int | None) -> str:
    return "-" if us is None else datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_backend[T](fn: Callable[[Backend], Awaitable[T]], settings: Settings | None = None) -> T:
    """Run `fn` on the store the server's settings name, opened for it and closed after."""
    from gateway.app import default_store

    settings = settings or load_settings()
    backend = default_store(settings, Limits.from_settings(settings))

    async def run() -> T:
        await backend.open()
        try:
            return await fn(backend)
        finally:
            await backend.close()

    return asyncio.run(run())


def _with_keys[T](fn: Callable[[KeyStore], Awaitable[T]]) -> T:
    def on_keys(backend: Backend) -> Awaitable[T]:
        keys: KeyStore | None = getattr(backend, "keys", None)
        if keys is None:
            raise click.ClickException(f"The {backend.name} store does not keep API keys.")
        return fn(keys)

    return _with_backend(on_keys)


def stored_key_count(settings: Settings) -> int | None:
    """How many live keys the store keeps (for the startup line); None when it does not answer
    within its timeout."""

    async def count(backend: Backend) -> int:
        keys: KeyStore | None = getattr(backend, "keys", None)
        return 0 if keys is None else len(await keys.live_keys())

    async def bounded(backend: Backend) -> int:
        async with asyncio.timeout(settings.mongodb_timeout_s + 1):
            return await count(backend)

    try:
        return _with_backend(bounded, settings)
    except Exception:  # noqa: BLE001 - the store down at start: the workers say so at /health/ready
        return None


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
    if name is not None and not valid_name(name):
        raise click.BadParameter(f"1 to {NAME_MAX} characters, no control characters", param_hint="--name")
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


@cli.group()
def threads() -> None:
    """An organization's threads, as JSON lines (the native API's objects, SPEC §4)."""


_ORG = click.option("--org", required=True, help="The organization whose threads these are.")
_VISIBLE_ONLY = click.option(
    "--visible-only", is_flag=True, help="Leave out hidden threads (those made with store: false)."
)


def _line(obj: object) -> None:
    click.echo(msgspec.json.encode(obj).decode())


async def _threads(backend: Backend, org: str, visible_only: bool, at_us: int) -> AsyncIterator[ThreadRecord]:
    """Visible threads newest activity first, then (unless `visible_only`) the hidden ones."""
    for visible in (True,) if visible_only else (True, False):
        async for thread in every_thread(backend.threads, org, visible=visible, at_us=at_us):
            yield thread


def _walk[T](fn: Callable[[Backend], Awaitable[T]]) -> T:
    try:
        return _with_backend(fn)
    except CursorNotFound:
        raise click.ClickException("The thread list changed during the walk: run it again.") from None


@threads.command("list")
@_ORG
@_VISIBLE_ONLY
def list_threads(org: str, visible_only: bool) -> None:
    """One JSON line per thread: visible ones newest activity first, then the hidden ones."""

    async def run(backend: Backend) -> None:
        async for thread in _threads(backend, org, visible_only, now_us()):
            _line(thread_object(thread))

    _walk(run)


@threads.command("export")
@_ORG
@click.option("--thread", "thread_id", default=None, help="Only this thread.")
@_VISIBLE_ONLY
def export(org: str, thread_id: str | None, visible_only: bool) -> None:
    """One JSON line per thread, `{"thread": {...}, "messages": [...]}`, its messages in order."""

    async def one(backend: Backend, thread: ThreadRecord, at_us: int) -> bool:
        try:
            messages = [
                message_object(m) async for m in every_message(backend.threads, org, thread.id, at_us=at_us)
            ]
        except ThreadNotFound:
            return False  # deleted since it was listed
        _line({"thread": thread_object(thread), "messages": messages})
        return True

    async def run(backend: Backend) -> None:
        at_us = now_us()
        if thread_id is None:
            async for thread in _threads(backend, org, visible_only, at_us):
                await one(backend, thread, at_us)
            return
        found = await backend.threads.get_thread(org, thread_id, at_us)
        if found is None or not await one(backend, found, at_us):
            raise click.ClickException(f"Thread '{thread_id}' was not found.")

    _walk(run)
