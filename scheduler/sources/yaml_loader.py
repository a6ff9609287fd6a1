"""libyaml's safe loader, extended to record positions, duplicate keys and refused tags.

Only plain YAML data is built: other tags (``!!python/...``, ``!custom``) are recorded,
and ``yaml_source`` refuses them. Positions are recorded here, while the nodes still exist;
``yaml_positions`` answers questions about them.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scheduler.problems import shorten
from scheduler.sources.limits import (
    INT_TOO_LARGE,
    MAX_INT_DIGITS,
    MAX_NESTING,
    NESTED_TOO_DEEP,
    is_int_too_large,
)
from scheduler.sources.positions import Position

__all__ = ["YAML_TAG_PREFIX", "LimitExceeded", "PositionLoader", "mark_position"]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
YAML_TAG_PREFIX = "tag:yaml.org,2002:"


class LimitExceeded(yaml.YAMLError):
    """A value past one of the bounds in ``limits`` (nesting, integer size), at ``node``."""

    def __init__(self, message: str, node: Node) -> None:
        self.message = message
        self.node = node
        super().__init__(message)


def mark_position(mark: Any) -> Position:
    """A libyaml mark (0-based) as a 1-based (line, col)."""
    return (mark.line + 1, mark.column + 1)


class PositionLoader(yaml.CSafeLoader):
    """libyaml's safe loader that also records positions, duplicates and refused tags.

    libyaml composes in C. ``build`` then makes strings, mappings and lists (nearly all of
    a manifest) straight from the nodes, which is faster than PyYAML's generic constructor;
    any other tag, and mappings with merge keys, go through that constructor, so the data
    is what ``yaml.safe_load`` gives (except that aliases become copies). Each container's
    start (or, with ``keep_nodes``, its node) is recorded by ``id()``, and duplicates are
    looked for only when a mapping came out shorter than its key list.
    """

    def __init__(self, text: str, *, keep_nodes: bool = False) -> None:
        super().__init__(text)
        self.keep_nodes = keep_nodes
        self.starts: dict[int, Position] = {}
        self.nodes: dict[int, tuple[object, Node]] = {}
        self.duplicates: list[tuple[dict[Any, Any], Any, Node, Node]] = []
        self.refused_tags: list[tuple[str, Any]] = []
        self.may_merge = "<<" in text

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """PyYAML's tag resolution (a regex per candidate type), memoized for short scalars.

        libyaml calls this for every scalar; manifests repeat the same keys and values.
        """
        # types-PyYAML leaves BaseResolver.resolve untyped.
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        cache_key = (value, implicit)
        tag = _RESOLVED_TAGS.get(cache_key)
        if tag is not None:
            return tag
        tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
        if len(value) <= _RESOLVE_CACHE_MAX_LENGTH:
            if len(_RESOLVED_TAGS) >= _RESOLVE_CACHE_SIZE:
                _RESOLVED_TAGS.clear()
            _RESOLVED_TAGS[cache_key] = tag
        return tag

    def build(self, node: Node, depth: int = 0) -> Any:
        """Plain data for ``node``; aliases were bounded before this runs.

        Containers deeper than ``MAX_NESTING`` are refused at the node that goes too deep,
        before Python's recursion limit would end the build without a position.
        """
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if depth >= MAX_NESTING and isinstance(node, MappingNode | SequenceNode):
            raise LimitExceeded(NESTED_TOO_DEEP, node)
        if tag == _MAP_TAG and isinstance(node, MappingNode) and not self._has_merge(node):
            return self._build_mapping(node, depth + 1)
        if tag == _SEQ_TAG and isinstance(node, SequenceNode):
            sequence = [self.build(child, depth + 1) for child in node.value]
            self._remember(sequence, node)
            return sequence
        return self._build_other(node, tag)

    def _build_other(self, node: Node, tag: str) -> Any:
        """Common plain scalars directly; anything else through PyYAML's own constructors."""
        value = node.value
        if tag == _INT_TAG and isinstance(value, str) and len(value) > MAX_INT_DIGITS:
            raise LimitExceeded(INT_TOO_LARGE, node)  # before int() refuses it
        if tag == _INT_TAG and value.isdigit() and value.isascii() and value[0] != "0":
            return int(value)  # plain decimal; PyYAML handles 0-prefixed octal, 0x, 1_000, 1:30
        if tag == _BOOL_TAG and isinstance(value, str):
            return self.construct_strict_bool(node)
        if tag == _NULL_TAG:
            return None
        try:
            built = self.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's own crash on e.g. ``!!int abc``, ``!!timestamp x``
            problem = f"cannot read {shorten(value)} as {tag.removeprefix(YAML_TAG_PREFIX)}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc
        if isinstance(built, int) and is_int_too_large(built):  # 0x/0o/1_000 forms
            raise LimitExceeded(INT_TOO_LARGE, node)
        return built

    def _has_merge(self, node: MappingNode) -> bool:
        return self.may_merge and any(key.tag == _MERGE_TAG for key, _ in node.value)

    def _build_mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR_TAG else self._key(node, key_node, depth)
            mapping[key] = self.build(value_node, depth)
        self._remember(mapping, node)
        if len(mapping) < len(node.value):
            self._record_duplicates(mapping, node.value)
        return mapping

    def _key(self, node: MappingNode, key_node: Node, depth: int) -> Any:
        key = self.build(key_node, depth)
        try:
            hash(key)
        except TypeError as exc:
            context, problem = "while constructing a mapping", "found unhashable key"
            raise yaml.constructor.ConstructorError(
                context, node.start_mark, problem, key_node.start_mark
            ) from exc
        return key

    def _remember(self, data: object, node: Node) -> None:
        if self.keep_nodes:
            self.nodes[id(data)] = (data, node)
        else:
            mark = node.start_mark
            self.starts[id(data)] = (mark.line + 1, mark.column + 1)

    def construct_position_map(self, node: MappingNode) -> Any:
        """PyYAML's map constructor plus recording, for mappings with merge keys."""
        data: dict[Any, Any] = {}
        self._remember(data, node)
        yield data
        explicit = len(node.value)
        if self.may_merge:
            explicit -= sum(1 for key_node, _ in node.value if key_node.tag == _MERGE_TAG)
        data.update(self.construct_mapping(node))
        if len(data) < len(node.value):
            self._record_duplicates(data, node.value[len(node.value) - explicit :])

    def _record_duplicates(self, data: dict[Any, Any], pairs: list[tuple[Node, Node]]) -> None:
        """Find keys written twice among the mapping's own (not merged-in) pairs."""
        first_nodes: dict[Any, Node] = {}
        for key_node, _ in pairs:
            key = self.construct_object(key_node)
            first = first_nodes.setdefault(key, key_node)
            if first is not key_node:
                self.duplicates.append((data, key, key_node, first))

    def construct_position_seq(self, node: SequenceNode) -> Any:
        """PyYAML's sequence constructor plus recording, inside mappings with merge keys."""
        data: list[Any] = []
        self._remember(data, node)
        yield data
        data.extend(self.construct_sequence(node))

    def construct_strict_bool(self, node: Node) -> Any:
        """``true``/``false`` only: YAML 1.1's ``yes``, ``no``, ``on``, ``off`` stay strings,
        as YAML 1.2 reads them, so a strict boolean field refuses them by name."""
        value = node.value
        folded = value.lower() if isinstance(value, str) else value
        if folded in _BOOLEANS:
            return _BOOLEANS[folded]
        if folded in _YAML11_BOOLEANS:
            return value
        problem = f"cannot read {shorten(value)} as bool"  # an explicit ``!!bool maybe``
        raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark)

    def construct_refused(self, node: Node) -> None:
        """Record a tag that is not plain data (``!!python/...``, ``!custom``) and go on."""
        if node.tag == _MERGE_TAG and isinstance(node, ScalarNode):
            return node.value  # type: ignore[no-any-return]
        self.refused_tags.append((node.tag, node.start_mark))
        return None


_BOOLEANS = {"true": True, "false": False}
_YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off"})
_RESOLVED_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVE_CACHE_SIZE = 50_000
_RESOLVE_CACHE_MAX_LENGTH = 64

PositionLoader.add_constructor(_MAP_TAG, PositionLoader.construct_position_map)
PositionLoader.add_constructor(_SEQ_TAG, PositionLoader.construct_position_seq)
PositionLoader.add_constructor(_BOOL_TAG, PositionLoader.construct_strict_bool)
PositionLoader.add_constructor(None, PositionLoader.construct_refused)
