"""Which job and field a position in a manifest belongs to, for problems found while parsing.

A value past a bound (a huge integer, too deep a nesting) stops the parse, so the loader
never sees the job it was in; this names the job (its ``job_id``, when written as a plain
string) and the top-level field from the document's shape: one job mapping, or ``jobs:``
with optional ``defaults:``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scheduler.sources.positions import Segment

__all__ = ["JobContext", "context_of_path", "toml_context_at_line", "yaml_context_of_node"]

JobContext = tuple[str | None, str | None]
"""``(job_id, field)``; either may be unknown."""

NO_CONTEXT: JobContext = (None, None)


def context_of_path(root: object, path: Sequence[Segment]) -> JobContext:
    """The job and field that ``path`` (into plain data) points into."""
    if not path:
        return NO_CONTEXT
    if path[0] == "defaults":
        return None, str(path[1]) if len(path) > 1 else "defaults"
    if path[0] == "jobs" and len(path) > 1 and isinstance(root, dict):
        jobs = root.get("jobs")
        index = path[1]
        job = jobs[index] if isinstance(jobs, list) and isinstance(index, int) else None
        field = str(path[2]) if len(path) > 2 else None
        job_id = job.get("job_id") if isinstance(job, dict) else None
        return (job_id if isinstance(job_id, str) else None), field
    job_id = root.get("job_id") if isinstance(root, dict) else None
    return (job_id if isinstance(job_id, str) else None), str(path[0])


def yaml_context_of_node(root: Node | None, target: Node) -> JobContext:
    """The job and field of ``target``, found by walking the composed document (iteratively)."""
    path = _node_path(root, target) if root is not None else None
    if root is None or not path:
        return NO_CONTEXT
    segments = [segment for segment, _ in path]
    job_node = root
    field_index = 0
    if segments[0] == "jobs" and len(path) > 1:
        job_node, field_index = path[1][1], 2
    elif segments[0] == "defaults":
        return None, str(segments[1]) if len(segments) > 1 else "defaults"
    field = str(segments[field_index]) if len(segments) > field_index else None
    return _scalar_child(job_node, "job_id"), field


def _node_path(root: Node, target: Node) -> list[tuple[Segment, Node]] | None:
    """``[(segment, node), ...]`` from ``root`` down to ``target``; None when not found."""
    stack: list[tuple[Node, list[tuple[Segment, Node]]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, MappingNode):
            for key, value in node.value:
                segment = key.value if isinstance(key, ScalarNode) else "?"
                stack.append((value, [*path, (segment, value)]))
        elif isinstance(node, SequenceNode):
            stack.extend((child, [*path, (index, child)]) for index, child in enumerate(node.value))
    return None


def _scalar_child(node: Node, key: str) -> str | None:
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return value_node.value if isinstance(value_node, ScalarNode) else None
    return None


_TOML_KEY_AT = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")
_TOML_JOB_ID = re.compile(r"""\s*job_id\s*=\s*["']([^"'\n]*)["']""")
_TOML_HEADER = re.compile(r"\s*\[")


def toml_context_at_line(text: str, line: int) -> JobContext:
    """For TOML that did not parse: the key written on ``line`` and the ``job_id`` of the
    table it sits in, read from the text (tomllib gives no positions)."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return NO_CONTEXT
    key = _TOML_KEY_AT.match(lines[line - 1])
    field = key.group(1) if key else None
    start = line - 1
    while start > 0 and not _TOML_HEADER.match(lines[start]):
        start -= 1
    end = line
    while end < len(lines) and not _TOML_HEADER.match(lines[end]):
        end += 1
    for candidate in lines[start:end]:
        found = _TOML_JOB_ID.match(candidate)
        if found:
            return found.group(1), field
    return None, field
