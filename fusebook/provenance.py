"""Which files produced a plan: the recipe, its includes, inputs, key files, custom table.

A ledger record says exactly what produced it: each file the plan read, by its path
relative to the recipe and a digest, and one SHA-256 over that list (the record's
`recipe_sha256`). A file that holds key material (a step's `file:`, a secret input) is
listed by its fingerprint (`Secret.fingerprint`), never by a hash of its bytes alone, so
the list, like the rest of the ledger, carries nothing that could be turned back into a key.

Step files are known only once a unit's steps are rendered (a `file:` may be a template),
so they are collected while one plan is made: `collecting()` opens a collection for the
current thread (a context variable, so a station's workers planning at once each see their
own), and `LoadedRecipe.read_file` reports every step file to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from fusebook.secret import Secret


@dataclass(frozen=True, order=True)
class RecipeFile:
    """A file a plan read: `path` relative to the recipe's folder, `digest` `sha256:...`."""

    path: str
    digest: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "digest": self.digest}


def relative(path: str | Path, recipe_dir: Path) -> str:
    """`path` as the list shows it: relative to the recipe's folder, `/` between parts."""
    try:
        rel = os.path.relpath(Path(path).resolve(), recipe_dir.resolve())
    except ValueError:  # another drive (Windows): no relative form
        rel = str(Path(path).resolve())
    return Path(rel).as_posix()


def plain(path: str | Path, recipe_dir: Path, data: bytes) -> RecipeFile:
    """A file without secrets, by the SHA-256 of its bytes."""
    return RecipeFile(relative(path, recipe_dir), "sha256:" + hashlib.sha256(data).hexdigest())


def secret(path: str | Path, recipe_dir: Path, data: bytes) -> RecipeFile:
    """A file that may hold key material, by its fingerprint only."""
    return RecipeFile(relative(path, recipe_dir), Secret(data).fingerprint)


def digest(files: Iterable[RecipeFile]) -> str:
    """The SHA-256 over the list (its canonical JSON): the record's `recipe_sha256`."""
    body = [f.to_json() for f in files]
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


_READ: ContextVar[dict[str, RecipeFile] | None] = ContextVar("fusebook_step_files", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[dict[str, RecipeFile]]:
    """Collect the step files read in this thread while the block runs (path -> entry)."""
    found: dict[str, RecipeFile] = {}
    token = _READ.set(found)
    try:
        yield found
    finally:
        _READ.reset(token)


def read(entry: RecipeFile) -> None:
    """Report a step file to the collection open in this thread, if there is one."""
    found = _READ.get()
    if found is not None:
        found[entry.path] = entry
