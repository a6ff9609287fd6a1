"""Alias bombs: refuse documents whose aliases expand too far, or refer to themselves."""

from __future__ import annotations

from yaml.nodes import MappingNode, Node, SequenceNode

from scheduler.problems import Problem
from scheduler.sources.yaml_loader import mark_position

__all__ = ["MAX_EXPANDED_NODES", "alias_problem"]

MAX_EXPANDED_NODES = 100_000


def alias_problem(root: Node, file: str) -> Problem | None:
    """Refuse documents whose aliases expand past ``MAX_EXPANDED_NODES`` nodes, or loop.

    Counts each distinct node once (memoized), so a billion-laughs file is refused after a
    few dozen steps rather than expanded.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        node_id = id(node)
        children = _node_children(node)
        if children_done:
            in_progress.discard(node_id)
            sizes[node_id] = 1 + sum(sizes[id(child)] for child in children)
            if sizes[node_id] > MAX_EXPANDED_NODES:
                return _bomb_problem(node, file, f"expand to more than {MAX_EXPANDED_NODES} nodes")
        elif node_id in in_progress:
            return _bomb_problem(node, file, "refer to themselves (recursive alias)")
        elif node_id not in sizes:
            in_progress.add(node_id)
            stack.append((node, True))
            stack.extend((child, False) for child in children)
    return None


def _node_children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _bomb_problem(node: Node, file: str, what: str) -> Problem:
    line, col = mark_position(node.start_mark)
    return Problem(file, line, col, f"refused: YAML aliases {what}")
