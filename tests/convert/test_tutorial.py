"""The side-by-side example of docs/tutorials/from-execute-scripts.md is what convert writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fusebook.api import convert_script

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorials" / "from-execute-scripts.md"


def test_the_tutorials_recipe_is_the_conversion_of_its_script(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    text = TUTORIAL.read_text()
    script = re.search(r"```python\n(.*?)```", text, re.S)
    recipe = re.search(r"```yaml\n(# Converted from burn_unit\.py.*?)```", text, re.S)
    assert script and recipe
    monkeypatch.chdir(tmp_path)
    (tmp_path / "burn_unit.py").write_text(script[1])
    (tmp_path / "macs.json").write_text('{"1": "02:fb:00:00:00:01"}')
    result = convert_script("burn_unit.py", chip="esp32c3", configfiles=("macs.json",))
    assert result.notes == ()
    assert result.recipe == recipe[1]
