"""OpenAPI descriptions of the endpoints that parse their own bodies.

The token and revocation endpoints read raw form or JSON bodies (to catch repeated parameters
and mixed authentication), so their request and response shapes are described here by hand.
"""

from __future__ import annotations

from typing import Any

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "error_description": {"type": "string"},
    },
}

_TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["token_id", "token", "access_token", "token_type", "expires_at", "expires_in"],
    "properties": {
        "token_id": {"type": "string", "format": "uuid"},
        "token": {"type": "string"},
        "access_token": {"type": "string", "description": "Same value as token."},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_at": {"type": "integer", "description": "Unix time of expiry."},
        "expires_in": {"type": "integer", "description": "Seconds from now until expiry."},
        "scope": {"type": "string"},
    },
}

_CREDENTIAL_FIELDS: dict[str, Any] = {
    "client_id": {"type": "string"},
    "client_secret": {"type": "string"},
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}


def _errors(description: str, examples: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A response documented by one named example per way to get it: (error, description)."""
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": _ERROR_SCHEMA,
                "examples": {
                    name: {"value": {"error": error, "error_description": text}}
                    for name, (error, text) in examples.items()
                },
            }
        },
    }


_TOKEN_EXAMPLE: dict[str, Any] = {
    "token_id": "5b0c2f1e-8d4a-4f7e-9c1b-2a3d4e5f6a7b",
    "token": "cgt_3kQ9vT2mX8pL5nR7wY1zA4bC6dE0fG2hJ4kL6mN8pQ0rS2tUvW1x",
    "access_token": "cgt_3kQ9vT2mX8pL5nR7wY1zA4bC6dE0fG2hJ4kL6mN8pQ0rS2tUvW1x",
    "token_type": "Bearer",
    "expires_at": 1796337735,
    "expires_in": 3600,
    "scope": "users:read",
}

_EXAMPLE_ID = "cgc_5xQhT0aZ3mYkR7uWc1LbN9"
_EXAMPLE_SECRET = "<your client secret>"  # noqa: S105 - a placeholder for the reference

_TOKEN_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _errors(
        "The request is malformed, the grant is not client_credentials, or the scope is not "
        "the client's (RFC 6749 §5.2).",
        {
            "missing_grant_type": ("invalid_request", "grant_type is required"),
            "two_methods": ("invalid_request", "the client authenticated in more than one way"),
            "repeated": ("invalid_request", "a parameter is repeated: scope"),
            "in_url": (
                "invalid_request",
                "parameters must be sent in the request body, not in the URL",
            ),
            "media_type": (
                "invalid_request",
                "the body must be application/x-www-form-urlencoded or application/json",
            ),
            "grant": ("unsupported_grant_type", "only the client_credentials grant is supported"),
            "scope": (
                "invalid_scope",
                "the requested scope exceeds what the client may request",
            ),
        },
    ),
    401: {
        **_errors(
            "Client authentication failed: unknown client, wrong or revoked secret, or none "
            "sent. With HTTP Basic the answer carries `WWW-Authenticate: Basic`.",
            {
                "failed": ("invalid_client", "client authentication failed"),
                "none": ("invalid_client", "client authentication is required"),
            },
        ),
        "headers": {
            "WWW-Authenticate": {
                "description": "Only when the client used HTTP Basic.",
                "schema": {"type": "string"},
                "example": 'Basic realm="credgate", charset="UTF-8"',
            }
        },
    },
    403: _errors(
        "Plain HTTP from an address that is neither loopback nor a trusted proxy.",
        {"https": ("invalid_request", "HTTPS is required")},
    ),
    413: _errors(
        "The body is larger than the server accepts.",
        {"too_large": ("invalid_request", "the request body is too large")},
    ),
    429: {
        **_errors(
            "Too many failed authentications from this address or for this client id, or "
            "the client's hourly token quota is spent. Retry after `Retry-After` seconds.",
            {"slow_down": ("slow_down", "too many requests: retry later")},
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until the limit allows the request again.",
                "schema": {"type": "string"},
                "example": "42",
            }
        },
    },
}


TOKEN_ENDPOINT_DOC: dict[str, Any] = {
    "description": (
        "Trade client credentials for an access token (RFC 6749 §4.4). The client "
        "authenticates in exactly one of three ways:\n\n"
        "1. **HTTP Basic** (`client_secret_basic`): `Authorization: Basic` with "
        "`client_id:client_secret`, each form-urlencoded before base64 (RFC 6749 §2.3.1); "
        "the body is a form with `grant_type=client_credentials`.\n"
        "2. **Form fields** (`client_secret_post`): `client_id` and `client_secret` in the "
        "`application/x-www-form-urlencoded` body, next to `grant_type`.\n"
        '3. **JSON body**: `{"client_id": ..., "client_secret": ...}` as '
        "`application/json`; `grant_type` may be left out there.\n\n"
        "`scope` (space-separated) narrows the token to part of the client's scopes. "
        "Parameters in the URL, repeated parameters and two methods at once are refused. "
        "The answer carries `Cache-Control: no-store`; no refresh token is issued."
    ),
    "responses": {
        200: {
            "description": "A new access token.",
            "content": {"application/json": {"schema": _TOKEN_SCHEMA, "example": _TOKEN_EXAMPLE}},
        },
        **_TOKEN_ERRORS,
    },
    "openapi_extra": {
        "security": [{"clientBasic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["grant_type"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            **_CREDENTIAL_FIELDS,
                        },
                    },
                    "examples": {
                        "basic": {
                            "summary": "With HTTP Basic: only the grant in the body",
                            "value": {"grant_type": "client_credentials", "scope": "users:read"},
                        },
                        "form_fields": {
                            "summary": "Credentials as form fields (client_secret_post)",
                            "value": {
                                "grant_type": "client_credentials",
                                "client_id": _EXAMPLE_ID,
                                "client_secret": _EXAMPLE_SECRET,
                            },
                        },
                    },
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["client_id", "client_secret"],
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            **_CREDENTIAL_FIELDS,
                        },
                    },
                    "example": {
                        "client_id": _EXAMPLE_ID,
                        "client_secret": _EXAMPLE_SECRET,
                        "scope": "users:read",
                    },
                },
            },
        },
    },
}

REVOCATION_ENDPOINT_DOC: dict[str, Any] = {
    "description": (
        "RFC 7009 token revocation. The client authenticates as at the token endpoint. "
        "The answer is 200 whether or not the token was known, and a token of another client "
        "is left alone with the same answer, so the endpoint reveals nothing about tokens "
        "that are not the caller's."
    ),
    "responses": {
        200: {"description": "Revoked, or nothing to revoke."},
        400: _errors(
            "The request is malformed.",
            {
                "missing_token": ("invalid_request", "token is required"),
                "two_methods": (
                    "invalid_request",
                    "the client authenticated in more than one way",
                ),
            },
        ),
        401: _TOKEN_ERRORS[401],
        403: _TOKEN_ERRORS[403],
        413: _TOKEN_ERRORS[413],
        429: _TOKEN_ERRORS[429],
    },
    "openapi_extra": {
        "security": [{"clientBasic": []}, {}],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": {"type": "string"},
                            "token_type_hint": {"type": "string"},
                            **_CREDENTIAL_FIELDS,
                        },
                    },
                    "example": {
                        "token": _TOKEN_EXAMPLE["token"],
                        "token_type_hint": "access_token",
                    },
                }
            },
        },
    },
}

# RFC 6750 §3.1: the answers of every bearer-protected endpoint.
BEARER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _errors(
        "The bearer token is missing, malformed, unknown, expired or revoked. The answer "
        "carries a `WWW-Authenticate: Bearer` challenge naming the error.",
        {
            "missing": ("invalid_request", "bearer token required"),
            "malformed": ("invalid_token", "the access token is malformed"),
            "expired": ("invalid_token", "the access token expired"),
            "revoked": ("invalid_token", "the access token was revoked"),
        },
    ),
    403: _errors(
        "The token lacks a scope the endpoint requires; the challenge names it.",
        {"scope": ("insufficient_scope", "the token lacks a required scope")},
    ),
    429: {
        **_errors(
            "The client called the API more often than `CREDGATE_API_RATE_LIMIT` allows.",
            {"slow_down": ("slow_down", "too many requests: retry later")},
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds until the client may call again.",
                "schema": {"type": "string"},
                "example": "12",
            }
        },
    },
}

RENEWAL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _errors(
        "The token cannot be renewed: present the client secret to Create Token again.",
        {
            "renewed": ("invalid_grant", "the token was already renewed"),
            "max_age": (
                "invalid_grant",
                "the token reached its maximum renewal age: request a new token with the secret",
            ),
        },
    ),
}

TOKEN_SCHEMA = _TOKEN_SCHEMA
ERROR_RESPONSE = _error
ERROR_EXAMPLES = _errors
TOKEN_EXAMPLE = _TOKEN_EXAMPLE
