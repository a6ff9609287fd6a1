"""Settings: every variable validated, errors named by variable; the CLI exits 2 on them."""

from __future__ import annotations

import pytest

from scheduler.cli import main
from scheduler.errors import InvalidSettings
from scheduler.settings import load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert (
        settings.timezone,
        settings.allowed_modules,
        settings.thread_pool_workers,
        settings.shutdown_grace_seconds,
        settings.import_timeout_seconds,
        settings.background_jobs_enabled,
    ) == ("UTC", ("jobs",), 10, 30.0, 10.0, True)


def test_overrides_by_field_name_still_work() -> None:
    settings = load_settings(allowed_modules=("tests.jobfuncs",), import_timeout_seconds=0.5)
    assert settings.allowed_modules == ("tests.jobfuncs",)
    assert settings.import_timeout_seconds == 0.5


BAD_VALUES = [
    (
        "SCHEDULER_TIMEZONE",
        "Europe/Berln",
        "unknown timezone 'Europe/Berln'; did you mean 'Europe/Berlin'?",
    ),
    (
        "SCHEDULER_TIMEZONE",
        "Europe",
        "unknown timezone 'Europe': it is a group of zones; name one, like 'Europe/Amsterdam'",
    ),
    (
        "SCHEDULER_TIMEZONE",
        "A" * 300,
        f"unknown timezone '{'A' * 55}...'; expected an IANA name like 'Europe/Berlin'",
    ),
    (
        "SCHEDULER_THREAD_POOL_WORKERS",
        "0",
        "input should be greater than or equal to 1, got '0'",
    ),
    ("SCHEDULER_THREAD_POOL_WORKERS", "ten", "expected a whole number, got 'ten'"),
    ("BACKGROUND_JOBS_ENABLED", "maybe", "expected true or false, got 'maybe'"),
    (
        "SCHEDULER_ALLOWED_MODULES",
        "jobs, my-app.tasks",
        "'my-app.tasks' is not a module prefix; expected dotted names like 'jobs' or "
        "'myapp.tasks', separated by commas",
    ),
    (
        "SCHEDULER_ALLOWED_MODULES",
        " , ",
        "no module prefix given; name at least one, like 'jobs'",
    ),
    (
        "SCHEDULER_SHUTDOWN_GRACE",
        "-1",
        "input should be greater than or equal to 0, got '-1'",
    ),
    ("SCHEDULER_IMPORT_TIMEOUT", "0", "input should be greater than 0, got '0'"),
    ("SCHEDULER_IMPORT_TIMEOUT", "nan", "expected a finite number, got 'nan'"),
    ("SCHEDULER_RELOAD_DEBOUNCE_MS", "-5", "input should be greater than or equal to 0, got '-5'"),
]


@pytest.mark.parametrize(
    ("variable", "value", "message"), BAD_VALUES, ids=[f"{v}={x[:12]}" for v, x, _ in BAD_VALUES]
)
def test_a_bad_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings) as raised:
        load_settings()
    assert raised.value.messages == [f"{variable}: {message}"]


def test_every_bad_setting_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("SCHEDULER_THREAD_POOL_WORKERS", "0")
    with pytest.raises(InvalidSettings) as raised:
        load_settings()
    assert [message.split(":")[0] for message in raised.value.messages] == [
        "SCHEDULER_TIMEZONE",
        "SCHEDULER_THREAD_POOL_WORKERS",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["validate"],
        ["run"],
        ["list"],
        ["next", "@daily"],
        ["trigger", "health_check"],
        ["schema"],
    ],
    ids=lambda argv: argv[0],
)
def test_every_command_prints_the_settings_error_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    monkeypatch.setenv("SCHEDULER_TIMEZONE", "Europe/Berln")
    assert main(argv) == 2
    assert capsys.readouterr() == (
        "",
        "error: SCHEDULER_TIMEZONE: unknown timezone 'Europe/Berln'; "
        "did you mean 'Europe/Berlin'?\n",
    )
