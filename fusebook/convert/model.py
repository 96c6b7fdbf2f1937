"""What converting a script produces: notes, the recipe content of each script, shared state."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Note:
    """A part of the script that is not in the recipe: where, why, and the code itself."""

    file: str
    line: int
    reason: str
    code: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: not converted: {self.reason}"


@dataclass
class Converted:
    """One script's recipe content (the top recipe, or a fragment for a nested script)."""

    source: Path
    display: str = ""
    lines: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    step_lines: list[int] = field(default_factory=list)  # the script line of each step
    require: list[dict[str, Any]] = field(default_factory=list)
    ensure: list[dict[str, Any]] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    file_name: str = ""  # a fragment's file name, next to the recipe


@dataclass
class Session:
    """State shared by a script and the scripts it runs: chip, burn timing, files written."""

    chip: str
    base: Path  # where the script's relative paths point from (where it would run)
    out_dir: Path  # where the recipe and its fragments go
    api: bool = False  # esptool 5 API: burns at once unless in batch mode
    batch: int = 0
    burned: bool = False
    pending: list[tuple[list[dict[str, Any]], dict[str, Any], Converted, int]] = field(default_factory=list)
    counter: int = 0
    late_ensures: list[tuple[Converted, dict[str, Any], int, int]] = field(default_factory=list)
    fragments: list[Converted] = field(default_factory=list)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    stack: list[Path] = field(default_factory=list)
    chip_from_script: str | None = None

    def path_for(self, path: str) -> str:
        """A path as the script names it, as the recipe must name it (relative to the recipe)."""
        full = Path(path) if os.path.isabs(path) else self.base / path
        rel = os.path.relpath(os.path.abspath(full), os.path.abspath(self.out_dir))
        return Path(rel).as_posix()
