"""A corpus of custom eFuse table shapes (tests/chips/tables/*.csv) against espefuse.

Each file is one shape as projects write them (comment banners, tabs, CRLF, split and
nested fields, 1- to 168-bit fields, overlaps, and invalid ones). On every chip, fusebook
and espefuse must load the table alike or refuse it alike; where it loads they must see
the same fields, every field alone must set the same bits of the same block, and all
fields burned at once must leave the same blocks. A file says in comments what it expects:

    # refuses: LINE TEXT          fusebook refuses at LINE with TEXT in the message (all chips)
    # warns (CHIP ...): LINE A B  on these chips, a warning at LINE names A and B
    # espefuse: refuses           a deliberate difference (fusebook loads), said in docs/chips.md
    # espefuse: accepts           a deliberate difference (fusebook refuses), said in docs/chips.md
"""

from __future__ import annotations

import contextlib
import io
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from espefuse import init_commands

from fusebook.chips.custom_table import load_table
from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef, FieldDef
from fusebook.commit import commit
from fusebook.drivers.controller import controller_for
from fusebook.efuse import codecs
from fusebook.errors import InputError
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan
from fusebook.snapshot.formats import from_efuse_file
from fusebook.virtual.chip import VirtualChip
from tests.differential.espefuse_tables import memoised_tables

TABLES = Path(__file__).parent / "tables"
CASES = sorted(TABLES.glob("*.csv"))


@dataclass
class Expect:
    refuses: tuple[int, str] | None = None
    warns: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    espefuse_refuses: bool = False
    espefuse_accepts: bool = False


def _expect(text: str) -> Expect:
    e = Expect()
    for line in text.splitlines():
        if m := re.match(r"# refuses: (\d+) (.+)$", line):
            e.refuses = (int(m.group(1)), m.group(2).strip())
        elif m := re.match(r"# warns \(([^)]*)\): (\d+) (.+)$", line):
            for chip in m.group(1).split():
                e.warns[chip] = (int(m.group(2)), m.group(3).split())
        elif line.strip() == "# espefuse: refuses":
            e.espefuse_refuses = True
        elif line.strip() == "# espefuse: accepts":
            e.espefuse_accepts = True
    return e


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


@contextlib.contextmanager
def _espefuse(chip: str, efuse_file: Path, table: Path) -> Iterator[Any]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            table.open(newline="") as f, init_commands(chip=chip, virt=True, virt_efuse_file=str(efuse_file),
                                                       do_not_confirm=True, extend_efuse_table=f) as cmds:
        yield cmds


def _espefuse_loads(chip: str, efuse_file: Path, table: Path) -> bool:
    try:
        with _espefuse(chip, efuse_file, table):
            return True
    except BaseException:  # noqa: B036 - espefuse refuses a table with any exception (or exit)
        return False


def _burnable(chip: ChipDef, added: list[FieldDef]) -> list[FieldDef]:
    """The custom fields as espefuse names them (parts of a split field, not the whole)."""
    return [f for f in added if not f.parts]


def _values(chip: ChipDef, fields: list[FieldDef], seed: str) -> dict[str, Any]:
    """A value per field, all cut from one random content per block, so overlapping
    fields agree and can be burned at once; never 0 (a no-op fusebook refuses)."""
    rng = random.Random(seed)
    pattern = {b.id: rng.getrandbits(b.words * 32) for b in chip.blocks}
    for f in fields:  # make every field non-zero in the shared content
        if not f.gather(pattern[f.block]):
            pattern[f.block] |= 1 << f.start
    out: dict[str, Any] = {}
    for f in fields:
        raw = f.gather(pattern[f.block])
        out[f.name] = raw.to_bytes(f.bits // 8, "little").hex() if f.type == "bytes" else raw
    return out


def _for_espefuse(f: FieldDef, value: Any) -> Any:
    """espefuse's API takes byte fields as bytes in memory order, numbers as text."""
    return bytes.fromhex(value) if f.type == "bytes" else str(value)


def _espefuse_type(f: FieldDef) -> str:
    return "bool" if f.type == "bool" else f"bytes:{f.bits // 8}" if f.type == "bytes" else f"uint:{f.bits}"


@pytest.mark.parametrize("chip_name", chip_names())
@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_table_loads_and_burns_like_espefuse(case: Path, chip_name: str, tmp_path: Path) -> None:
    text = case.read_bytes().decode()
    expect = _expect(text)
    base = load_chip(chip_name, 0)
    theirs = tmp_path / "espefuse.bin"
    espefuse_loads = _espefuse_loads(chip_name, theirs, case)
    try:
        table = load_table(base, text, str(case))
    except InputError as e:
        assert espefuse_loads == expect.espefuse_accepts, f"espefuse and fusebook differ: {e.render()}"
        assert e.location is not None and e.location.file == str(case)
        if expect.refuses is not None:
            line, words = expect.refuses
            assert e.location.line == line and words in e.message, e.render()
        return
    assert expect.refuses is None and not expect.espefuse_accepts, f"fusebook must refuse {case.name}"
    if expect.espefuse_refuses:
        assert not espefuse_loads, "a difference the corpus states no longer holds"
        return
    assert espefuse_loads, "fusebook loads what espefuse refuses"

    # warnings: where the file says, naming both fields; never on a table without overlaps
    if chip_name in expect.warns:
        line, names = expect.warns[chip_name]
        assert any(w.location.line == line and all(n in w.message for n in names)
                   for w in table.warnings), [str(w) for w in table.warnings]
    chip = table.chip
    added = [f for f in chip.fields if not base.has_field(f.name)]
    fields = _burnable(chip, added)
    values = _values(chip, fields, f"{case.stem}/{chip_name}")

    ours = tmp_path / "fusebook.bin"
    VirtualChip(chip, ours).save()
    theirs.write_bytes(ours.read_bytes())
    with _espefuse(chip_name, theirs, case) as cmds:
        shown = {e.name: e for e in cmds.efuses.efuses if e.category == "User"}
        assert sorted(shown) == sorted(f.name for f in fields)
        for f in fields:
            e = shown[f.name]
            assert (e.block, e.word * 32 + e.pos, e.bit_len, e.efuse_type) == \
                (f.block, f.start, f.bits, _espefuse_type(f)), f.name
            assert sorted(e.alt_names) == sorted(f.aliases), f.name
            # every field alone: the bits espefuse would program, against fusebook's
            blk = cmds.efuses.blocks[f.block]
            e.save(_for_espefuse(f, values[f.name]))
            assert blk.wr_bitarray.uint == f.spread(codecs.encode_value(chip, f, values[f.name])), f.name
            blk.wr_bitarray.set(0)
        if fields:  # all fields at once, through espefuse's own burn
            cmds.use_batch_mode()
            cmds.burn_efuse({f.name: _for_espefuse(f, values[f.name]) for f in fields})
            cmds.burn_all()
    if not fields:
        return
    ctl = controller_for(VirtualChip(chip, ours), chip)
    image = ctl.read_image()
    commit(build_plan(chip, image, step_requests(chip, image, [Operation("burn_efuse", values)])), ctl)
    assert from_efuse_file(ours, chip).blocks == from_efuse_file(theirs, chip).blocks
