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
