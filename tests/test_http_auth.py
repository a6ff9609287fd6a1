"""Mutations need the bearer token; every mutation is refused while none is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http_support import TOKEN, serving, standard_folder

pytestmark = pytest.mark.timeout(20)

MUTATIONS = ["pause", "resume", "trigger"]


@pytest.mark.parametrize("action", MUTATIONS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {TOKEN}"}],
    ids=["no-header", "any-bearer"],
)
async def test_every_mutation_is_403_while_no_token_is_configured(
    tmp_path: Path, action: str, headers: dict[str, str]
) -> None:
    async with serving(standard_folder(tmp_path), token=None) as (client, service):
        response = await client.post(f"/api/jobs/nightly/{action}", headers=headers)
        job = service.get_job("nightly")
    assert response.status_code == 403
    assert response.json() == {
        "error": "forbidden",
        "message": "mutations are disabled: set SCHEDULER_API_TOKEN on the scheduler to allow them",
    }
    assert not job.paused and job.last_run is None


@pytest.mark.parametrize("action", MUTATIONS)
@pytest.mark.parametrize(
    ("headers", "message", "challenge"),
    [
        ({}, "send Authorization: Bearer <SCHEDULER_API_TOKEN>", 'Bearer realm="scheduler"'),
        (
            {"Authorization": f"Basic {TOKEN}"},
            "send Authorization: Bearer <SCHEDULER_API_TOKEN>",
            'Bearer realm="scheduler"',
        ),
        (
            {"Authorization": "Bearer wrong-token!"},
            "wrong token",
            'Bearer realm="scheduler", error="invalid_token"',
        ),
        (
            {"Authorization": f"Bearer {TOKEN[:-1]}"},
            "wrong token",
            'Bearer realm="scheduler", error="invalid_token"',
        ),
        (
            {"Authorization": f"Bearer {TOKEN}x"},
            "wrong token",
            'Bearer realm="scheduler", error="invalid_token"',
        ),
    ],
    ids=["missing", "basic-scheme", "wrong", "prefix", "longer"],
)
async def test_missing_or_wrong_token_is_401_with_a_challenge(
    tmp_path: Path, action: str, headers: dict[str, str], message: str, challenge: str
) -> None:
    async with serving(standard_folder(tmp_path)) as (client, service):
        response = await client.post(f"/api/jobs/nightly/{action}", headers=headers)
        job = service.get_job("nightly")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.json() == {"error": "unauthorized", "message": message}
    assert not job.paused and job.last_run is None


async def test_a_cookie_never_authenticates(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        client.cookies.set("Authorization", f"Bearer {TOKEN}")
        client.cookies.set("token", TOKEN)
        response = await client.post("/api/jobs/nightly/pause")
    assert response.status_code == 401


async def test_the_right_token_is_let_through(tmp_path: Path) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.post(
            "/api/jobs/nightly/pause", headers={"Authorization": f"bearer {TOKEN}"}
        )
    assert response.status_code == 200 and response.json()["paused"] is True


async def test_the_token_is_compared_in_constant_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hmac

    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    async with serving(standard_folder(tmp_path)) as (client, _):
        await client.post("/api/jobs/nightly/pause", headers={"Authorization": "Bearer guess"})
    assert compared == [(b"guess", TOKEN.encode())]


@pytest.mark.parametrize(
    "path", ["/api/jobs", "/api/jobs/nightly", "/api/runs", "/api/reload", "/api/timeline", "/"]
)
async def test_reads_are_open_without_a_token(tmp_path: Path, path: str) -> None:
    async with serving(standard_folder(tmp_path)) as (client, _):
        response = await client.get(path)
    assert response.status_code == 200
