"""Check a YAML document against the recipe models; errors point at the offending node.

pydantic reports an error as a path through the data, interleaved with names of the
union members it tried. The path is walked over the actual data to drop those names,
then looked up in the file's `SourceMap`, so `offset: abc` in a step reports the line and
column of `abc`, and an unknown key reports the key, with the closest known spelling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fusebook.errors import FusebookError, InputError, SourceLocation, did_you_mean
from fusebook.recipe.models import (
    STEP_ALIASES,
    STEP_COMMON_KEYS,
    STEP_KINDS,
    Assertion,
    InputSpec,
)
from fusebook.recipe.yamlfile import NodePath, SourceMap
from fusebook.steps import STEPS

M = TypeVar("M", bound=BaseModel)


class RecipeErrors(InputError):
    """The first problem of a document (by position), with all of them in `problems`."""

    def __init__(self, problems: Sequence[FusebookError]) -> None:
        first = problems[0]
        more = len(problems) - 1
        message = first.message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
        super().__init__(message, location=first.location, hint=first.hint)
        self.problems = list(problems)
        # a problem against a given chip (a field that cannot fit its coding) keeps its class
        self.exit_code = first.exit_code
        self.kind = first.kind


def _sort_key(e: InputError) -> tuple[int, int]:
    loc = e.location
    return (loc.line or 0, loc.column or 0) if loc else (0, 0)


def raise_all(problems: list[InputError]) -> None:
    if problems:
        problems.sort(key=_sort_key)
        if len(problems) == 1:
            raise problems[0]
        raise RecipeErrors(problems)


def args_model(kind: str) -> type[BaseModel] | None:
    """The model of a step's value when it is a mapping (burn_key: {...}), else None."""
    return STEPS[kind].args_model


def snake_case_steps(data: Any, smap: SourceMap) -> None:
    """Steps keyed as espefuse v5's commands (`burn-efuse:`) re-keyed as fusebook's steps.

    The source map follows, so every later error still names the line and column where the
    key and its values are written. A step with both spellings is left for `check_steps`.
    """
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        for alias, kind in STEP_ALIASES.items():
            if alias not in step or kind in step:
                continue
            steps[i] = step = {kind if k == alias else k: v for k, v in step.items()}
            old = ("steps", i, alias)
            for table in (smap.values, smap.keys):
                for path in [p for p in table if p[: len(old)] == old]:
                    table[("steps", i, kind, *path[len(old):])] = table[path]
            smap.block_scalars |= {("steps", i, kind, *p[len(old):]) for p in smap.block_scalars
                                   if p[: len(old)] == old}


def check_steps(data: Any, smap: SourceMap) -> list[InputError]:
    """Each step must be a mapping with exactly one step key and no unknown keys."""
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        return []
    problems = []
    for i, step in enumerate(steps):
        path: NodePath = ("steps", i)
        if not isinstance(step, dict):
            problems.append(InputError(
                "a step is a mapping with one step key", location=smap.location(path),
                hint="steps: " + ", ".join(STEP_KINDS)))
            continue
        known = (*STEP_KINDS, *STEP_COMMON_KEYS)
        for key in step:
            if key not in known:
                problems.append(InputError(
                    f"unknown step key {key!r}", location=smap.key_location((*path, key)),
                    hint=did_you_mean(str(key), [*known, *STEP_ALIASES]) or "steps: " + ", ".join(STEP_KINDS)))
        kinds = [k for k in step if k in STEP_KINDS]
        if len(kinds) > 1:
            problems.append(InputError(
                f"a step does one thing; this one has {' and '.join(kinds)}",
                location=smap.key_location((*path, kinds[1])), hint="split it into separate steps"))
        elif not kinds and all(k in known for k in step):
            problems.append(InputError(
                "this step has no step key", location=smap.location(path),
                hint="one of: " + ", ".join(STEP_KINDS)))
    return problems


def _known_keys(model: type[BaseModel], data: Any, path: NodePath) -> list[str]:
    """The keys allowed in the mapping at `path` (for did-you-mean hints)."""
    if len(path) == 0:
        return list(model.model_fields)
    head = path[0]
    if head == "inputs" and len(path) == 2:
        return list(InputSpec.model_fields)
    if head in ("require", "ensure") and len(path) == 2:
        return list(Assertion.model_fields)
    if head == "steps" and len(path) >= 2:
        step = _at(data, path[:2])
        kind = next((k for k in step if k in STEP_KINDS), None) if isinstance(step, dict) else None
        if kind is None:
            return []
        if len(path) == 2:
            return [*STEP_COMMON_KEYS, kind]
        am = args_model(kind)
        if len(path) == 3 and am is not None:
            return list(am.model_fields)
    return []


def _at(data: Any, path: NodePath) -> Any:
    for part in path:
        data = data[part]
    return data


def _real_path(data: Any, loc: tuple[Any, ...]) -> tuple[NodePath, bool]:
    """`loc` without pydantic's union member names; True if it ends at a mapping key."""
    path: list[str | int] = []
    node = data
    at_key = False
    for part in loc:
        if part == "[key]":
            at_key = True
            break
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
    return tuple(path), at_key


def _format_name(model: type[BaseModel]) -> str:
    """What a document of `model` is called in messages: its `format_name`, else "recipe"."""
    return str(getattr(model, "format_name", "recipe"))


def _message(model: type[BaseModel], data: Any, err: Any, path: NodePath, loc: tuple[Any, ...]) -> tuple[str, str | None]:
    kind, msg = err["type"], err["msg"]
    last = path[-1] if path else None
    if kind == "extra_forbidden":
        key = loc[-1]
        known = _known_keys(model, data, path[:-1])
        hint = did_you_mean(str(key), known) if known else None
        if hint is None and known:
            hint = "known keys: " + ", ".join(known)
        return f"unknown key {key!r}", hint
    if kind == "missing":
        missing = loc[-1]
        if missing == "fusebook":
            return f"missing `fusebook: 1` (the {_format_name(model)} format version)", None
        where = f"`{last}`" if isinstance(last, str) else "this mapping"
        return f"{where} needs `{missing}`", None
    if kind == "string_pattern_mismatch" and "[key]" in loc:
        return (f"{str(loc[loc.index('[key]') - 1])!r} is not a usable name",
                "names are letters, digits and _, starting with a letter (so `vars.NAME` works)")
    if path == ("fusebook",):
        return f"`fusebook:` must be 1 (the {_format_name(model)} format version this fusebook reads)", None
    if path == ("name",) and kind == "string_pattern_mismatch":
        return "the recipe name may hold lower-case letters, digits, - and _ only", None
    if kind == "fusebook":
        text = msg
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        text = "expected a mapping"
    elif kind == "list_type":
        text = "expected a list"
    else:
        text = msg[0].lower() + msg[1:] if msg else kind
    prefix = f"`{last}`: " if isinstance(last, str) else ""
    return prefix + text, None


def validate_document(model: type[M], data: Any, smap: SourceMap) -> M:
    """`data` as `model`, or InputError(s) located in `smap`'s file."""
    if not isinstance(data, dict):
        raise InputError(
            "expected a mapping of recipe keys (fusebook:, name:, steps:, ...)"
            if data is not None else "the file is empty",
            location=smap.location(()))
    snake_case_steps(data, smap)
    raise_all(check_steps(data, smap))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        problems: list[InputError] = []
        seen: set[tuple[NodePath, bool]] = set()
        for err in e.errors(include_url=False, include_input=False):
            loc = tuple(err["loc"])
            path, at_key = _real_path(data, loc)
            if err["type"] == "extra_forbidden":
                at_key = True
            if (path, at_key) in seen:
                continue
            seen.add((path, at_key))
            message, hint = _message(model, data, err, path, loc)
            location: SourceLocation = smap.key_location(path) if at_key else smap.location(path)
            problems.append(InputError(message, location=location, hint=hint))
        raise_all(problems)
        raise AssertionError("unreachable") from None
