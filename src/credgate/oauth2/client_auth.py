"""Client authentication (RFC 6749 §2.3.1) against keyed hashes of the client's secrets."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from credgate.cache.clients import ClientFound, read_client_credentials
from credgate.credentials import CredentialHasher, is_acceptable_secret, looks_like_client_id
from credgate.oauth2.errors import InvalidClient
from credgate.oauth2.requests import ClientCredentials
from credgate.storage.database import AsyncSession
from credgate.storage.models import Client, ClientSecret
from credgate.usage import USAGE

logger = logging.getLogger("credgate.oauth2")

# Compared against when the client has no usable secret, so every refusal costs one compare.
_NO_SECRET = ClientSecret(secret_hash="0" * 64)


# How client authentication finds a client and its usable secrets: straight from a session
# (``read_through``) or through the runtime's client cache. ``fresh`` asks for a database
# read where the lookup could answer from memory.
ClientLookup = Callable[[str, datetime, bool], Awaitable[ClientFound]]


def read_through(session: AsyncSession) -> ClientLookup:
    """A lookup that reads the client and its secrets in ``session``, every time."""
    return lambda client_id, now, _fresh: read_client_credentials(session, client_id, now)


async def authenticate_client(
    session: AsyncSession,
    hasher: CredentialHasher,
    credentials: ClientCredentials,
    now: datetime,
) -> Client:
    """Return the client whose usable secret matches, or raise ``InvalidClient``."""
    client, _ = await authenticate_client_secret(read_through(session), hasher, credentials, now)
    return client


async def authenticate_client_secret(
    lookup: ClientLookup,
    hasher: CredentialHasher,
    credentials: ClientCredentials,
    now: datetime,
) -> tuple[Client, ClientSecret]:
    """The client and the secret of it that matched, or ``InvalidClient``.

    Unknown client, wrong secret, malformed secret and disabled client all give one answer,
    and every refusal of a well-formed secret costs one database read of the client and its
    secrets, whether the id exists or not, so a prober learns nothing about which client ids
    exist. Only a success may be decided from memory, and its caller holds the secret.
    """
    if not is_acceptable_secret(credentials.client_secret):
        # A bad checksum is refused before any database read.
        raise _failure(credentials, "malformed_secret")
    if not credentials.client_id.isprintable():
        # No stored id holds a control character (PostgreSQL text cannot even hold NUL).
        raise _failure(credentials, "malformed_client_id")

    presented_hash = hasher.hash(credentials.client_secret)
    found = await lookup(credentials.client_id, now, False)
    matched = _matching_secret(presented_hash, found)
    if not found.fresh and not _accepts(found, matched):
        # Refusals are decided on the database's word, never on memory alone.
        found = await lookup(credentials.client_id, now, True)
        matched = _matching_secret(presented_hash, found)

    client = found.client
    if client is None:
        raise _failure(credentials, "unknown_client")
    USAGE.count_authentication(client, matched, now)
    if matched is None:
        raise _failure(credentials, "wrong_secret")
    if client.status != "active":
        raise _failure(credentials, f"client_{client.status}")
    return client, matched


def _matching_secret(presented_hash: str, found: ClientFound) -> ClientSecret | None:
    """The usable secret with this hash, if any; every secret is compared."""
    matched: ClientSecret | None = None
    for secret in found.secrets or [_NO_SECRET]:
        if hmac.compare_digest(presented_hash, secret.secret_hash):
            matched = secret
    return None if matched is _NO_SECRET else matched


def _accepts(found: ClientFound, matched: ClientSecret | None) -> bool:
    return found.client is not None and found.client.status == "active" and matched is not None


def _failure(credentials: ClientCredentials, reason: str) -> InvalidClient:
    # A value without a client id's shape may be a secret sent in the wrong field: not logged.
    client_id = credentials.client_id
    logger.warning(
        "client.auth_failed",
        extra={
            "client_id": client_id if looks_like_client_id(client_id) else None,
            "reason": reason,
            "auth_method": credentials.method,
        },
    )
    return InvalidClient(
        "client authentication failed", used_basic=credentials.used_basic, reason=reason
    )


def validate_source_network(
    client: Client, credentials: ClientCredentials, address: str | None
) -> None:
    """Refuse a client that asks from outside the networks it is allowed to ask from.

    The answer is the usual ``invalid_client``: a caller that holds the secret from the wrong
    place learns nothing more than a caller with a wrong secret. The reason is logged.
    """
    if not client.allowed_networks:
        return
    if address is None or not is_address_in(address, client.allowed_networks):
        raise _failure(credentials, "network_not_allowed")


def is_address_in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)
