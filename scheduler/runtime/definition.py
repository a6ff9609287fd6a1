"""``JobDefinition``: what the service runs for one job, and how to call it.

A job comes from a manifest (a ``LoadedJob``) or from ``register_job``; either way the run
wrapper sees the same record: the callable, its options, and which lane it runs in (the event
loop for coroutine functions, the thread pool for the rest), decided once here rather than on
every run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scheduler.loader import LoadedJob
from scheduler.manifest import JobOptions, split_func_path

__all__ = ["JobDefinition", "is_async_generator_function", "is_coroutine_function"]


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """What the service runs for one job, whether it came from a manifest or ``register_job``."""

    job_id: str
    func: Callable[..., Any]
    func_path: str
    cron_expression: str
    timezone: str = "UTC"
    options: JobOptions = field(default_factory=JobOptions)
    file: str | None = None
    line: int | None = None
    is_coroutine: bool = field(init=False, repr=False, compare=False)
    is_async_generator: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Decided once, not on every run: inspect is slow next to the rest of a run's start.
        object.__setattr__(self, "is_coroutine", is_coroutine_function(self.func))
        object.__setattr__(self, "is_async_generator", is_async_generator_function(self.func))

    @classmethod
    def from_loaded(cls, job: LoadedJob) -> JobDefinition:
        """Build from a validated manifest job, importing ``func`` if the loader did not."""
        func = job.func if job.func is not None else _import_func(job.spec.func)
        spec = job.spec
        return cls(
            spec.job_id,
            func,
            spec.func,
            spec.cron_expression,
            job.timezone,
            spec,
            job.file,
            job.line,
        )


def _unwrapped(func: Callable[..., Any]) -> Callable[..., Any]:
    """The function behind ``functools.partial`` layers (inspect does not look through them
    for coroutine detection before Python 3.12's markers)."""
    while isinstance(func, functools.partial):
        func = func.func
    return func


def is_coroutine_function(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` gives a coroutine: ``async def``, a partial of one, or an object
    with ``async def __call__``."""
    target = _unwrapped(func)
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(
        getattr(target, "__call__", None)  # noqa: B004  # an object with ``async def __call__``
    )


def is_async_generator_function(func: Callable[..., Any]) -> bool:
    """Whether calling ``func`` gives an async generator, which nothing would ever iterate."""
    target = _unwrapped(func)
    return inspect.isasyncgenfunction(target) or inspect.isasyncgenfunction(
        getattr(target, "__call__", None)  # noqa: B004
    )


def _import_func(path: str) -> Callable[..., Any]:
    module_name, attribute = split_func_path(path)
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    return func
