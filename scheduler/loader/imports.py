"""A job's ``func``: the module allowlist, then import, callable and argument binding.

Done at load time so that a typo or a wrong argument is a problem with a line number in
``scheduler validate``, not an exception at 3 a.m. The allowlist is about where code
lives: both the path the manifest names and the module that defines the callable must be
under an allowed prefix, so a name an allowed module merely imports (``from subprocess
import run``) cannot be scheduled.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.loader.callables import defining_module, never_runs_reason, signature_of
from scheduler.loader.importing import DEFAULT_IMPORT_TIMEOUT, describe_exception, import_within
from scheduler.loader.messages import describe
from scheduler.loader.scope import FileScope, JobEntry
from scheduler.manifest import split_func_path
from scheduler.sources import Segment

__all__ = ["FuncChecker"]


class FuncChecker:
    """Checks each job's ``func``; memoizes the allowlist answer and imports per path.

    A resolved callable is kept for the loader's life; a failure only until the next load
    (``begin_load``), so a module added or fixed since is picked up. ``failed_imports``
    counts the checks that failed for a reason that may go away (anything after the
    allowlist).
    """

    def __init__(
        self,
        allowed_modules: tuple[str, ...],
        *,
        import_check: bool,
        import_timeout: float = DEFAULT_IMPORT_TIMEOUT,
    ) -> None:
        self._allowed_modules = allowed_modules
        self._import_check = import_check
        self._import_timeout = import_timeout
        self._imports: dict[str, _Resolved | str] = {}
        self._allowed: dict[str, bool] = {}
        self.failed_imports = 0

    def begin_load(self) -> None:
        """Forget the failures of the previous load: they are tried again."""
        self._imports = {
            path: found for path, found in self._imports.items() if not isinstance(found, str)
        }

    def check(
        self,
        scope: FileScope,
        entry: JobEntry,
        func_path: str,
        job_id: str | None,
        arguments: tuple[Sequence[Any], dict[str, Any]] | None,
    ) -> Callable[..., Any] | None:
        """Allowlist always; import, callable and ``arguments`` binding when the check is on.

        Returns the callable when every check passed; problems are added to ``scope``.
        """
        where = scope.job_field_path(entry, ("func",))
        if not self._is_allowed(split_func_path(func_path)[0]):
            message = (
                f"module {split_func_path(func_path)[0]!r} is outside the allowed modules "
                f"({self._allowed_text()}); see SCHEDULER_ALLOWED_MODULES"
            )
            scope.add(where, message, job_id=job_id, field="func")
            return None
        if not self._import_check:
            return None
        resolved = self._imports.get(func_path)
        if resolved is None:
            resolved = self._imports[func_path] = self._resolve(func_path)
        if isinstance(resolved, str):
            self.failed_imports += 1  # the file's outcome is not reused: the next load retries
            scope.add(where, resolved, job_id=job_id, field="func")
            return None
        if arguments is not None and not _report_binding(scope, entry, job_id, resolved, arguments):
            return None
        return resolved.func

    def _is_allowed(self, module: str) -> bool:
        """Whether ``module`` is, or is inside, an allowed package (memoized)."""
        allowed = self._allowed.get(module)
        if allowed is None:
            prefixes = self._allowed_modules
            allowed = any(module == name or module.startswith(name + ".") for name in prefixes)
            self._allowed[module] = allowed
        return allowed

    def _allowed_text(self) -> str:
        return ", ".join(repr(prefix) for prefix in self._allowed_modules) or "none"

    def _resolve(self, func_path: str) -> _Resolved | str:
        """Import ``func_path`` and check what it names; the message of what is wrong."""
        module_name, attribute = split_func_path(func_path)
        module = import_within(module_name, self._import_timeout)
        if isinstance(module, str):
            return module
        target, missing = _attribute(module, module_name, attribute, func_path)
        if missing is not None:
            return missing
        try:
            return self._inspect(target, func_path, attribute)
        except Exception as exc:  # an object whose attributes raise when asked
            return f"cannot inspect {func_path!r}: {describe_exception(exc)}"

    def _inspect(self, target: object, func_path: str, attribute: str) -> _Resolved | str:
        """What ``target`` is: a job callable, or the message why it cannot be one."""
        if inspect.ismodule(target):
            return f"{func_path!r} is a module, not a function; name a function defined in it"
        if not callable(target):
            return f"{func_path!r} is not callable (it is {describe(target)})"
        home = defining_module(target)
        if home is not None and not self._is_allowed(home):
            return (
                f"{func_path!r} is defined in module {home!r}, outside the allowed modules "
                f"({self._allowed_text()}); an allowed module only imports it. Name a "
                "function defined under an allowed module (see SCHEDULER_ALLOWED_MODULES)"
            )
        reason = never_runs_reason(target, func_path)
        if reason is not None:
            return reason
        signature = signature_of(target, func_path)
        if isinstance(signature, str):
            return signature
        shown = attribute if signature is None else attribute + _plain_signature(signature)
        return _Resolved(target, signature, shown)


@dataclass(frozen=True, slots=True)
class _Resolved:
    """An imported job callable, its signature (None: cannot tell) and how to show it."""

    func: Callable[..., Any]
    signature: inspect.Signature | None
    shown: str


_MISSING = object()


def _attribute(
    module: object, module_name: str, attribute: str, func_path: str
) -> tuple[object, str | None]:
    """``getattr`` that survives a module's own ``__getattr__`` raising: the attribute, or
    the message why there is none. (The target is never tested with ``isinstance``: a
    hostile object can make even that raise.)"""
    try:
        target = getattr(module, attribute, _MISSING)
    except Exception as exc:  # a lazy module __getattr__ may raise anything
        message = (
            f"getting {attribute!r} from module {module_name!r} raised {describe_exception(exc)}"
        )
        return None, message
    if target is not _MISSING:
        return target, None
    if _is_package(module) and _has_submodule(f"{module_name}.{attribute}"):
        return None, f"{func_path!r} is a module, not a function; name a function defined in it"
    hint = _did_you_mean(module, attribute)
    return None, f"module {module_name!r} has no attribute {attribute!r}{hint}"


def _is_package(module: object) -> bool:
    try:
        return hasattr(module, "__path__")
    except Exception:
        return False


def _has_submodule(name: str) -> bool:
    """Whether ``name`` could be imported as a module (found, not run)."""
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # a parent that is not a package, a finder that raises
        return False


def _did_you_mean(module: object, attribute: str) -> str:
    try:
        names = [name for name in vars(module) if not name.startswith("_")]
    except Exception:
        return ""
    matches = difflib.get_close_matches(attribute, names, n=1)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _plain_signature(signature: inspect.Signature) -> str:
    """``(days, dry_run=False)``: annotations are noise in a manifest error."""
    empty = inspect.Parameter.empty
    parameters = [
        parameter.replace(annotation=empty) for parameter in signature.parameters.values()
    ]
    return str(signature.replace(parameters=parameters, return_annotation=empty))


_QUOTED_NAME = re.compile(r"'([^']+)'")


def _report_binding(
    scope: FileScope,
    entry: JobEntry,
    job_id: str | None,
    resolved: _Resolved,
    arguments: tuple[Sequence[Any], dict[str, Any]],
) -> bool:
    """Bind args/kwargs to the signature now, not at 3 a.m.; whether they fit."""
    if resolved.signature is None:
        return True
    args, kwargs = arguments
    try:
        resolved.signature.bind(*args, **kwargs)
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
        scope.add(where, message, key=len(path) > 1, job_id=job_id, field=str(path[0]))
        return False
    return True
