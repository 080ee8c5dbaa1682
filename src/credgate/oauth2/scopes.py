"""Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive tokens without order."""

from __future__ import annotations

import re

from credgate.oauth2.errors import InvalidScope

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def parse_scope(value: str) -> frozenset[str]:
    """Split a scope string; raise ``ValueError`` on characters the RFC does not allow."""
    parts = value.split(" ")
    tokens = [part for part in parts if part]
    for token in tokens:
        if not _SCOPE_TOKEN.fullmatch(token):
            raise ValueError("scope holds a character outside RFC 6749 §3.3")
    return frozenset(tokens)


def format_scope(scopes: frozenset[str] | set[str]) -> str:
    return " ".join(sorted(scopes))


def grant_scope(requested: str | None, allowed: frozenset[str]) -> frozenset[str]:
    """The scopes a token gets: the request if it stays within the client's, else the whole set.

    RFC 6749 §3.3 lets a server apply a default when the client asks for nothing; credgate's
    default is everything the client may have.
    """
    if requested is None:
        return allowed
    try:
        scopes = parse_scope(requested)
    except ValueError:
        raise InvalidScope("the scope is malformed") from None
    if not scopes:
        raise InvalidScope("the scope is empty")
    if not scopes <= allowed:
        raise InvalidScope("the requested scope exceeds what the client may request")
    return scopes
