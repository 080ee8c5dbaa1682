"""The sample protected API: an account's own users, behind ``users:read`` / ``users:write``.

Every query is scoped to the account of the bearer token, so another account's user looks
exactly like one that does not exist: 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from starlette.responses import JSONResponse

from credgate.oauth2.endpoints import runtime_of
from credgate.oauth2.errors import NotFound, OAuth2Error
from credgate.oauth2.openapi import BEARER_ERRORS, ERROR_EXAMPLES, ERROR_RESPONSE
from credgate.resource.guard import require_scopes
from credgate.resource.verifiers import VerifiedToken
from credgate.storage import users as user_store
from credgate.storage.models import User

# Databases hold 64-bit offsets at most; anything past this is an empty page anyway.
MAX_OFFSET = 2**31 - 1

router = APIRouter(
    prefix="/api/users",
    tags=["Sample API"],
    responses=BEARER_ERRORS,
)

ReadToken = Annotated[VerifiedToken, Depends(require_scopes("users:read"))]
WriteToken = Annotated[VerifiedToken, Depends(require_scopes("users:write"))]


class UserIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "ada@example.com", "name": "Ada Lovelace"}]},
    )

    email: EmailStr
    # No control characters: they have no place in a name, and PostgreSQL refuses NUL.
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class UserOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "e8e93c6c-1973-4fc8-b75a-0ac398451b37",
                    "email": "ada@example.com",
                    "name": "Ada Lovelace",
                    "created_at": "2026-01-15T09:30:00Z",
                }
            ]
        }
    )

    id: str
    email: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, user: User | Row[Any]) -> UserOut:
        return cls(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


class UserList(BaseModel):
    users: list[UserOut]
    limit: int
    offset: int


class Conflict(OAuth2Error):
    error = "conflict"
    status_code = 409


@router.get("", summary="List the account's users")
async def list_users(
    request: Request,
    token: ReadToken,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> UserList:
    async with runtime_of(request).sessions() as session:
        users = await user_store.list_users(session, token.account_id, limit, offset)
    return UserList(users=[UserOut.of(user) for user in users], limit=limit, offset=offset)


@router.post(
    "",
    summary="Create a user",
    status_code=201,
    responses={409: ERROR_RESPONSE("A user with this email exists in the account.")},
)
async def create_user(request: Request, token: WriteToken, body: UserIn) -> JSONResponse:
    email = body.email.lower()
    try:
        async with runtime_of(request).sessions.begin() as session:
            if await user_store.find_user_by_email(session, token.account_id, email):
                raise Conflict("a user with this email already exists")
            user = await user_store.save_user(session, token.account_id, email, body.name)
    except IntegrityError:
        raise Conflict("a user with this email already exists") from None
    payload = UserOut.of(user).model_dump(mode="json")
    return JSONResponse(payload, status_code=201, headers={"Location": f"/api/users/{user.id}"})


@router.get(
    "/{user_id}",
    summary="Get a user",
    responses={
        404: ERROR_EXAMPLES(
            "No such user in the token's account; another account's user looks the same.",
            {"missing": ("not_found", "no such user")},
        )
    },
)
async def get_user(request: Request, token: ReadToken, user_id: str) -> UserOut:
    user = await user_store.read_user(runtime_of(request).reads, token.account_id, user_id)
    if user is None:
        raise NotFound("no such user")
    return UserOut.of(user)
