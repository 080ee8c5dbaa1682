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


TOKEN_ENDPOINT_DOC: dict[str, Any] = {
    "description": (
        "Trade client credentials for an access token. Authenticate with HTTP Basic "
        "(id and secret form-urlencoded, then base64), with form fields, or with a JSON body. "
        "`grant_type` may be omitted in JSON."
    ),
    "responses": {
        200: {
            "description": "A new access token.",
            "content": {"application/json": {"schema": _TOKEN_SCHEMA}},
        },
        400: _error("invalid_request, invalid_scope or unsupported_grant_type."),
        401: _error("invalid_client."),
        413: _error("The body is too large."),
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
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "grant_type": {"type": "string", "enum": ["client_credentials"]},
                            "scope": {"type": "string"},
                            **_CREDENTIAL_FIELDS,
                        },
                    }
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
        400: _error("invalid_request."),
        401: _error("invalid_client."),
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
                    }
                }
            },
        },
    },
}

TOKEN_SCHEMA = _TOKEN_SCHEMA
ERROR_RESPONSE = _error
