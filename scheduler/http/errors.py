"""Errors the API answers itself, always as an ``ErrorBody`` JSON document.

A router cannot install exception handlers on the host app it is included in, so the
scheduler's routes use ``SchedulerRoute``, which turns these (and the scheduler's own
``JobNotFound`` and store errors) into responses inside the route itself, whatever the host.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from scheduler.errors import JobNotFound, SchedulerError
from scheduler.http.context import attached_context
from scheduler.http.models import ErrorBody
from scheduler.store import StoreError

__all__ = ["ERROR_RESPONSES", "ApiError", "SchedulerRoute", "error_response"]


class ApiError(SchedulerError):
    """An HTTP error with a code and a message for the JSON body."""

    def __init__(
        self, status_code: int, error: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.error = error
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(message)


def error_response(exc: ApiError) -> JSONResponse:
    """The JSON response of an ``ApiError``."""
    body = ErrorBody(error=exc.error, message=exc.message)
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


def _as_api_error(exc: SchedulerError) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JobNotFound):
        return ApiError(404, "not_found", f"no job {exc.job_id!r} in the loaded manifests")
    if isinstance(exc, StoreError):
        return ApiError(503, "store_unavailable", f"the state store did not answer: {exc}")
    return ApiError(503, "unavailable", str(exc))


class SchedulerRoute(APIRoute):
    """A route whose ``SchedulerError``s become JSON error responses."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap FastAPI's handler (dependencies included) to render our errors."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SchedulerError as exc:
                if isinstance(exc, StoreError):
                    _count_store_error(request)
                return error_response(_as_api_error(exc))

        return handle


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("Missing or wrong bearer token (the answer carries `WWW-Authenticate`)."),
    403: _described("Mutations are disabled: no `SCHEDULER_API_TOKEN` is configured."),
    404: _described("No job with this id in the loaded manifests."),
    503: _described("The state store did not answer."),
}


def _count_store_error(request: Request) -> None:
    context = attached_context(request.app)
    if context is not None:
        context.metrics.observe_store_error()
