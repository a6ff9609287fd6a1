"""Schemathesis over the OpenAPI document, in-process through the ASGI app: no server error,
and every answer matches the documented status codes and schemas."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from scheduler.http import create_app
from scheduler.runtime.service import SchedulerService
from scheduler.store import MemoryStore
from tests.http_support import TOKEN, settings_for, standard_folder

EXAMPLES = 12
"""Examples per operation: enough to reach every parameter's edges, quick on two cores."""


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The app of a service running on its own loop in a thread (schemathesis calls the app
    from its own), so requests also cross loops as a host's worker threads would."""
    folder = standard_folder(Path(tmp_path_factory.mktemp("schema")) / "manifests")
    service = SchedulerService(settings_for(folder, token=TOKEN), store=MemoryStore())
    assert service.load().ok
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="service-loop", daemon=True)
    thread.start()

    async def start() -> None:
        await service.open()
        service.start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield create_app(service)
    finally:
        asyncio.run_coroutine_threadsafe(service.aclose(0), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("authorized", [True, False], ids=["with-token", "without-token"])
def test_the_api_matches_its_openapi_document(served_app: object, authorized: bool) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"} if authorized else {}
    api = schemathesis.openapi.from_asgi("/openapi.json", served_app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10
    checked: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers)

        call()
        checked.append(operation.label)
    assert "POST /api/jobs/{job_id}/pause" in checked and "GET /metrics" in checked
