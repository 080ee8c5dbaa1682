"""Formats of generated client ids, secrets and tokens, imported secrets, and keyed hashing."""

from __future__ import annotations

import hashlib
import hmac
import math
import string
import zlib
from collections.abc import Callable
from urllib.parse import quote_plus

import pytest

from credgate.credentials import (
    BASE62,
    MIN_IMPORTED_SECRET_LENGTH,
    CredentialHasher,
    generate_access_token,
    generate_client_id,
    generate_client_secret,
    is_acceptable_secret,
    is_well_formed_token,
    validate_imported_secret,
)

BODY_LENGTH = 43
CHECKSUM_LENGTH = 6
SAMPLES = 2000

# (prefix, generator, total length) of every value credgate generates.
GENERATED: list[tuple[str, Callable[[], str], int]] = [
    ("cgc_", generate_client_id, 4 + 22),
    ("cgs_", generate_client_secret, 4 + BODY_LENGTH + CHECKSUM_LENGTH),
    ("cgt_", generate_access_token, 4 + BODY_LENGTH + CHECKSUM_LENGTH),
]
GENERATED_IDS = ["client_id", "client_secret", "access_token"]

CHECKSUMMED = [
    ("cgs_", generate_client_secret),
    ("cgt_", generate_access_token),
]
CHECKSUMMED_IDS = ["client_secret", "access_token"]

KEY = b"k" * 32
OTHER_KEY = b"K" * 32


def from_base62(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + BASE62.index(char)
    return number


def split(value: str) -> tuple[str, str, str]:
    """(prefix with underscore, random body, checksum) of a checksummed value."""
    head, body = value[:4], value[4:]
    return head, body[:BODY_LENGTH], body[BODY_LENGTH:]


def padded(core: str, length: int = MIN_IMPORTED_SECRET_LENGTH) -> str:
    return core + "x" * max(0, length - len(core))


# --- generated values -----------------------------------------------------------------------


@pytest.mark.parametrize(("prefix", "generate", "length"), GENERATED, ids=GENERATED_IDS)
def test_generated_values_have_their_prefix_and_length(
    prefix: str, generate: Callable[[], str], length: int
) -> None:
    for _ in range(50):
        value = generate()
        assert value.startswith(prefix)
        assert len(value) == length


@pytest.mark.parametrize(("prefix", "generate", "length"), GENERATED, ids=GENERATED_IDS)
def test_generated_values_survive_form_urlencoding_unchanged(
    prefix: str, generate: Callable[[], str], length: int
) -> None:
    for _ in range(200):
        value = generate()
        assert quote_plus(value) == value
        assert set(value[4:]) <= set(string.ascii_letters + string.digits)


@pytest.mark.parametrize(("prefix", "generate", "length"), GENERATED, ids=GENERATED_IDS)
def test_generated_values_do_not_repeat(
    prefix: str, generate: Callable[[], str], length: int
) -> None:
    values = {generate() for _ in range(SAMPLES)}
    assert len(values) == SAMPLES


def test_secret_and_token_bodies_can_hold_at_least_256_bits() -> None:
    assert BODY_LENGTH * math.log2(62) >= 256


@pytest.mark.parametrize(("prefix", "generate"), CHECKSUMMED, ids=CHECKSUMMED_IDS)
def test_every_body_position_draws_from_the_whole_alphabet(
    prefix: str, generate: Callable[[], str]
) -> None:
    # Uniform over 62 symbols, 2000 draws miss a symbol with probability ~1e-12 per position;
    # a body padded with fixed leading digits, or drawn from fewer bits, would fail here.
    bodies = [split(generate())[1] for _ in range(SAMPLES)]
    for position in range(BODY_LENGTH):
        seen = {body[position] for body in bodies}
        assert len(seen) >= 55, f"position {position} saw only {len(seen)} symbols"


@pytest.mark.parametrize(("prefix", "generate"), CHECKSUMMED, ids=CHECKSUMMED_IDS)
def test_checksum_is_crc32_of_prefix_and_body_in_base62(
    prefix: str, generate: Callable[[], str]
) -> None:
    for _ in range(200):
        head, body, checksum = split(generate())
        assert head == prefix
        assert len(checksum) == CHECKSUM_LENGTH
        assert from_base62(checksum) == zlib.crc32(f"{head}{body}".encode())


def test_generated_secrets_are_acceptable_and_tokens_well_formed() -> None:
    for _ in range(100):
        assert is_acceptable_secret(generate_client_secret())
        assert is_well_formed_token(generate_access_token())


# --- is_well_formed_token -------------------------------------------------------------------


def test_any_one_character_change_breaks_a_token() -> None:
    token = generate_access_token()
    replacements = BASE62 + "_-.~+/= é"
    for position, original in enumerate(token):
        for replacement in replacements:
            if replacement == original:
                continue
            changed = token[:position] + replacement + token[position + 1 :]
            assert not is_well_formed_token(changed), (position, replacement)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],
        lambda t: t + "A",
        lambda t: "A" + t,
        lambda t: t[1:],
        lambda t: t.upper(),
        lambda t: t.replace("cgt_", "CGT_", 1),
        lambda t: t.replace("cgt_", "cgs_", 1),
        lambda t: t[:10] + t[11:] + "0",
        lambda t: " " + t,
        lambda t: t + "\n",
        lambda t: "",
    ],
    ids=[
        "truncated",
        "extended",
        "prepended",
        "head_dropped",
        "upper_cased",
        "prefix_upper_cased",
        "secret_prefix",
        "char_deleted_and_padded",
        "leading_space",
        "trailing_newline",
        "empty",
    ],
)
def test_mangled_tokens_are_not_well_formed(mangle: Callable[[str], str]) -> None:
    assert not is_well_formed_token(mangle(generate_access_token()))


def test_a_client_secret_is_not_a_well_formed_token() -> None:
    assert not is_well_formed_token(generate_client_secret())


def test_a_token_with_a_recomputed_checksum_for_another_prefix_is_refused() -> None:
    secret = generate_client_secret()
    assert not is_well_formed_token("cgt_" + secret[4:])


# --- is_acceptable_secret -------------------------------------------------------------------


def test_any_one_character_change_in_a_generated_secret_makes_it_unacceptable() -> None:
    secret = generate_client_secret()
    for position in range(4, len(secret)):
        for replacement in "0Az":
            if replacement == secret[position]:
                continue
            changed = secret[:position] + replacement + secret[position + 1 :]
            assert not is_acceptable_secret(changed), position


@pytest.mark.parametrize(
    "value",
    [
        "cgs_",
        "cgs_short",
        "cgs_" + "A" * (BODY_LENGTH + CHECKSUM_LENGTH),
        "cgs_" + "A" * 100,
    ],
    ids=["prefix_only", "short", "right_length_bad_checksum", "long_bad_checksum"],
)
def test_secrets_with_credgate_prefix_need_a_valid_checksum(value: str) -> None:
    assert not is_acceptable_secret(value)


@pytest.mark.parametrize(
    ("value", "acceptable"),
    [
        ("", False),
        ("x" * (MIN_IMPORTED_SECRET_LENGTH - 1), False),
        ("x" * MIN_IMPORTED_SECRET_LENGTH, True),
        ("x" * 500, True),
        (padded("a:b%c+d&e=f é"), True),
        ("CGS_" + "x" * MIN_IMPORTED_SECRET_LENGTH, True),
    ],
    ids=["empty", "one_short", "minimum", "long", "reserved_chars", "other_case_prefix"],
)
def test_imported_style_secrets_are_held_to_the_minimum_length(
    value: str, acceptable: bool
) -> None:
    assert is_acceptable_secret(value) is acceptable


# --- validate_imported_secret ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "x" * MIN_IMPORTED_SECRET_LENGTH,
        padded("colon:inside"),
        padded("percent%25inside%"),
        padded("plus+and space"),
        padded("amp&eq=semi;slash/hash#question?"),
        padded("non-ascii é ü ß 日本"),
        "é" * MIN_IMPORTED_SECRET_LENGTH,
        padded("\"quotes' and \\backslash"),
    ],
    ids=[
        "minimum",
        "colon",
        "percent",
        "plus_space",
        "url_reserved",
        "non_ascii",
        "all_non_ascii",
        "quotes",
    ],
)
def test_printable_imported_secrets_of_32_chars_or_more_are_accepted(value: str) -> None:
    validate_imported_secret(value)


def test_a_generated_secret_may_be_imported() -> None:
    validate_imported_secret(generate_client_secret())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * (MIN_IMPORTED_SECRET_LENGTH - 1),
        "é" * (MIN_IMPORTED_SECRET_LENGTH - 1),
    ],
    ids=["empty", "one_short", "one_short_non_ascii"],
)
def test_imported_secrets_under_32_chars_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="at least"):
        validate_imported_secret(value)


@pytest.mark.parametrize("control", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\u2028", "\u200b"])
def test_imported_secrets_with_unprintable_characters_are_refused(control: str) -> None:
    with pytest.raises(ValueError, match="printable"):
        validate_imported_secret(padded("abc" + control + "def"))


def test_imported_secrets_with_credgate_prefix_and_bad_checksum_are_refused() -> None:
    secret = generate_client_secret()
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    with pytest.raises(ValueError, match="checksum"):
        validate_imported_secret(forged)
    with pytest.raises(ValueError, match="checksum"):
        validate_imported_secret("cgs_" + "x" * 60)


def test_refusals_of_imported_secrets_do_not_quote_the_secret() -> None:
    value = padded("do-not-echo-me\n")
    with pytest.raises(ValueError) as refused:
        validate_imported_secret(value)
    assert "do-not-echo-me" not in str(refused.value)


# --- CredentialHasher -----------------------------------------------------------------------


def test_hash_is_deterministic_lowercase_hex_sha256() -> None:
    first, second = CredentialHasher(KEY), CredentialHasher(bytes(KEY))
    value = generate_client_secret()
    digest = first.hash(value)
    assert digest == second.hash(value) == first.hash(value)
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def test_hash_is_hmac_sha256_of_the_utf8_value() -> None:
    value = padded("é:secret")
    expected = hmac.new(KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()
    assert CredentialHasher(KEY).hash(value) == expected


def test_hash_never_contains_the_value() -> None:
    value = generate_client_secret()
    assert value not in CredentialHasher(KEY).hash(value)


def test_different_keys_give_different_hashes() -> None:
    value = generate_access_token()
    assert CredentialHasher(KEY).hash(value) != CredentialHasher(OTHER_KEY).hash(value)


def test_different_values_give_different_hashes() -> None:
    hasher = CredentialHasher(KEY)
    assert hasher.hash("a" * 40) != hasher.hash("a" * 39 + "b")


def test_matches_accepts_the_right_value_only() -> None:
    hasher = CredentialHasher(KEY)
    value = generate_client_secret()
    stored = hasher.hash(value)
    assert hasher.matches(value, stored)
    # One character changed, to one it cannot already be (a secret may end in "x").
    changed = value[:-1] + ("y" if value.endswith("x") else "x")
    assert not hasher.matches(changed, stored)
    assert not hasher.matches(value, CredentialHasher(OTHER_KEY).hash(value))
    assert not hasher.matches(value, "")
    assert not hasher.matches(value, stored.upper())


def test_repr_and_str_hide_the_key() -> None:
    key = b"super-secret-hashing-key-material!!"
    hasher = CredentialHasher(key)
    for text in (repr(hasher), str(hasher)):
        assert "super-secret" not in text
        assert key.hex() not in text
        assert "***" in text


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_keys_shorter_than_32_bytes_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        CredentialHasher(b"k" * length)


@pytest.mark.parametrize("length", [32, 64])
def test_keys_of_32_bytes_or_more_are_accepted(length: int) -> None:
    assert len(CredentialHasher(b"k" * length).hash("x")) == 64
