"""Scope strings (RFC 6749 §3.3): parsing, and what a token request is granted."""

from __future__ import annotations

import pytest

from credgate.oauth2.errors import InvalidScope
from credgate.oauth2.scopes import format_scope, grant_scope, parse_scope

ALLOWED = frozenset({"users:read", "users:write", "reports"})

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
RFC_SCOPE_CHARS = "".join(chr(code) for code in [0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)])

OUTSIDE_RFC = [
    '"',
    "\\",
    "\x00",
    "\x01",
    "\t",
    "\n",
    "\r",
    "\x1f",
    "\x7f",
    "\x80",
    "\xa0",
    "é",
    "\u3000",
]
OUTSIDE_RFC_IDS = [
    "dquote",
    "backslash",
    "nul",
    "soh",
    "tab",
    "newline",
    "cr",
    "us",
    "del",
    "c1",
    "nbsp",
    "non_ascii",
    "ideographic_space",
]


# --- parse_scope ----------------------------------------------------------------------------


def test_parse_scope_splits_on_spaces_into_a_set() -> None:
    assert parse_scope("users:read users:write") == {"users:read", "users:write"}


@pytest.mark.parametrize(
    "value",
    [
        "  users:read users:write",
        "users:read    users:write",
        "users:read users:write   ",
        "   users:read     users:write   ",
    ],
    ids=["leading", "between", "trailing", "everywhere"],
)
def test_parse_scope_tolerates_extra_spaces(value: str) -> None:
    assert parse_scope(value) == {"users:read", "users:write"}


def test_parse_scope_ignores_order_and_repeats() -> None:
    assert parse_scope("b a b a") == parse_scope("a b") == {"a", "b"}


def test_parse_scope_is_case_sensitive() -> None:
    assert parse_scope("Users:Read users:read") == {"Users:Read", "users:read"}


@pytest.mark.parametrize("value", ["", " ", "     "], ids=["empty", "space", "spaces"])
def test_parse_scope_of_blank_is_the_empty_set(value: str) -> None:
    assert parse_scope(value) == frozenset()


def test_parse_scope_accepts_every_character_rfc_6749_allows() -> None:
    assert parse_scope(RFC_SCOPE_CHARS) == {RFC_SCOPE_CHARS}


@pytest.mark.parametrize("char", OUTSIDE_RFC, ids=OUTSIDE_RFC_IDS)
def test_parse_scope_refuses_characters_outside_rfc_6749(char: str) -> None:
    with pytest.raises(ValueError):
        parse_scope(f"users:read users{char}write")


def test_format_scope_is_sorted_and_space_delimited() -> None:
    assert format_scope({"users:write", "reports", "users:read"}) == (
        "reports users:read users:write"
    )
    assert format_scope(set()) == ""


def test_format_then_parse_round_trips() -> None:
    assert parse_scope(format_scope(ALLOWED)) == ALLOWED


# --- grant_scope ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("users:read", {"users:read"}),
        ("users:write reports", {"users:write", "reports"}),
        ("reports users:write users:read", set(ALLOWED)),
        ("users:read users:read", {"users:read"}),
    ],
    ids=["one", "two", "all_in_other_order", "repeated"],
)
def test_requesting_a_subset_grants_exactly_that_subset(requested: str, granted: set[str]) -> None:
    assert grant_scope(requested, ALLOWED) == granted


def test_requesting_nothing_grants_the_full_set() -> None:
    assert grant_scope(None, ALLOWED) == ALLOWED


@pytest.mark.parametrize(
    "requested",
    [
        "users:read users:delete",
        "admin",
        "users:read users:write reports admin",
        "Users:Read",
        "users:rea",
        "users:read:extra",
    ],
    ids=["one_extra", "unknown", "superset", "other_case", "prefix_of_allowed", "longer"],
)
def test_requesting_beyond_the_allowed_set_is_invalid_scope(requested: str) -> None:
    with pytest.raises(InvalidScope):
        grant_scope(requested, ALLOWED)


@pytest.mark.parametrize("requested", ["", " ", "    "], ids=["empty", "space", "spaces"])
def test_requesting_an_empty_scope_is_invalid_scope(requested: str) -> None:
    with pytest.raises(InvalidScope):
        grant_scope(requested, ALLOWED)


@pytest.mark.parametrize("char", OUTSIDE_RFC, ids=OUTSIDE_RFC_IDS)
def test_requesting_characters_outside_rfc_6749_is_invalid_scope(char: str) -> None:
    with pytest.raises(InvalidScope):
        grant_scope(f"users:read{char}", ALLOWED)
    with pytest.raises(InvalidScope):
        grant_scope(f"users:read {char}", ALLOWED)


def test_tab_is_not_a_scope_delimiter() -> None:
    with pytest.raises(InvalidScope):
        grant_scope("users:read\tusers:write", ALLOWED)


@pytest.mark.parametrize(
    "requested",
    ["  users:read  ", "users:read     users:write", " reports "],
    ids=["padded", "wide_gap", "single_padded"],
)
def test_requests_with_extra_spaces_are_tolerated(requested: str) -> None:
    assert grant_scope(requested, ALLOWED) == set(requested.split())


def test_a_client_with_no_scopes_may_only_ask_for_nothing() -> None:
    assert grant_scope(None, frozenset()) == frozenset()
    with pytest.raises(InvalidScope):
        grant_scope("users:read", frozenset())


def test_invalid_scope_answers_400_invalid_scope_without_echoing_the_request() -> None:
    requested = "users:read secret-admin-scope"
    with pytest.raises(InvalidScope) as refused:
        grant_scope(requested, ALLOWED)
    assert refused.value.status_code == 400
    assert refused.value.body()["error"] == "invalid_scope"
    assert "secret-admin-scope" not in str(refused.value.body())
    assert "secret-admin-scope" not in str(refused.value)
