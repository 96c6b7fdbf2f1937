"""`fusebook convert`: espefuse 4 `execute_scripts` scripts and esptool 5 API scripts as recipes.

The script is read with Python's `ast`, never run (see `script`); the steps it would burn
become a recipe (`writer`), nested `execute_scripts` become fragments beside it, and what
has no recipe equivalent is listed by script line, both in the result and as comments in
the recipe. The recipe written is then validated as `fusebook validate` would, so a result
called complete is one that loads and checks.
"""

from __future__ import annotations

import ast
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from fusebook.convert.model import Note, Session
from fusebook.convert.script import finish, parse_script, translate_file
from fusebook.convert.values import Sym
from fusebook.convert.writer import fragment_text, recipe_text
from fusebook.errors import FusebookError, InputError

__all__ = ["ConvertResult", "Note", "convert_script"]


@dataclass(frozen=True)
class ConvertResult:
    """The recipe text, its fragments (file name -> text), what was left out, what failed validation."""

    recipe: str
    fragments: dict[str, str]
    notes: tuple[Note, ...]
    problems: tuple[FusebookError, ...]
    written: tuple[Path, ...]

    @property
    def complete(self) -> bool:
        return not self.notes and not self.problems


def _chip_in_script(tree: ast.AST) -> str | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name == "init_commands":
                for kw in node.keywords:
                    if (kw.arg == "chip" and isinstance(kw.value, ast.Constant)
                            and isinstance(kw.value.value, str) and kw.value.value != "auto"):
                        return kw.value.value
    return None


def _validate(path: Path, chip_names: list[str]) -> list[FusebookError]:
    from fusebook.chips.loader import load_chip
    from fusebook.recipe.document import RecipeErrors
    from fusebook.recipe.loader import load_recipe
    from fusebook.recipe.static_checks import validate_recipe

    try:
        recipe = load_recipe(path)
        return list(validate_recipe(recipe, [load_chip(c) for c in chip_names]))
    except RecipeErrors as e:
        return list(e.problems)
    except FusebookError as e:
        return [e]


def convert_script(script: str | Path, *, chip: str | None = None, output: str | Path | None = None,
                   configfiles: tuple[str | Path, ...] = (), cwd: str | Path | None = None) -> ConvertResult:
    """Convert one script; write the recipe (and fragments) to `output` if given.

    Relative paths in the script (key files, nested scripts) and `configfiles` are taken
    from `cwd` (default: the current directory), where espefuse would have run it; in the
    recipe they are written relative to the recipe's folder. InputError (exit 2) if the
    script is not Python, too large, or names no chip and `chip` is not given.
    """
    from fusebook.chips.loader import load_chip

    script = Path(script)
    base = Path(cwd) if cwd is not None else Path.cwd()
    out_path = Path(output) if output is not None else None
    out_dir = out_path.parent if out_path is not None else base
    if chip is None:
        _, tree = parse_script(script, str(script))
        chip = _chip_in_script(tree)
        if chip is None:
            raise InputError(f"{script} does not say which chip it is for",
                             hint="pass --chip CHIP (execute_scripts took it from espefuse's command line)")
    chip_name = load_chip(chip.lower().replace("-", "")).name
    configs = [Path(c) if os.path.isabs(c) else base / c for c in configfiles]
    session = Session(chip=chip_name, base=base, out_dir=out_dir)
    top = translate_file(session, script, str(script), Sym("index"), configs, top=True)
    finish(session, top)
    notes = list(top.notes)
    for frag in session.fragments:
        notes += frag.notes
    if out_path is None and session.fragments:
        notes.append(Note(str(script), 1, "nested execute_scripts become fragment files: "
                          "convert with -o RECIPE.yaml to write them beside it", ""))
    notes.sort(key=lambda n: (n.file != str(script), n.file, n.line))
    text = recipe_text(top, chip_name, session.inputs, notes)
    fragments = {f.file_name: fragment_text(f) for f in session.fragments}
    written: list[Path] = []
    if out_path is not None:
        for name, body in fragments.items():
            _write(out_dir / name, body)
            written.append(out_dir / name)
        _write(out_path, text)
        written.append(out_path)
        problems = _validate(out_path, [chip_name])
    else:
        problems = _validate_text(text, base, chip_name)
    return ConvertResult(text, fragments, tuple(notes), tuple(problems), tuple(written))


def _validate_text(text: str, where: Path, chip: str) -> list[FusebookError]:
    """Validate a recipe meant for stdout, as if it were a file in `where` (its paths are relative to it)."""
    try:
        fd, name = tempfile.mkstemp(prefix=".fusebook-convert-", suffix=".yaml", dir=where)
    except OSError as e:
        return [InputError(f"cannot validate the recipe: {where} is not writable ({e.strerror})",
                           hint="write the recipe with -o RECIPE.yaml")]
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return _validate(Path(name), [chip])
    finally:
        os.unlink(name)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror or e}",
                         hint="give -o a path in a folder that exists and is writable") from None

