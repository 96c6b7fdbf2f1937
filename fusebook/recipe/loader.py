"""Load a recipe file: parse, check against the models, and resolve `include:` steps.

An include pulls a fragment's steps in place of the include step. Fragments are found
relative to the including file and must stay inside the top recipe's directory (no
absolute paths, no `..` or symlink leading out), so a reviewed recipe directory is all
a recipe can read. Cycles are refused with the chain that closes them. Every step keeps
the file, line and column it was written at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path as FsPath
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from fusebook.errors import InputError, SourceLocation, did_you_mean
from fusebook.files import read_text_bounded
from fusebook.recipe.document import validate_document
from fusebook.recipe.models import IncludedFile, Recipe
from fusebook.recipe.sources import AssertionSource, Condition, RecipeSources, Scope, StepSource
from fusebook.recipe.types import is_template
from fusebook.recipe.yamlfile import NodePath, SourceMap, parse_yaml
from fusebook.steps.base import StepBase
from fusebook.steps.include import IncludeStep

#: Largest recipe or fragment file read, and most bytes of the recipe and all its
#: fragments together (YAML with positions parses at roughly 100 KiB a second).
MAX_FILE_BYTES = 256 << 10
MAX_TOTAL_BYTES = 512 << 10
#: Deepest include nesting, and most steps after all includes are resolved.
MAX_INCLUDE_DEPTH = 16
MAX_STEPS = 10_000
#: Most include steps resolved in one recipe (each counts, also the same file again),
#: and most YAML nodes (aliases expanded) of the recipe and all its fragments together.
MAX_INCLUDES = 256
MAX_TOTAL_NODES = 200_000


def read_text(path: FsPath, display: str, location: SourceLocation | None = None) -> str:
    """A recipe file's text; InputError (at `location`, else the file) if unreadable.

    Only a regular file is read, and at most MAX_FILE_BYTES of it (see fusebook.files).
    """
    return read_text_bounded(path, "recipe file", limit=MAX_FILE_BYTES, location=location, display=display)


@dataclass
class _Loader:
    root: FsPath
    display_dir: FsPath
    steps: list[tuple[StepBase, StepSource]] = field(default_factory=list)
    require: list[tuple[Any, AssertionSource]] = field(default_factory=list)
    ensure: list[tuple[Any, AssertionSource]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    fragment_vars: set[str] = field(default_factory=set)
    includes: int = 0
    nodes: int = 0
    size: int = 0

    def read(self, path: FsPath, display: str, at: SourceLocation | None) -> str:
        """A recipe file's text, charged to the recipe's total size."""
        text = read_text(path, display, at)
        self.size += len(text.encode())
        if self.size > MAX_TOTAL_BYTES:
            raise InputError(f"the recipe and its includes are larger than {MAX_TOTAL_BYTES} bytes together",
                             location=at, hint="include fragments fewer times, or make them smaller")
        return text

    def count(self, smap: SourceMap, at: SourceLocation) -> None:
        """Charge a parsed file's nodes to the recipe's total (InputError past the limit)."""
        self.nodes += smap.nodes
        if self.nodes > MAX_TOTAL_NODES:
            raise InputError(f"the recipe and its includes have more than {MAX_TOTAL_NODES} YAML nodes",
                             location=at, hint="include fragments fewer times, or make them smaller")

    def display(self, real: FsPath) -> str:
        try:
            return str(self.display_dir / real.relative_to(self.root))
        except ValueError:  # the top recipe itself may be a link to elsewhere
            return str(real)

    def short(self, real: FsPath) -> str:
        """A file as messages name it: relative to the recipe's directory."""
        try:
            return real.relative_to(self.root).as_posix()
        except ValueError:
            return str(real)

    def expand(self, steps: list[StepBase], smap: SourceMap, scope: Scope, real_dir: FsPath,
               inherited: tuple[Condition, ...], inherited_name: str | None,
               chain: tuple[FsPath, ...]) -> None:
        for i, step in enumerate(steps):
            path: NodePath = ("steps", i)
            if isinstance(step, IncludeStep):
                conds = inherited
                if step.when is not None:
                    conds = (*inherited, Condition(step.when, smap, (*path, "when"), scope))
                self.include(step, smap, path, scope, real_dir, conds, step.name or inherited_name, chain)
                continue
            if len(self.steps) >= MAX_STEPS:
                raise InputError(f"the recipe has more than {MAX_STEPS} steps",
                                 location=smap.location(path))
            self.steps.append((step, StepSource(smap, path, scope, inherited, inherited_name)))

    def include(self, step: IncludeStep, smap: SourceMap, path: NodePath, scope: Scope, real_dir: FsPath,
                conds: tuple[Condition, ...], name: str | None, chain: tuple[FsPath, ...]) -> None:
        args = step.include
        at = smap.location((*path, "include"))
        file_at = smap.location((*path, "include", "file"))
        rel = args.file
        if is_template(rel):
            raise InputError("an include path cannot be a template", location=file_at,
                             hint="includes are resolved when the recipe is loaded; use `when:` to choose")
        if not rel.strip() or PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() \
                or PureWindowsPath(rel).drive or rel.startswith("~"):
            raise InputError(f"include {rel!r} is not a relative path", location=file_at,
                             hint="include files by a path relative to the including file")
        if "\0" in rel:
            raise InputError(f"include {rel!r}: a file name cannot contain a NUL character", location=file_at,
                             hint="write the fragment's relative path")
        try:
            target = (real_dir / rel).resolve()
        except (OSError, RuntimeError, ValueError) as e:
            raise InputError(f"include {rel!r} cannot be resolved ({e})", location=file_at) from None
        if not target.is_relative_to(self.root):
            raise InputError(
                f"include {rel!r} leads outside the recipe's directory", location=file_at,
                hint=f"fragments must live under {self.display_dir or '.'} (symlinks and .. included)")
        if target in chain:
            cycle = " -> ".join(self.short(p) for p in (*chain[chain.index(target):], target))
            raise InputError(f"include cycle: {cycle}", location=file_at,
                             hint="a fragment cannot include itself, directly or through others")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise InputError(f"includes nest deeper than {MAX_INCLUDE_DEPTH}", location=at)
        self.includes += 1
        if self.includes > MAX_INCLUDES:
            raise InputError(f"the recipe resolves more than {MAX_INCLUDES} includes", location=at,
                             hint="each include step counts, also of a file included before")
        display = self.display(target)
        data, fsmap = parse_yaml(self.read(target, display, file_at), display)
        self.count(fsmap, at)
        fragment = validate_document(IncludedFile, data, fsmap)
        self.files.append(display)
        declared = set(fragment.vars)
        for key in args.vars:
            if key not in declared:
                raise InputError(
                    f"{display} has no var {key!r}",
                    location=smap.key_location((*path, "include", "vars", key)),
                    hint=did_you_mean(key, sorted(declared))
                    or f"declare it under `vars:` in {display} (null if it has no default)")
        self.fragment_vars |= declared
        child = Scope(
            file=display, parent=scope,
            defaults=dict(fragment.vars), defaults_at=(fsmap, ("vars",)),
            overrides=dict(args.vars), overrides_at=(smap, (*path, "include", "vars")),
        )
        for which, items in (("require", fragment.require), ("ensure", fragment.ensure)):
            for j, a in enumerate(items):
                getattr(self, which).append((a, AssertionSource(fsmap, (which, j), child)))
        self.expand(list(fragment.steps), fsmap, child, target.parent, conds, name, (*chain, target))


def load_recipe(path: str | FsPath) -> Recipe:
    """The recipe at `path`, validated, with includes resolved and sources attached."""
    given = FsPath(path)
    display = str(path)
    text = read_text(given, display)
    data, smap = parse_yaml(text, display)
    recipe = validate_document(Recipe, data, smap)
    root = given.parent.resolve()
    scope = Scope(file=display, defaults=dict(recipe.vars), defaults_at=(smap, ("vars",)))
    loader = _Loader(root=root, display_dir=given.parent, files=[display], size=len(text.encode()))
    loader.count(smap, SourceLocation(display))
    for which in ("require", "ensure"):
        for j, a in enumerate(getattr(recipe, which)):
            getattr(loader, which).append((a, AssertionSource(smap, (which, j), scope)))
    loader.expand(list(recipe.steps), smap, scope, root, (), None, (given.resolve(),))
    loaded = recipe.model_copy(update={
        "steps": [s for s, _ in loader.steps],
        "require": [a for a, _ in loader.require],
        "ensure": [a for a, _ in loader.ensure],
    })
    loaded._sources = RecipeSources(
        path=display,
        root=str(root),
        smap=smap,
        scope=scope,
        steps=tuple(src for _, src in loader.steps),
        require=tuple(src for _, src in loader.require),
        ensure=tuple(src for _, src in loader.ensure),
        files=tuple(loader.files),
        fragment_vars=frozenset(loader.fragment_vars),
    )
    return loaded
