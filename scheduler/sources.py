"""Manifest text -> plain data plus where each piece was written.

Only the parser sees the text, so only it can say where a value came from: this module
returns plain dicts and lists together with a position index that later layers ask for
line and column. Everything that can go wrong with the bytes themselves (size, encoding,
YAML/TOML syntax, unsafe tags, alias bombs, duplicate keys) becomes ``Problem`` data here.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scheduler.problems import Problem

MAX_MANIFEST_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 100_000

Segment = str | int
Position = tuple[int, int]
SourceKind = Literal["yaml", "toml"]

_START: Position = (1, 1)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_YAML_TAG_PREFIX = "tag:yaml.org,2002:"


class PositionIndex(Protocol):
    """Where the parts of a parsed document were written."""

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        """1-based (line, col) of the value at ``path``, or of its key when ``key`` is set.

        Segments the document lacks are skipped: the answer falls back to the nearest
        enclosing node, so a missing key points at the mapping that should hold it.
        """
        ...


@dataclass(frozen=True, slots=True)
class DuplicateKey:
    """A key written twice in one mapping; the last value wins, so this is an error."""

    path: tuple[Segment, ...]
    line: int
    col: int
    first_line: int

    @property
    def message(self) -> str:
        """The problem text, naming the key and where it was first written."""
        return f"duplicate key {self.path[-1]!r}; first defined at line {self.first_line}"


class ParsedSource(NamedTuple):
    """A parsed manifest: ``data`` is None when the file cannot be used at all."""

    data: dict[Any, Any] | None
    positions: PositionIndex
    problems: tuple[Problem, ...] = ()
    duplicate_keys: tuple[DuplicateKey, ...] = ()


class _NoPositions:
    """Position index of a document that did not parse: everything is at its start."""

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        return _START


NO_POSITIONS: PositionIndex = _NoPositions()


def parse_source(content: bytes, *, file: str, kind: SourceKind) -> ParsedSource:
    """Turn a manifest's bytes into data and positions; bad input becomes problems.

    Args:
        content: the file's bytes (read at most ``MAX_MANIFEST_BYTES + 1`` of them).
        file: the path as shown in problems.
        kind: ``"yaml"`` or ``"toml"``.
    """
    if len(content) > MAX_MANIFEST_BYTES:
        size = (
            "more than 1 MiB" if len(content) == MAX_MANIFEST_BYTES + 1 else f"{len(content)} bytes"
        )
        message = f"file is too large ({size}); manifests are limited to 1 MiB"
        return _failed(Problem(file, None, None, message))
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _failed(_encoding_problem(content, exc, file))
    if text.startswith("\ufeff"):
        text = text[1:]
    parsed = _parse_toml(text, file) if kind == "toml" else _parse_yaml(text, file)
    return _check_top_level(parsed, file, kind)


def _failed(problem: Problem) -> ParsedSource:
    return ParsedSource(None, NO_POSITIONS, (problem,))


def _encoding_problem(content: bytes, exc: UnicodeDecodeError, file: str) -> Problem:
    """Point at the first byte that is not UTF-8, counting columns in characters."""
    line_start = content.rfind(b"\n", 0, exc.start) + 1
    line = content.count(b"\n", 0, exc.start) + 1
    col = len(content[line_start : exc.start].decode("utf-8", errors="replace")) + 1
    byte = content[exc.start : exc.start + 1].hex()
    return Problem(file, line, col, f"file is not valid UTF-8 (byte 0x{byte}); save it as UTF-8")


_SHAPES = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def _check_top_level(parsed: ParsedSource, file: str, kind: SourceKind) -> ParsedSource:
    """A manifest is one mapping: refuse empty files and other shapes."""
    if parsed.problems and parsed.data is None:
        return parsed
    data: object = parsed.data
    if data is None or data == {}:
        message = "empty manifest; expected a job mapping or a 'jobs:' list"
        return ParsedSource(None, parsed.positions, (Problem(file, 1, 1, message),))
    if not isinstance(data, dict):
        line, col = parsed.positions.locate(())
        shape = _SHAPES.get(type(data), type(data).__name__)
        message = f"expected a mapping at the top level (one job, or 'jobs:'), got {shape}"
        return ParsedSource(None, parsed.positions, (Problem(file, line, col, message),))
    return parsed


# --- YAML -------------------------------------------------------------------------------


def _mark_position(mark: Any) -> Position:
    return (mark.line + 1, mark.column + 1)


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
            return _START
        current = self._root
        position = _mark_position(self._root_node.start_mark)
        last = len(path) - 1
        for index, segment in enumerate(path):
            entry = self._nodes.get(id(current))
            found = None if entry is None else _child_nodes(entry[1], segment)
            if found is None:
                break
            key_node, value_node = found
            chosen = key_node if key and index == last and key_node is not None else value_node
            position = _mark_position(chosen.start_mark)
            current = _follow(current, (segment,))
        return position


def _node_positions(text: str) -> _NodePositions:
    """Re-parse text that already parsed cleanly, this time keeping every node."""
    loader = _PositionLoader(text, keep_nodes=True)
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


class _PositionLoader(yaml.CSafeLoader):
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

    def build(self, node: Node) -> Any:
        """Plain data for ``node``; aliases were bounded before this runs."""
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        if tag == _MAP_TAG and isinstance(node, MappingNode) and not self._has_merge(node):
            return self._build_mapping(node)
        if tag == _SEQ_TAG and isinstance(node, SequenceNode):
            sequence = [self.build(child) for child in node.value]
            self._remember(sequence, node)
            return sequence
        return self._build_other(node, tag)

    def _build_other(self, node: Node, tag: str) -> Any:
        """Common plain scalars directly; anything else through PyYAML's own constructors."""
        value = node.value
        if tag == _INT_TAG and value.isdigit() and value.isascii() and value[0] != "0":
            return int(value)  # plain decimal; PyYAML handles 0-prefixed octal, 0x, 1_000, 1:30
        if tag == _BOOL_TAG and isinstance(value, str) and value.lower() in self.bool_values:
            return self.bool_values[value.lower()]
        if tag == _NULL_TAG:
            return None
        try:
            return self.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise
        except Exception as exc:  # PyYAML's own crash on e.g. ``!!int abc``, ``!!timestamp x``
            problem = f"cannot read {value!r} as {tag.removeprefix(_YAML_TAG_PREFIX)}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from exc

    def _has_merge(self, node: MappingNode) -> bool:
        return self.may_merge and any(key.tag == _MERGE_TAG for key, _ in node.value)

    def _build_mapping(self, node: MappingNode) -> dict[Any, Any]:
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR_TAG else self._key(node, key_node)
            mapping[key] = self.build(value_node)
        self._remember(mapping, node)
        if len(mapping) < len(node.value):
            self._record_duplicates(mapping, node.value)
        return mapping

    def _key(self, node: MappingNode, key_node: Node) -> Any:
        key = self.build(key_node)
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

    def construct_refused(self, node: Node) -> None:
        """Record a tag that is not plain data (``!!python/...``, ``!custom``) and go on."""
        if node.tag == _MERGE_TAG and isinstance(node, ScalarNode):
            return node.value  # type: ignore[no-any-return]
        self.refused_tags.append((node.tag, node.start_mark))
        return None


_RESOLVED_TAGS: dict[tuple[str, tuple[bool, bool]], str] = {}
_RESOLVE_CACHE_SIZE = 50_000
_RESOLVE_CACHE_MAX_LENGTH = 64

_PositionLoader.add_constructor(_MAP_TAG, _PositionLoader.construct_position_map)
_PositionLoader.add_constructor(_SEQ_TAG, _PositionLoader.construct_position_seq)
_PositionLoader.add_constructor(None, _PositionLoader.construct_refused)


def _parse_yaml(text: str, file: str) -> ParsedSource:
    """Compose with libyaml, refuse alias bombs, build, then report what was recorded."""
    loader = _PositionLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedSource(None, NO_POSITIONS)
        if "&" in text:
            bomb = _alias_problem(node, file)
            if bomb is not None:
                return _failed(bomb)
        data = loader.build(node)
    except yaml.MarkedYAMLError as exc:
        return _failed(_yaml_error_problem(exc, text, file))
    except yaml.YAMLError as exc:
        return _failed(_reader_error_problem(exc, text, file))
    except RecursionError:
        return _failed(Problem(file, None, None, "YAML is nested too deeply"))
    finally:
        loader.dispose()
    if loader.refused_tags:
        refused = tuple(_tag_problem(tag, mark, file) for tag, mark in loader.refused_tags)
        return ParsedSource(None, YamlPositions(text, data, {}), refused)
    if loader.duplicates:
        # A value overwritten by a duplicate key is garbage now: its id may be reused, so
        # this file's positions come from the full re-parse only.
        duplicates = _duplicate_keys(data, loader)
        return ParsedSource(data, YamlPositions(text, data, {}), (), duplicates)
    return ParsedSource(data, YamlPositions(text, data, loader.starts))


def _tag_problem(tag: str, mark: Any, file: str) -> Problem:
    shown = "!!" + tag[len(_YAML_TAG_PREFIX) :] if tag.startswith(_YAML_TAG_PREFIX) else tag
    kind = "unsafe" if "python/" in tag else "unknown"
    line, col = _mark_position(mark)
    message = f"{kind} YAML tag {shown!r} is not allowed; use plain YAML data"
    return Problem(file, line, col, message)


def _yaml_error_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """Relabel a libyaml error with our path, in our words for the known traps."""
    mark = exc.problem_mark or exc.context_mark
    if exc.context == "expected a single document in the stream" and mark is not None:
        message = "expected one YAML document per file, found a second one ('---')"
        return Problem(file, *_mark_position(mark), message)
    trap = _unquoted_value_trap(exc, text)
    if trap is not None:
        return Problem(file, *trap)
    line, col = _mark_position(mark) if mark is not None else (None, None)
    context = exc.context
    if context and exc.context_mark is not None:
        start = _mark_position(exc.context_mark)
        if start != (line, col):
            context += f" (from line {start[0]}, column {start[1]})"
    label = (
        "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    )
    message = f"{label}: " + ", ".join(part for part in (context, exc.problem) if part)
    return Problem(file, line, col, message)


def _unquoted_value_trap(exc: yaml.MarkedYAMLError, text: str) -> tuple[int, int, str] | None:
    """An unquoted ``*/5 * * * *`` reads as a YAML alias and ``@daily`` starts with a
    reserved character: point at the value and say how to write it instead."""
    alias = "a value starting with '*' is read as a YAML alias"
    if exc.context == "while scanning an alias" and exc.context_mark is not None:
        mark, reason = exc.context_mark, alias
    elif exc.problem == "found undefined alias" and exc.problem_mark is not None:
        mark, reason = exc.problem_mark, alias + " (and there is no such anchor)"
    elif "cannot start any token" in (exc.problem or "") and exc.problem_mark is not None:
        mark = exc.problem_mark
        character = text[mark.index : mark.index + 1]
        if character not in ("@", "`"):
            return None
        reason = f"a value cannot start with {character!r} unless it is quoted"
    else:
        return None
    line, col = _mark_position(mark)
    return line, col, f"YAML syntax error: {reason}{_quote_hint(text, line - 1)}"


_KEY_VALUE_LINE = re.compile(r"^\s*(?:-\s+)?([\w.-]+):\s+(.*?)\s*(?:\s#.*)?$")
_CRON_LIKE = re.compile(r"^(@\w+|(\S+\s+){4,5}\S+)$")


def _quote_hint(text: str, line_index: int) -> str:
    """An unquoted ``*/5 * * * *`` reads as a YAML alias and ``@daily`` as a reserved
    character: say how to write it instead."""
    lines = text.splitlines()
    match = _KEY_VALUE_LINE.match(lines[line_index]) if line_index < len(lines) else None
    if match is None:
        return ""
    key, value = match.groups()
    what = (
        "the cron expression"
        if key == "cron_expression" or _CRON_LIKE.match(value)
        else "the value"
    )
    return f'; quote {what}: {key}: "{value}"'


def _reader_error_problem(exc: yaml.YAMLError, text: str, file: str) -> Problem:
    """Reader errors (control characters) carry a character offset instead of a mark."""
    offset = getattr(exc, "position", None)
    if not isinstance(offset, int):
        return Problem(file, None, None, f"YAML error: {exc}")
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    reason = getattr(exc, "reason", "unacceptable character")
    return Problem(file, line, col, f"YAML syntax error: {reason}")


def _alias_problem(root: Node, file: str) -> Problem | None:
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
    line, col = _mark_position(node.start_mark)
    return Problem(file, line, col, f"refused: YAML aliases {what}")


def _duplicate_keys(data: object, loader: _PositionLoader) -> tuple[DuplicateKey, ...]:
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


# --- TOML -------------------------------------------------------------------------------

_TOML_ERROR = re.compile(
    r"^(?P<message>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$", re.S
)


def _parse_toml(text: str, file: str) -> ParsedSource:
    """Parse with tomllib; positions come from a separate scan of the text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return _failed(_toml_error_problem(str(exc), text, file))
    return ParsedSource(data, TomlPositions(text))


def _toml_error_problem(error: str, text: str, file: str) -> Problem:
    """tomllib (3.11) puts the position only in the message: parse it back out."""
    match = _TOML_ERROR.match(error)
    if match is None:
        return Problem(file, None, None, f"TOML syntax error: {error}")
    if match.group("line") is not None:
        line, col = int(match.group("line")), int(match.group("col"))
    else:
        lines = text.split("\n")
        line, col = len(lines), len(lines[-1]) + 1
    message = f"TOML syntax error: {match.group('message')}"
    line_text = text.split("\n")[line - 1] if line <= text.count("\n") + 1 else ""
    if re.match(r"\s*cron_expression\s*=\s*[^\s\"']", line_text):
        message += "; quote the cron expression"
    return Problem(file, line, col, message)


_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_DOTTED = rf"{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*"
_TOML_ARRAY_HEADER = re.compile(rf"([ \t]*)\[\[[ \t]*({_TOML_DOTTED})[ \t]*\]\]")
_TOML_TABLE_HEADER = re.compile(rf"([ \t]*)\[[ \t]*({_TOML_DOTTED})[ \t]*\]")
_TOML_ASSIGNMENT = re.compile(rf"([ \t]*)({_TOML_DOTTED})[ \t]*=[ \t]*")
_TOML_KEY_PART = re.compile(_TOML_KEY)
_TOML_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'[^']*'""")


def _toml_segments(dotted: str) -> list[str]:
    parts = _TOML_KEY_PART.findall(dotted)
    return [part[1:-1] if part[:1] in "\"'" else part for part in parts]


def _bracket_depth(value: str) -> int:
    """Open brackets left on a line of TOML value text (strings and comments ignored)."""
    code = _TOML_STRING.sub('""', value).split("#", 1)[0]
    return code.count("[") + code.count("{") - code.count("]") - code.count("}")


class TomlPositions:
    """Positions of a TOML document, found by scanning its lines.

    tomllib keeps no positions, so this scan reads table headers (``[defaults]``,
    ``[[jobs]]``, ``[jobs.kwargs]``) and ``key = value`` lines, skipping the insides of
    multi-line strings and arrays. It runs only on text tomllib accepted, and values inside
    inline tables or arrays fall back to the position of the key holding them.
    """

    __slots__ = ("_array_counts", "_keys", "_tables")

    def __init__(self, text: str) -> None:
        self._keys: dict[tuple[Segment, ...], tuple[Position, Position]] = {}
        self._tables: dict[tuple[Segment, ...], Position] = {}
        self._array_counts: dict[tuple[Segment, ...], int] = {}
        self._scan(text)

    def locate(self, path: Sequence[Segment], *, key: bool = False) -> Position:
        """See ``PositionIndex.locate``."""
        full = tuple(path)
        for end in range(len(full), -1, -1):
            prefix = full[:end]
            entry = self._keys.get(prefix)
            if entry is not None:
                return entry[0] if key and end == len(full) else entry[1]
            header = self._tables.get(prefix)
            if header is not None:
                return header
        return _START

    def _scan(self, text: str) -> None:
        table: tuple[Segment, ...] = ()
        closing: str | None = None
        depth = 0
        for number, line in enumerate(text.split("\n"), start=1):
            if closing is not None:
                closing = None if closing in line else closing
                continue
            if depth > 0:
                depth += _bracket_depth(line)
                continue
            assignment = _TOML_ASSIGNMENT.match(line)
            if assignment is not None:
                value = line[assignment.end() :]
                self._record_key(table, assignment, number)
                closing, depth = _continuation(value)
            else:
                table = self._header(line, number, table)

    def _record_key(self, table: tuple[Segment, ...], match: re.Match[str], number: int) -> None:
        segments = _toml_segments(match.group(2))
        key_position = (number, len(match.group(1)) + 1)
        value_position = (number, match.end() + 1)
        if not self._keys and not table:
            self._tables.setdefault((), key_position)
        for end in range(1, len(segments)):
            self._keys.setdefault((*table, *segments[:end]), (key_position, key_position))
        self._keys[(*table, *segments)] = (key_position, value_position)

    def _header(self, line: str, number: int, table: tuple[Segment, ...]) -> tuple[Segment, ...]:
        """Follow ``[table]`` and ``[[array]]`` headers; anything else keeps the table."""
        array = _TOML_ARRAY_HEADER.match(line)
        if array is not None:
            segments = _toml_segments(array.group(2))
            name = (*self._resolve(segments[:-1]), segments[-1])
            count = self._array_counts.get(name, 0)
            self._array_counts[name] = count + 1
            position = (number, len(array.group(1)) + 1)
            self._tables.setdefault(name, position)
            self._tables[(*name, count)] = position
            return (*name, count)
        header = _TOML_TABLE_HEADER.match(line)
        if header is None:
            return table
        path = self._resolve(_toml_segments(header.group(2)))
        self._tables[path] = (number, len(header.group(1)) + 1)
        return path

    def _resolve(self, segments: list[str]) -> tuple[Segment, ...]:
        """Insert the current index after each segment naming an array of tables."""
        resolved: list[Segment] = []
        for segment in segments:
            resolved.append(segment)
            count = self._array_counts.get(tuple(resolved))
            if count is not None:
                resolved.append(count - 1)
        return tuple(resolved)


def _continuation(value: str) -> tuple[str | None, int]:
    """Whether a value goes on past its line: an open multi-line string, or open brackets."""
    for delimiter in ('"""', "'''"):
        if value.startswith(delimiter) and delimiter not in value[3:]:
            return delimiter, 0
    if value[:1] in "[{":
        return None, max(_bracket_depth(value), 0)
    return None, 0
