"""tools/mutation_score.py: the reviewed-survivor list is read strictly and tied to the edit reviewed.

The mutation score is only as honest as this bookkeeping: a review that silently stops applying
(mutmut renumbers a function's mutants when it changes) would count an unreviewed survivor as
equivalent. These tests build a small stand-in for mutmut's `mutants/` tree and check each rule.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_score", ROOT / "tools" / "mutation_score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutation_score", module)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()

_MODULE = '''
def x_f__mutmut_orig(a):
    b = a + 1
    return b * 2

def x_f__mutmut_1(a):
    b = a - 1
    return b * 2

def x_f__mutmut_2(a):
    b = a + 1
    return b / 2
'''


def _mutants(tmp_path: Path, module: str = _MODULE) -> Path:
    source = tmp_path / "mutants" / "fusebook" / "efuse" / "demo.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(module, encoding="utf-8")
    return tmp_path / "mutants"


def test_fingerprint_names_the_edit_not_its_place(tmp_path: Path) -> None:
    prints = tool.fingerprints(_mutants(tmp_path))
    assert set(prints) == {"fusebook.efuse.demo.x_f__mutmut_1", "fusebook.efuse.demo.x_f__mutmut_2"}
    assert prints["fusebook.efuse.demo.x_f__mutmut_1"] != prints["fusebook.efuse.demo.x_f__mutmut_2"]
    moved = tool.fingerprints(_mutants(tmp_path / "moved", "\n\ndef other():\n    return 0\n" + _MODULE))
    assert moved["fusebook.efuse.demo.x_f__mutmut_1"] == prints["fusebook.efuse.demo.x_f__mutmut_1"]


def test_a_renumbered_mutant_no_longer_counts_as_reviewed(tmp_path: Path) -> None:
    before = tool.fingerprints(_mutants(tmp_path))
    swapped = _MODULE.replace("x_f__mutmut_1", "x_f__mutmut_9").replace("x_f__mutmut_2", "x_f__mutmut_1")
    after = tool.fingerprints(_mutants(tmp_path / "after", swapped))
    name = "fusebook.efuse.demo.x_f__mutmut_1"
    kinds = {name: ("equivalent", before[name])}
    assert tool.stale(kinds, {name: "survived"}, before) == {}
    assert "another edit" in tool.stale(kinds, {name: "survived"}, after)[name]


@pytest.mark.parametrize(("status", "mark", "why"), [
    (None, "00000000", "no such mutant"),
    ("killed", "00000000", "listed, but killed"),
    ("survived", None, "no fingerprint"),
])
def test_each_reason_a_review_stops_standing(status: str | None, mark: str | None, why: str) -> None:
    name = "fusebook.efuse.demo.x_f__mutmut_1"
    statuses = {} if status is None else {name: status}
    found = tool.stale({name: ("equivalent", mark)}, statuses, {name: "00000000"})
    assert why in found[name]


def test_a_review_of_a_mutant_not_run_yet_is_left_standing() -> None:
    name = "fusebook.efuse.demo.x_f__mutmut_1"
    assert tool.stale({name: ("equivalent", "00000000")}, {name: "not checked"}, {name: "00000000"}) == {}


def test_stamp_writes_fingerprints_only_where_missing(tmp_path: Path) -> None:
    listed = tmp_path / "reviewed.txt"
    listed.write_text("# header\n\nfusebook.efuse.demo.x_f__mutmut_1  # equivalent: why\n"
                      "fusebook.efuse.demo.x_f__mutmut_2  @12345678  # wording: why\n", encoding="utf-8")
    prints = tool.fingerprints(_mutants(tmp_path))
    assert tool.stamp(listed, prints) == 1
    kinds = tool.reviewed(listed)
    assert kinds["fusebook.efuse.demo.x_f__mutmut_1"] == ("equivalent", prints["fusebook.efuse.demo.x_f__mutmut_1"])
    assert kinds["fusebook.efuse.demo.x_f__mutmut_2"] == ("wording", "12345678")


@pytest.mark.parametrize("line", [
    "fusebook.efuse.demo.x_f__mutmut_1  # equivelant: typo in the kind",
    "fusebook.efuse.demo.x_f__mutmut_1  equivalent: the # is missing",
    "fusebook.efuse.demo.x_f__mutmut_1  @12  # equivalent: a fingerprint too short",
])
def test_a_malformed_line_is_an_error_not_a_silent_skip(tmp_path: Path, line: str) -> None:
    listed = tmp_path / "reviewed.txt"
    listed.write_text(f"# header\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reviewed.txt:2"):
        tool.reviewed(listed)


def test_a_mutant_listed_twice_is_an_error(tmp_path: Path) -> None:
    listed = tmp_path / "reviewed.txt"
    entry = "fusebook.efuse.demo.x_f__mutmut_1  # equivalent: why\n"
    listed.write_text(entry * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="listed twice"):
        tool.reviewed(listed)


def test_the_project_list_is_well_formed() -> None:
    kinds = tool.reviewed()
    assert kinds, "tools/mutation_equivalent.txt lists no reviewed survivor"
    assert all(name.startswith("fusebook.") for name in kinds)
