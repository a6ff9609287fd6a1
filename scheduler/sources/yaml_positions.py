"""Positions in YAML text: container starts recorded while parsing, the rest on demand."""

from __future__ import annotations

from collections.abc import Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scheduler.sources.positions import START, Position, Segment
from scheduler.sources.yaml_loader import PositionLoader, mark_position

__all__ = ["YamlPositions"]


class YamlPositions:
    """Positions of a YAML document, in two tiers so valid files stay cheap.

    Parsing records only the start of each mapping and sequence (keyed by ``id()`` of the
    constructed object, which ``root`` keeps alive): enough for "where does this job
    start". Anything else (a key, a scalar value, a fallback) re-parses the kept text once
    with every node recorded. Keeping libyaml's node graphs for every file instead would
    make a 10,000-file load spend most of its time in the garbage collector.
    """

    __slots__ = ("_full", "_root", "_starts", "_text")

    def __init__(self, text: str, root: object, starts: dict[int, Position]) -> None:
        self._text = text
        self._root = root
        self._starts = starts
        self._full: _NodePositions | None = None

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        """See ``PositionIndex.locate``."""
        if not key:
            start = self._starts.get(id(_follow(self._root, path)))
            if start is not None:
                return start
        if self._full is None:
            self._full = _node_positions(self._text)
        return self._full.locate(path, key=key)


def _follow(root: object, path: Sequence[Segment]) -> object:
    """The object at ``path``, or None when a segment is missing."""
    current = root
    for segment in path:
        if isinstance(current, dict):
            current = current.get(segment)
        elif isinstance(current, list) and isinstance(segment, int) and 0 <= segment < len(current):
            current = current[segment]
        else:
            return None
    return current


class _NodePositions:
    """Every node of a document, for positions of keys, values and fallbacks."""

    __slots__ = ("_nodes", "_root", "_root_node")

    def __init__(
        self, root: object, root_node: Node | None, nodes: dict[int, tuple[object, Node]]
    ) -> None:
        self._root = root
        self._root_node = root_node
        self._nodes = nodes

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        if self._root_node is None:
            return START
        current = self._root
        position = mark_position(self._root_node.start_mark)
        last = len(path) - 1
        for index, segment in enumerate(path):
            entry = self._nodes.get(id(current))
            found = None if entry is None else _child_nodes(entry[1], segment)
            if found is None:
                break
            key_node, value_node = found
            chosen = key_node if key and index == last and key_node is not None else value_node
            position = mark_position(chosen.start_mark)
            current = _follow(current, (segment,))
        return position


def _node_positions(text: str) -> _NodePositions:
    """Re-parse text that already parsed cleanly, this time keeping every node."""
    loader = PositionLoader(text, keep_nodes=True)
    try:
        node = loader.get_single_node()
        data = loader.build(node) if node is not None else None
    finally:
        loader.dispose()
    return _NodePositions(data, node, loader.nodes)


def _child_nodes(node: Node, segment: Segment) -> tuple[Node | None, Node] | None:
    """The (key node, value node) of ``segment`` in a mapping or sequence node."""
    if isinstance(node, MappingNode):
        wanted = str(segment)
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, ScalarNode) and key_node.value == wanted:
                return key_node, value_node
        return None
    if (
        isinstance(node, SequenceNode)
        and isinstance(segment, int)
        and 0 <= segment < len(node.value)
    ):
        return None, node.value[segment]
    return None
