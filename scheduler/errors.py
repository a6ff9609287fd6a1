"""One exception tree, for API misuse and bugs; bad input is reported as ``Problem`` data."""

from __future__ import annotations

from scheduler.problems import Problem, render_problem


class SchedulerError(Exception):
    """Base class of every exception this package raises on purpose."""


class JobNotFound(SchedulerError):
    """A job id named by a caller is not known to the scheduler."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"no job with id {job_id!r}")


class DuplicateJob(SchedulerError):
    """A job id is registered twice."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        super().__init__(f"a job with id {job_id!r} is already registered")


class InvalidCronExpression(SchedulerError, ValueError):
    """A cron expression given through the Python API does not parse.

    Subclasses ``ValueError`` so pydantic validators can let it through as a field error.
    """

    def __init__(self, expression: str, reason: str) -> None:
        self.expression = expression
        self.reason = reason
        super().__init__(reason)


class InvalidManifests(SchedulerError):
    """Manifests did not validate where the caller asked for a valid set.

    The message lists every problem with its location: it is often all a user sees (an app
    server that failed to start prints the exception and nothing else).
    """

    def __init__(self, problems: list[object]) -> None:
        self.problems = problems
        lines = "".join(
            f"\n  {render_problem(problem) if isinstance(problem, Problem) else problem}"
            for problem in problems
        )
        super().__init__(f"{len(problems)} problem(s) in the manifests:{lines}")


class InvalidSettings(SchedulerError):
    """One or more settings (environment variables, ``.env``) have values that cannot work.

    ``messages`` holds one ``VARIABLE: what is wrong`` line per bad setting.
    """

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))
