"""Where each part of a loaded recipe came from, and which vars it sees.

After `include:` steps are resolved, a recipe's steps and assertions come from several
files. Each keeps its file's `SourceMap` and its path in that file, so templates inside
it are reported at their own file:line:col, and its `Scope`, which says where its
`vars.NAME` come from: the fragment's own defaults, overridden by the including recipe's
vars, overridden by the include step's `vars:`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fusebook.errors import SourceLocation

if TYPE_CHECKING:  # the YAML parser is imported when a recipe is read, not before
    from fusebook.recipe.yamlfile import NodePath, SourceMap


@dataclass(frozen=True, eq=False)
class Scope:
    """The vars visible in one file of a recipe.

    The top recipe's scope has no parent; its vars are the recipe's `vars:` (with
    `--set` applied by the caller). A fragment's scope has the including scope as
    parent, its own `vars:` as `defaults`, and the include step's `vars:` as `overrides`
    (whose templates are rendered in the parent scope).
    """

    file: str
    parent: Scope | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    defaults_at: tuple[SourceMap, NodePath] | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    overrides_at: tuple[SourceMap, NodePath] | None = None

    def declared(self) -> set[str]:
        """Every var name this scope can resolve (its own and its ancestors')."""
        names = set(self.defaults) | set(self.overrides)
        return names | (self.parent.declared() if self.parent else set())


@dataclass(frozen=True)
class Condition:
    """A `when:` that gates a step: the step's own, or an enclosing include's."""

    expression: str | bool
    smap: SourceMap
    path: NodePath
    scope: Scope

    @property
    def location(self) -> SourceLocation:
        return self.smap.location(self.path)


@dataclass(frozen=True)
class StepSource:
    """A step's file, its path there, its scope, and the conditions it inherits."""

    smap: SourceMap
    path: NodePath
    scope: Scope
    inherited: tuple[Condition, ...] = ()
    inherited_name: str | None = None

    @property
    def origin(self) -> SourceLocation:
        return self.smap.location(self.path)


@dataclass(frozen=True)
class AssertionSource:
    smap: SourceMap
    path: NodePath
    scope: Scope

    @property
    def origin(self) -> SourceLocation:
        return self.smap.location(self.path)


@dataclass(frozen=True)
class RecipeSources:
    """Where everything in a loaded recipe came from (one entry per step / assertion)."""

    path: str
    root: str
    smap: SourceMap
    scope: Scope
    steps: tuple[StepSource, ...]
    require: tuple[AssertionSource, ...]
    ensure: tuple[AssertionSource, ...]
    files: tuple[str, ...]
    fragment_vars: frozenset[str] = frozenset()

    def location(self, path: NodePath) -> SourceLocation:
        """A node of the top recipe file."""
        return self.smap.location(path)

    @property
    def declared_vars(self) -> set[str]:
        """Var names `--set` may override: the recipe's and every fragment's."""
        return set(self.scope.defaults) | set(self.fragment_vars)
