"""The command line reaches fusebook only through `fusebook.api` (DESIGN.md: cli/ knows
nothing that api.py does not export): its modules import `fusebook.api` and each other,
and every name they take from the api is in `fusebook.api.__all__`."""

from __future__ import annotations

import ast
from pathlib import Path

from fusebook import api

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "fusebook" / "cli"


def _allowed(module: str) -> bool:
    return module == "fusebook.api" or module == "fusebook.cli" or module.startswith("fusebook.cli.")


def reaches(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import of a fusebook module other than the api and cli/."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names
                    if a.name.split(".")[0] == "fusebook" and not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import names a module of the package it is in
                out.append((node.lineno, "." * node.level + (node.module or "")))
            elif node.module == "fusebook":
                out += [(node.lineno, f"fusebook.{a.name}") for a in node.names
                        if not _allowed(f"fusebook.{a.name}")]
            elif node.module and node.module.split(".")[0] == "fusebook" and not _allowed(node.module):
                out.append((node.lineno, node.module))
    return out


def api_names(tree: ast.AST) -> set[str]:
    """The names a module takes from the api: `api.NAME` and `from fusebook.api import NAME`."""
    names = {n.attr for n in ast.walk(tree)
             if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "api"}
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module == "fusebook.api":
            names |= {a.name for a in n.names}
    return names


def _modules() -> list[Path]:
    found = sorted(CLI.rglob("*.py"))
    assert len(found) >= 10, "the scan must see the command line's modules"
    return found


def test_the_command_line_imports_only_the_api_and_itself() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line}: imports {module}"
           for path in _modules() for line, module in reaches(ast.parse(path.read_text(), str(path)))]
    assert bad == [], "the CLI must go through fusebook.api:\n" + "\n".join(bad)


def test_every_api_name_the_command_line_uses_is_public() -> None:
    used = set().union(*(api_names(ast.parse(p.read_text())) for p in _modules()))
    assert used - {"__version__"} <= set(api.__all__), sorted(used - set(api.__all__) - {"__version__"})


def test_the_scan_sees_every_form_of_import() -> None:
    code = ("import fusebook.ledger.store\nfrom fusebook.errors import InputError\n"
            "from fusebook import numbers, api\nfrom . import main\n"
            "def f():\n    from fusebook.web.server import WebServer\n"
            "import fusebook.api\nfrom fusebook.cli import render\nfrom fusebook.api import plan\n")
    assert [m for _, m in reaches(ast.parse(code))] == [
        "fusebook.ledger.store", "fusebook.errors", "fusebook.numbers", ".", "fusebook.web.server"]
    assert api_names(ast.parse("from fusebook.api import plan\napi.apply(x)\nother.load\n")) == {"plan", "apply"}


def test_the_api_exports_a_sorted_list() -> None:
    assert list(api.__all__) == sorted(api.__all__)
