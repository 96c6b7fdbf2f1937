"""A converted script as recipe YAML, with what was not converted left as comments.

ruamel.yaml writes the recipe so that the notes sit where a reviewer reads first: a header
listing every script line that was not converted, with the code itself.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from fusebook.convert.model import Converted, Note


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _plain(v)
        return m
    if isinstance(value, list):
        seq = CommentedSeq(_plain(v) for v in value)
        if all(isinstance(v, int | str) and not isinstance(v, bool) for v in value) and len(value) <= 16:
            seq.fa.set_flow_style()
        return seq
    return value


def _steps(conv: Converted) -> CommentedSeq:
    """The steps, each under a comment naming the script line it comes from."""
    seq: CommentedSeq = _plain(conv.steps)
    seq.fa.set_block_style()
    for i, line in enumerate(conv.step_lines):
        seq.yaml_set_comment_before_after_key(i, before=f"{conv.source.name}:{line}", indent=2)
    return seq


def _header(title: str, notes: list[Note]) -> str:
    lines = [title]
    if notes:
        lines.append("")
        lines.append(f"NOT CONVERTED ({len(notes)}): do these by hand, or drop them, before use")
        for n in notes:
            lines.append(f"{n.file}:{n.line}: {n.reason}")
            lines += [f"    {c}" for c in n.code.splitlines()[:8]]
    return "\n".join(lines)


def _dump(doc: CommentedMap) -> str:
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 110
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def recipe_name(stem: str) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", stem.lower()).strip("-")
    return name or "converted"


def recipe_text(top: Converted, chip: str, inputs: dict[str, dict[str, Any]], notes: list[Note]) -> str:
    doc = CommentedMap()
    doc["fusebook"] = 1
    doc["name"] = recipe_name(top.source.stem)
    doc["description"] = f"converted from {top.source.name} by fusebook convert"
    doc["chip"] = chip
    if inputs:
        doc["inputs"] = _plain(inputs)
    if top.require:
        doc["require"] = _plain(top.require)
    doc["steps"] = _steps(top)
    if top.ensure:
        doc["ensure"] = _plain(top.ensure)
    doc.yaml_set_start_comment(_header(f"Converted from {top.display} by `fusebook convert`.", notes))
    return _dump(doc)


def fragment_text(frag: Converted) -> str:
    doc = CommentedMap()
    doc["description"] = f"converted from {frag.source.name} by fusebook convert"
    if frag.require:
        doc["require"] = _plain(frag.require)
    doc["steps"] = _steps(frag)
    if frag.ensure:
        doc["ensure"] = _plain(frag.ensure)
    doc.yaml_set_start_comment(_header(f"Converted from {frag.display} by `fusebook convert` "
                                       "(a fragment: included by the converted recipe).", frag.notes))
    return _dump(doc)
