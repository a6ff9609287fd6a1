"""YAML text -> data with libyaml, positions, and every problem the text itself has.

Parsing composes with libyaml, refuses alias bombs (``yaml_aliases``), then builds plain
data while recording positions, duplicate keys and refused tags (``yaml_loader``). Syntax
errors keep their mark, relabelled in our words (``yaml_errors``).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from scheduler.problems import Problem
from scheduler.sources.context import context_of_path, yaml_context_of_node
from scheduler.sources.limits import MAX_NESTING, NESTED_TOO_DEEP, first_excess
from scheduler.sources.parsed import DuplicateKey, ParsedSource, failed
from scheduler.sources.positions import NO_POSITIONS, Segment
from scheduler.sources.yaml_aliases import alias_problem
from scheduler.sources.yaml_errors import reader_error_problem, tag_problem, yaml_error_problem
from scheduler.sources.yaml_loader import LimitExceeded, PositionLoader, mark_position
from scheduler.sources.yaml_positions import YamlPositions

__all__ = ["parse_yaml"]


def parse_yaml(text: str, file: str) -> ParsedSource:
    """Compose with libyaml, refuse alias bombs, build, then report what was recorded."""
    loader = PositionLoader(text)
    node: Node | None = None
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedSource(None, NO_POSITIONS)
        if "&" in text:
            bomb = alias_problem(node, file)
            if bomb is not None:
                return failed(bomb)
        data = loader.build(node)
    except LimitExceeded as exc:
        return failed(_limit_problem(file, node, exc.node, exc.message))
    except yaml.MarkedYAMLError as exc:
        return failed(yaml_error_problem(exc, text, file))
    except yaml.YAMLError as exc:
        return failed(reader_error_problem(exc, text, file))
    except RecursionError:  # PyYAML's own constructor, used for merge keys, recurses too
        return failed(_too_deep_problem(file, node))
    finally:
        loader.dispose()
    return _recorded(loader, data, text, file)


def _recorded(loader: PositionLoader, data: Any, text: str, file: str) -> ParsedSource:
    """The built data with what the loader recorded: excesses, refused tags, duplicates."""
    if loader.may_merge:  # merged mappings are built by PyYAML, past our own checks
        excess = first_excess(data)
        if excess is not None:
            path, message = excess
            line, col = YamlPositions(text, data, {}).locate(path)
            return failed(Problem(file, line, col, message, *context_of_path(data, path)))
    if loader.refused_tags:
        refused = tuple(tag_problem(tag, mark, file) for tag, mark in loader.refused_tags)
        return ParsedSource(None, YamlPositions(text, data, {}), refused)
    if loader.duplicates:
        # A value overwritten by a duplicate key is garbage now: its id may be reused, so
        # this file's positions come from the full re-parse only.
        duplicates = _duplicate_keys(data, loader)
        return ParsedSource(data, YamlPositions(text, data, {}), (), duplicates)
    return ParsedSource(data, YamlPositions(text, data, loader.starts))


def _too_deep_problem(file: str, root: Node | None) -> Problem:
    deep = _deep_node(root)
    if deep is None:
        return Problem(file, 1, 1, NESTED_TOO_DEEP)
    return _limit_problem(file, root, deep, NESTED_TOO_DEEP)


def _limit_problem(file: str, root: Node | None, at: Node, message: str) -> Problem:
    """A bound exceeded at node ``at``, with the job and field it is in."""
    line, col = mark_position(at.start_mark)
    return Problem(file, line, col, message, *yaml_context_of_node(root, at))


def _deep_node(root: Node | None) -> Node | None:
    """The first list or mapping nested past ``MAX_NESTING`` (found iteratively)."""
    stack: list[tuple[Node, int]] = [(root, 0)] if root is not None else []
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, MappingNode | SequenceNode):
            continue
        if depth >= MAX_NESTING:
            return node
        children = (
            [part for pair in node.value for part in pair]
            if isinstance(node, MappingNode)
            else node.value
        )
        stack.extend((child, depth + 1) for child in reversed(children))
    return None


def _duplicate_keys(data: object, loader: PositionLoader) -> tuple[DuplicateKey, ...]:
    """Turn recorded duplicates into path-addressed records, in file order."""
    paths = _paths_of({id(mapping) for mapping, *_ in loader.duplicates}, data)
    found = [
        DuplicateKey(
            (*paths.get(id(mapping), ()), key),
            key_node.start_mark.line + 1,
            key_node.start_mark.column + 1,
            first_node.start_mark.line + 1,
        )
        for mapping, key, key_node, first_node in loader.duplicates
    ]
    return tuple(sorted(found, key=lambda duplicate: (duplicate.line, duplicate.col)))


def _paths_of(targets: set[int], root: object) -> dict[int, tuple[Segment, ...]]:
    """Paths from the root to the containers whose ids are in ``targets`` (breadth first)."""
    paths: dict[int, tuple[Segment, ...]] = {}
    seen: set[int] = set()
    queue: list[tuple[object, tuple[Segment, ...]]] = [(root, ())]
    for current, path in queue:
        if len(paths) == len(targets):
            break
        if id(current) in seen:
            continue
        seen.add(id(current))
        if id(current) in targets:
            paths[id(current)] = path
        if isinstance(current, dict):
            queue.extend((value, (*path, key)) for key, value in current.items())
        elif isinstance(current, list):
            queue.extend((value, (*path, index)) for index, value in enumerate(current))
    return paths
