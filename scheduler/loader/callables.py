"""What a job callable really is: where it is defined, whether calling it runs its body,
and its signature, asked defensively (a callable can make any of these questions raise).

The runtime awaits coroutine functions (also partials of them and objects with an
``async def __call__``) and runs anything else in a thread. A plain function that returns
a coroutine, an async generator function and a generator function would then "succeed"
without their body ever running: those are refused here when it shows.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from scheduler.loader.importing import describe_exception

__all__ = ["defining_module", "never_runs_reason", "signature_of"]

_MAX_UNWRAP = 100


def innermost(target: Any) -> Any:
    """``target`` without ``functools.partial`` layers and decorators (``__wrapped__``)."""
    current = target
    for _ in range(_MAX_UNWRAP):
        if isinstance(current, functools.partial):
            current = current.func
            continue
        try:
            wrapped = inspect.unwrap(current)
        except Exception:  # a __wrapped__ cycle, or an attribute that raises
            return current
        if wrapped is current:
            return current
        current = wrapped
    return current


def defining_module(target: Any) -> str | None:
    """The module that defines ``target`` (decorators and partials unwrapped), if it says."""
    try:
        module = getattr(innermost(target), "__module__", None)
    except Exception:
        return None
    return module if isinstance(module, str) else None


def _is_coroutine_function(func: Any) -> bool:
    """The runtime's rule: awaited when it is, or its ``__call__`` is, a coroutine function."""
    try:
        call = getattr(func, "__call__", None)  # noqa: B004  # an object with async __call__
        return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(call)
    except Exception:
        return False


def never_runs_reason(target: Callable[..., Any], func_path: str) -> str | None:
    """Why calling ``target`` as a job would not run its body; ``None`` when it would."""
    inner = innermost(target)
    for candidate in (target, inner, getattr(inner, "__call__", None)):  # noqa: B004
        if inspect.isasyncgenfunction(candidate):
            return (
                f"{func_path!r} is an async generator function: calling it runs nothing "
                "until iterated; make it a plain 'async def' that does the work and returns"
            )
        if inspect.isgeneratorfunction(candidate):
            return (
                f"{func_path!r} is a generator function: calling it runs nothing until "
                "iterated; make it a function that does the work and returns"
            )
    if _is_coroutine_function(target):
        return None
    if _is_coroutine_function(inner):
        return (
            f"{func_path!r} wraps a coroutine function but is not one itself, so it would run "
            "in a thread and its coroutine would never be awaited; make the wrapper 'async def'"
        )
    if _returns_awaitable(target):
        return (
            f"{func_path!r} is not 'async def' but is annotated to return an awaitable, which "
            "the scheduler would never await; make it 'async def'"
        )
    return None


_AWAITABLE_TYPES = (collections.abc.Awaitable, collections.abc.Coroutine)
_AWAITABLE_NAMES = ("Awaitable", "Coroutine", "Future", "Task")


def _returns_awaitable(target: Any) -> bool:
    """Whether the return annotation names an awaitable (resolved, or by name if a string)."""
    try:
        inner = innermost(target)
        try:
            annotation = typing.get_type_hints(inner).get("return")
        except Exception:  # unresolvable string annotations: read them as written
            annotation = getattr(inner, "__annotations__", {}).get("return")
        if isinstance(annotation, str):
            head = annotation.split("[", 1)[0].rsplit(".", 1)[-1].strip()
            return head in _AWAITABLE_NAMES
        origin = typing.get_origin(annotation) or annotation
        return isinstance(origin, type) and issubclass(origin, _AWAITABLE_TYPES)
    except Exception:  # annotations are only a hint: never a reason to fail the load
        return False


def signature_of(target: Callable[..., Any], func_path: str) -> inspect.Signature | str | None:
    """The signature to bind arguments to; ``None`` when there is none (some builtins), or
    the message when asking for it raised (a ``__signature__`` property, say)."""
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None
    except Exception as exc:
        return f"cannot read the signature of {func_path!r}: {describe_exception(exc)}"
