"""Bearer-token authentication for the API's mutations; reads stay open.

Mutations (pause, resume, trigger) need ``Authorization: Bearer <SCHEDULER_API_TOKEN>``,
compared in constant time. With no token configured every mutation is refused (403): a
scheduler reachable over HTTP must never be steerable by default. Only the header counts,
never a cookie, so a page on another site cannot make a browser send a mutation (no CSRF).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import Request

from scheduler.http.context import context_of
from scheduler.http.errors import ApiError

__all__ = ["BEARER", "require_token"]

BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="SchedulerApiToken",
    description="The value of SCHEDULER_API_TOKEN; needed by every mutation.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scheduler"'}


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


def require_token(request: Request, credentials: Credentials) -> None:
    """Let the request through only with the configured token (a FastAPI dependency)."""
    expected = context_of(request).service.settings.api_token
    if not expected:
        raise ApiError(
            403,
            "forbidden",
            "mutations are disabled: set SCHEDULER_API_TOKEN on the scheduler to allow them",
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(
            401, "unauthorized", "send Authorization: Bearer <SCHEDULER_API_TOKEN>", _CHALLENGE
        )
    given = credentials.credentials.encode("utf-8")
    if not hmac.compare_digest(given, expected.encode("utf-8")):
        raise ApiError(
            401,
            "unauthorized",
            "wrong token",
            {"WWW-Authenticate": 'Bearer realm="scheduler", error="invalid_token"'},
        )
