"""``credgate keys``: the keys that sign JWT access tokens. Private keys are never printed."""

from __future__ import annotations

import typer

from credgate.cli.common import JsonOption, print_json, run_with_runtime, timestamp
from credgate.oauth2.signing_keys import KeyCipher, SigningKeys, state_of
from credgate.runtime import Runtime, load_hash_key
from credgate.storage import signing_keys as key_store
from credgate.storage.audit import record_event
from credgate.storage.models import SigningKey, utcnow

keys = typer.Typer(help="Keys that sign JWT access tokens.", no_args_is_help=True)


def _key_dict(key: SigningKey) -> dict[str, object]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": state_of(key, utcnow()),
        "created_at": key.created_at,
        "retired_at": key.retired_at,
        "published_until": key.not_after,
    }


async def rotate_signing_key(runtime: Runtime) -> SigningKey:
    settings = runtime.settings
    cipher = KeyCipher.from_hash_key(load_hash_key(settings))
    now = utcnow()
    async with runtime.sessions.begin() as session:
        key = await SigningKeys(cipher, settings.jwt_algorithm).rotate(session, now)
        await record_event(
            session,
            actor="cli",
            action="signing_key.rotated",
            target=key.kid,
            details={"algorithm": key.algorithm},
        )
    return key


async def list_signing_keys(runtime: Runtime) -> list[SigningKey]:
    async with runtime.sessions() as session:
        return list(await key_store.list_signing_keys(session))


@keys.command("rotate")
def keys_rotate(as_json: bool = JsonOption) -> None:
    """Make a new active signing key; older keys stay published until their tokens expire."""
    key = run_with_runtime(rotate_signing_key)
    if as_json:
        print_json(_key_dict(key))
    else:
        typer.echo(f"signing key {key.kid} ({key.algorithm}) is now active")


@keys.command("list")
def keys_list(as_json: bool = JsonOption) -> None:
    """List signing keys: active, retired (still published) or expired (no longer published)."""
    rows = run_with_runtime(list_signing_keys)
    if as_json:
        print_json([_key_dict(key) for key in rows])
        return
    for key in rows:
        until = f"\tpublished until {timestamp(key.not_after)}" if key.not_after else ""
        typer.echo(
            f"{key.kid}\t{key.algorithm}\t{state_of(key, utcnow())}\t"
            f"created {timestamp(key.created_at)}{until}"
        )
