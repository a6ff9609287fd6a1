"""A job's ``func``: the module allowlist, then import, callable and argument binding.

Done at load time so that a typo or a wrong argument is a problem with a line number in
``scheduler validate``, not an exception at 3 a.m.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.loader.messages import describe
from scheduler.loader.scope import FileScope, JobEntry
from scheduler.manifest import JobSpec, split_func_path
from scheduler.sources import Segment

__all__ = ["FuncChecker"]


class FuncChecker:
    """Checks each job's ``func``; memoizes the allowlist answer and the import per path."""

    def __init__(self, allowed_modules: tuple[str, ...], *, import_check: bool) -> None:
        self._allowed_modules = allowed_modules
        self._import_check = import_check
        self._imports: dict[str, _Resolved | str] = {}
        self._allowed: dict[str, bool] = {}

    def check(self, scope: FileScope, entry: JobEntry, spec: JobSpec) -> Callable[..., Any] | None:
        """Allowlist always; import, callable and argument binding when the check is on."""
        if not self._is_allowed(spec.func):
            allowed = ", ".join(repr(prefix) for prefix in self._allowed_modules) or "none"
            message = (
                f"module {spec.module_name!r} is outside the allowed modules ({allowed}); "
                "see SCHEDULER_ALLOWED_MODULES"
            )
            scope.add(
                scope.job_field_path(entry, ("func",)), message, job_id=spec.job_id, field="func"
            )
            return None
        if not self._import_check:
            return None
        resolved = self._imports.get(spec.func)
        if resolved is None:
            resolved = self._imports[spec.func] = _resolve(spec.func)
        if isinstance(resolved, str):
            where = scope.job_field_path(entry, ("func",))
            scope.add(where, resolved, job_id=spec.job_id, field="func")
            return None
        _report_binding(scope, entry, spec, resolved)
        return resolved.func

    def _is_allowed(self, func: str) -> bool:
        """Whether func's module is, or is inside, an allowed package (memoized per func)."""
        allowed = self._allowed.get(func)
        if allowed is None:
            module = split_func_path(func)[0]
            prefixes = self._allowed_modules
            allowed = any(module == name or module.startswith(name + ".") for name in prefixes)
            self._allowed[func] = allowed
        return allowed


@dataclass(frozen=True, slots=True)
class _Resolved:
    """An imported job callable, its signature (None: cannot tell) and how to show it."""

    func: Callable[..., Any]
    signature: inspect.Signature | None
    shown: str


def _resolve(func_path: str) -> _Resolved | str:
    """Import ``func_path``; the message of what went wrong otherwise."""
    module_name, attribute = split_func_path(func_path)
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # any import-time failure is the manifest's problem
        return f"cannot import module {module_name!r}: {type(exc).__name__}: {exc}"
    target = getattr(module, attribute, _MISSING)
    if target is _MISSING:
        return f"module {module_name!r} has no attribute {attribute!r}"
    if not callable(target):
        return f"{func_path!r} is not callable (it is {describe(target)})"
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have no signature: nothing to bind
        return _Resolved(target, None, attribute)
    return _Resolved(target, signature, attribute + _plain_signature(signature))


def _plain_signature(signature: inspect.Signature) -> str:
    """``(days, dry_run=False)``: annotations are noise in a manifest error."""
    empty = inspect.Parameter.empty
    parameters = [
        parameter.replace(annotation=empty) for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=parameters, return_annotation=empty))


_MISSING = object()
_QUOTED_NAME = re.compile(r"'([^']+)'")


def _report_binding(scope: FileScope, entry: JobEntry, spec: JobSpec, resolved: _Resolved) -> None:
    """Bind args/kwargs to the signature now, not at 3 a.m."""
    if resolved.signature is None:
        return
    try:
        resolved.signature.bind(*spec.args, **spec.kwargs)
    except TypeError as exc:
        reason = str(exc)
        path: tuple[Segment, ...]
        if "keyword" in reason or "multiple values" in reason:
            named = _QUOTED_NAME.search(reason)
            path = ("kwargs", named.group(1)) if named else ("kwargs",)
        elif "positional" in reason or "args" in entry.raw or "kwargs" not in entry.raw:
            path = ("args",)
        else:
            path = ("kwargs",)
        message = f"arguments do not fit {resolved.shown}: {reason}"
        where = scope.job_field_path(entry, path)
        scope.add(where, message, key=len(path) > 1, job_id=spec.job_id, field=str(path[0]))
