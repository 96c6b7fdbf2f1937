"""What a one-shot command pays for before it works: only the chip it needs, no YAML
parser for chip data, and no station or script converter unless asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
import fusebook.cli.main
from fusebook import api
from fusebook.chips import loader
chip = api.load_chip("esp32c3")
print(json.dumps({
    "modules": sorted(m for m in sys.modules if m.startswith(("fusebook.", "ruamel"))),
    "tables": loader._build.cache_info().currsize,
}))
"""


def _probe(code: str) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded: dict[str, object] = json.loads(r.stdout)
    return loaded


def test_the_command_line_and_one_chip_load_nothing_else() -> None:
    seen = _probe(PROBE)
    modules = seen["modules"]
    assert isinstance(modules, list)
    assert not [m for m in modules if m.startswith(("fusebook.station", "fusebook.convert", "ruamel"))]
    assert seen["tables"] == 1


def test_the_lazy_names_of_the_api_still_resolve() -> None:
    seen = _probe("import json, sys\nfrom fusebook import api\nfrom fusebook.api import Station\n"
                  "assert api.convert_script.__module__.startswith('fusebook.convert')\n"
                  "assert Station is api.Station and api.StationOptions\n"
                  "print(json.dumps({'ok': 'fusebook.station.station' in sys.modules}))")
    assert seen == {"ok": True}


APPLY = """
import contextlib, io, json, sys
from fusebook.cli.main import main
recipe, ledger = sys.argv[1], sys.argv[2]
with contextlib.redirect_stdout(io.StringIO()):
    code = main(["apply", recipe, "--virt", "--chip", "esp32c3", "--yes", "--ledger", ledger])
print(json.dumps({"code": code, "jinja2": "jinja2" in sys.modules,
                  "other_commands": sorted(m for m in sys.modules if m in (
                      "fusebook.cli.station_cmd", "fusebook.cli.web_cmd", "fusebook.starters")),
                  "tokenize_patterns": "PseudoToken" in sys.modules["tokenize"].__dict__
                  and any(k[1] == sys.modules["tokenize"].PseudoToken for k in getattr(
                      sys.modules["re"], "_cache", {}))}))
"""


def _apply(tmp_path: Path, steps: str) -> dict[str, object]:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"fusebook: 1\nname: r\nchip: esp32c3\nsteps:\n{steps}")
    r = subprocess.run([sys.executable, "-c", APPLY, str(recipe), str(tmp_path / "l.sqlite")], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    seen: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    return seen


def test_a_recipe_without_templates_burns_without_the_template_engine(tmp_path: Path) -> None:
    seen = _apply(tmp_path, "  - burn_efuse: {DIS_USB_JTAG: 1, SOFT_DIS_JTAG: 7}\n")
    assert seen["code"] == 0 and seen["jinja2"] is False


def test_apply_builds_only_its_own_parser_and_no_builtin_signature(tmp_path: Path) -> None:
    """The other commands' parsers (and the modules they import) are not built for an apply,
    and no validator parses a builtin's signature (which compiles tokenize's patterns)."""
    seen = _apply(tmp_path, "  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    assert seen["code"] == 0
    assert seen["other_commands"] == []
    assert seen["tokenize_patterns"] is False


def test_a_recipe_with_a_template_still_renders_it(tmp_path: Path) -> None:
    seen = _apply(tmp_path, "  - burn_efuse: {SOFT_DIS_JTAG: \"{{ 3 + 4 }}\"}\n    when: \"chip.name == 'esp32c3'\"\n")
    assert seen["code"] == 0 and seen["jinja2"] is True
