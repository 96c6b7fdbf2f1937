"""YAML text into plain Python data plus where every node of it came from.

Recipes are read with ruamel's round-trip loader because it remembers the line and
column of every key, value and list item; fusebook turns that tree into plain dicts,
lists and scalars (what pydantic and Jinja expect) and keeps the positions beside it in
a `SourceMap`, so any later error can point at `recipe.yaml:12:5`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from fusebook.errors import InputError, SourceLocation

#: A node's address in a document: mapping keys and list indices from the root.
NodePath = tuple[str | int, ...]

#: Refuse documents that expand (through YAML aliases) to more nodes than this.
MAX_NODES = 200_000


@dataclass
class SourceMap:
    """Positions of the nodes of one YAML file, by path.

    `values[path]` is where the node at `path` starts; `keys[path]` is where the mapping
    key that leads to it is written. `block_scalars` holds the paths of `|` and `>`
    strings, whose text starts on the line after their position.
    """

    file: str
    values: dict[NodePath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[NodePath, tuple[int, int]] = field(default_factory=dict)
    block_scalars: set[NodePath] = field(default_factory=set)
    #: How many nodes the document has with every alias expanded.
    nodes: int = 0

    def _loc(self, pos: tuple[int, int]) -> SourceLocation:
        return SourceLocation(self.file, pos[0], pos[1])

    def location(self, path: NodePath) -> SourceLocation:
        """Where the node at `path` is, or its nearest ancestor that has a position."""
        for n in range(len(path), -1, -1):
            pos = self.values.get(path[:n])
            if pos is not None:
                return self._loc(pos)
        return SourceLocation(self.file)

    def key_location(self, path: NodePath) -> SourceLocation:
        """Where the key leading to `path` is written (else the node itself)."""
        pos = self.keys.get(path)
        return self._loc(pos) if pos is not None else self.location(path)


def _mark(e: MarkedYAMLError, file: str) -> SourceLocation:
    mark = e.problem_mark or e.context_mark
    if mark is None:
        return SourceLocation(file)
    return SourceLocation(file, mark.line + 1, mark.column + 1)


def yaml_error(e: YAMLError, file: str) -> InputError:
    """A located InputError from a ruamel error, without quoting the file's text.

    ruamel's own message repeats the offending line (and, for duplicate keys, both
    values); recipes and inputs may hold data that must not be echoed, so only the
    problem and the place are kept.
    """
    if not isinstance(e, MarkedYAMLError):
        return InputError(f"not valid YAML: {e}", location=SourceLocation(file))
    problem = (e.problem or "not valid YAML").split(" with value ")[0]
    message = f"not valid YAML: {problem}"
    if e.context and e.context_mark is not None and e.problem_mark is not None:
        if (e.context_mark.line, e.context_mark.column) != (e.problem_mark.line, e.problem_mark.column):
            message += f" ({e.context} that starts at line {e.context_mark.line + 1})"
    hint = None
    if "duplicate key" in problem:
        hint = "each key may appear once in a mapping"
    elif "\t" in problem or "tab" in problem:
        hint = "indent YAML with spaces, not tabs"
    return InputError(message, location=_mark(e, file), hint=hint)


class _Converter:
    """Walks a ruamel round-trip tree into plain data, recording positions."""

    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.count = 0

    def fail(self, message: str, path: NodePath, hint: str | None = None) -> InputError:
        return InputError(message, location=self.smap.location(path), hint=hint)

    def convert(self, node: Any, path: NodePath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(f"the document has more than {MAX_NODES} nodes", (),
                            hint="YAML aliases may expand it; keep recipes small")
        tag = getattr(node, "tag", None)
        if isinstance(node, TaggedScalar) or (tag is not None and getattr(tag, "value", None)):
            raise self.fail("YAML tags (!name) are not allowed here", path,
                            hint="write plain YAML values")
        if isinstance(node, CommentedMap):
            return self._mapping(node, path)
        if isinstance(node, CommentedSeq):
            out_list = []
            for i, item in enumerate(node):
                pos = _lc(node, "item", i)
                if pos is not None:
                    self.smap.values[(*path, i)] = pos
                out_list.append(self.convert(item, (*path, i)))
            return out_list
        if isinstance(node, (LiteralScalarString, FoldedScalarString)):
            self.smap.block_scalars.add(path)
            return str(node)
        if isinstance(node, str):
            return str(node)
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        if isinstance(node, (datetime.date, datetime.datetime)):
            return node.isoformat()
        raise self.fail(f"a {type(node).__name__} value is not allowed here", path,
                        hint="use strings, numbers, true/false, lists and mappings")

    def _mapping(self, node: CommentedMap, path: NodePath) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key in node:
            if isinstance(key, (CommentedMap, CommentedSeq)) or (
                not isinstance(key, (str, int, bool)) and key is not None
            ):
                raise self.fail("mapping keys must be plain names", path)
            plain_key: str | int = key if isinstance(key, int) and not isinstance(key, bool) else str(key)
            child = (*path, plain_key)
            kpos = _lc(node, "key", key)
            vpos = _lc(node, "value", key)
            if kpos is not None:
                self.smap.keys[child] = kpos
            if vpos is not None:
                self.smap.values[child] = vpos
            elif kpos is not None:
                self.smap.values[child] = kpos
            out[plain_key] = self.convert(node[key], child)
        return out


def _lc(node: Any, kind: str, key: Any) -> tuple[int, int] | None:
    """1-based (line, column) of a key, value or item, if ruamel recorded it."""
    try:
        line, col = getattr(node.lc, kind)(key)
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if line is None:
        return None
    return line + 1, col + 1


def parse_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Plain data and positions from YAML `text` (InputError located in `file`)."""
    smap = SourceMap(file)
    yaml = YAML(typ="rt")
    try:
        root = yaml.load(text)
    except YAMLError as e:
        raise yaml_error(e, file) from None
    except RecursionError:
        raise InputError("the YAML is nested too deeply", location=SourceLocation(file)) from None
    if isinstance(root, (CommentedMap, CommentedSeq)):
        smap.values[()] = (root.lc.line + 1, root.lc.col + 1)
    else:
        smap.values[()] = (1, 1)
    converter = _Converter(smap)
    try:
        data = converter.convert(root, ())
    except RecursionError:
        raise InputError("the YAML is nested too deeply", location=SourceLocation(file)) from None
    smap.nodes = converter.count
    return data, smap


def count_nodes(value: Any, file: str, limit: int = MAX_NODES) -> int:
    """How many nodes `value` (as a YAML loader built it) has with aliases expanded.

    A loader shares an aliased node instead of copying it, so ten aliases of ten aliases
    (a "billion laughs") load in microseconds but expand to 10**9 nodes in anything that
    walks them: templates printing them, secret wrapping, the plan. Such data is refused
    here, once, with the file named; InputError past `limit` nodes.
    """
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            raise InputError(f"{file}: the data has more than {limit} values (with YAML aliases expanded)",
                             location=SourceLocation(file),
                             hint="YAML aliases (*name) may multiply a document; write the data out plainly")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set)):
            stack.extend(item)
    return count
