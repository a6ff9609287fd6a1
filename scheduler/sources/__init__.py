"""Manifest text -> plain data plus where each piece was written.

Only the parser sees the text, so only it can say where a value came from: this package
returns plain dicts and lists together with a position index that later layers ask for
line and column. Everything that can go wrong with the bytes themselves (size, encoding,
YAML/TOML syntax, unsafe tags, alias bombs, duplicate keys, huge integers, deep nesting)
becomes ``Problem`` data here.

The package re-exports its public names; its modules, each one concern, are ``parse``
(``parse_source``: bytes -> ``ParsedSource``, top-level shape), ``text`` (size limit and
UTF-8), ``parsed`` (the result records), ``positions`` (the ``PositionIndex`` protocol),
``yaml_source`` (YAML parsing and its duplicate keys), ``yaml_loader`` (libyaml's loader
recording positions, duplicates and refused tags), ``yaml_positions``, ``yaml_aliases``
(alias limits), ``yaml_errors`` (syntax errors and tags in our words), ``toml_source``
(tomllib), ``toml_positions`` (positions scanned from TOML text) and ``limits`` (bounds on
integer size and nesting depth that keep later steps from crashing).
"""

from __future__ import annotations

from scheduler.sources.parse import parse_source
from scheduler.sources.parsed import DuplicateKey, ParsedSource
from scheduler.sources.positions import (
    NO_POSITIONS,
    Position,
    PositionIndex,
    Segment,
    SourceKind,
)
from scheduler.sources.text import MAX_MANIFEST_BYTES
from scheduler.sources.toml_positions import TomlPositions
from scheduler.sources.yaml_aliases import MAX_EXPANDED_NODES
from scheduler.sources.yaml_positions import YamlPositions

__all__ = [
    "MAX_EXPANDED_NODES",
    "MAX_MANIFEST_BYTES",
    "NO_POSITIONS",
    "DuplicateKey",
    "ParsedSource",
    "Position",
    "PositionIndex",
    "Segment",
    "SourceKind",
    "TomlPositions",
    "YamlPositions",
    "parse_source",
]
