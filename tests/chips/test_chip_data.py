"""Chip data files against their schema and against espefuse/esptool, fact by fact.

The data is generated from espefuse's tables; these tests re-derive what espefuse and
esptool do at run time (timing writes, error-register layouts, revision numbers, key
purposes, revision-specific tables) and compare.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from fusebook.chips.loader import DATA_DIR, chip_names, load_chip
from fusebook.chips.models import ChipDef
from tests.differential.espefuse_tables import memoised_tables


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


SCHEMA = json.loads((DATA_DIR.parent / "chip.schema.json").read_text())
DATA_FILES = sorted(DATA_DIR.glob("*.yaml"))
CHIPS = chip_names()


def _espefuse(chip: str, revision: int = 0, efuse_file: Path | None = None) -> Any:
    from espefuse import init_commands

    with contextlib.redirect_stdout(io.StringIO()):
        if revision:
            assert efuse_file is not None
            emu_mod = importlib.import_module(f"espefuse.efuse.{chip}.emulate_efuse_controller")
            emu = emu_mod.EmulateEfuseController(str(efuse_file))
            emu.set_chip_revision(revision)
            emu.save_to_file()
        return init_commands(chip=chip, virt=True,
                             virt_efuse_file=str(efuse_file) if efuse_file else None).efuses


# -- schema ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", DATA_FILES, ids=[p.stem for p in DATA_FILES])
def test_data_file_matches_schema(path: Path) -> None:
    data = YAML(typ="safe").load(path.read_text())
    jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_a_misspelt_key() -> None:
    data = YAML(typ="safe").load((DATA_DIR / "esp32c3.yaml").read_text())
    data["fields"][0]["wr_dsi"] = 3
    with pytest.raises(jsonschema.ValidationError, match="wr_dsi"):
        jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("chip", CHIPS)
def test_every_chip_loads_with_consistent_fields(chip: str) -> None:
    c = load_chip(chip)
    for f in c.fields:
        assert f.mask >> (32 * c.blocks[f.block].words) == 0, f"{f.name} leaves its block"
        if f.parts:
            assert sum(p.bits for p in f.parts) == f.bits
    for b in c.blocks:
        if b.key_purpose_field:
            assert c.field(b.key_purpose_field).klass == "keypurpose"
    for name in c.postponed:
        assert c.field(name).block == 0
    for kp in c.key_purposes:
        if kp.target:
            assert c.has_field(kp.target)
        for n in kp.sets:
            assert c.has_field(n)


# -- controller facts against espefuse -------------------------------------------------
@pytest.mark.parametrize("chip", CHIPS)
def test_block_error_layout_is_espefuses(chip: str) -> None:
    c = load_chip(chip)
    regs = importlib.import_module(f"espefuse.efuse.{chip}.mem_definition").EfuseDefineRegisters
    addr = {v: k for k, v in c.registers.items()}
    for blk in c.blocks[1:]:
        layout = c.block_errors[blk.id]
        if hasattr(regs, "BLOCK_ERRORS"):
            reg, mask, shift, bit = regs.BLOCK_ERRORS[blk.id]
            want = (reg, bit, reg, mask, shift)
        elif hasattr(regs, "BLOCK_FAIL_BIT"):  # ESP32-C3: fail bits one block off (a design error)
            freg, bit = regs.BLOCK_FAIL_BIT[blk.id]
            nreg, mask, shift = regs.BLOCK_NUM_ERRORS[blk.id]
            want = (freg if bit is not None else None, bit, nreg, mask, shift)
        else:  # ESP32: espefuse reads one decode status register for every block; we split
            # its 12 bits into each block's four 3/4-coding groups, within espefuse's mask
            assert layout.fail_register == "EFUSE_REG_DEC_STATUS" and layout.count_register is None
            assert layout.fail_bits == 0xF << 4 * (blk.id - 1)
            assert layout.fail_bits & ~regs.EFUSE_REG_DEC_STATUS_MASK == 0
            continue
        got = (
            c.registers[layout.fail_register] if layout.fail_register else None, layout.fail_bit,
            c.registers[layout.count_register] if layout.count_register else None,
            layout.count_mask, layout.count_shift,
        )
        if want[3] is None:  # no error count for this block
            want = (want[0] if want[1] is not None else None, want[1], None, None, None)
        assert got == want, f"{blk.name}: {[addr.get(x, x) for x in got]}"


def _espefuse_timing(chip: str, xtal: int) -> list[tuple[int, int, int]]:
    efuses = _espefuse(chip)
    calls: list[tuple[int, int, int]] = []
    efuses.update_reg = lambda addr, mask, value: calls.append((addr, mask, value))  # type: ignore[method-assign]
    efuses.get_crystal_freq = lambda: xtal  # type: ignore[method-assign]
    with contextlib.redirect_stdout(io.StringIO()):
        if chip == "esp32":
            efuses.write_reg = lambda *a, **k: None  # type: ignore[method-assign]
            efuses.efuse_perform_write = lambda: None  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                efuses.write_efuses(0)
        else:
            efuses.set_efuse_timing()
    return calls


@pytest.mark.parametrize("chip", CHIPS)
def test_programming_timing_is_what_espefuse_writes(chip: str) -> None:
    c = load_chip(chip)
    for xtal, steps in c.timing.items():
        ours = [(c.registers[s.register], s.mask, s.value) for s in steps]
        assert _espefuse_timing(chip, xtal) == ours, xtal
    # crystals the table does not list are refused by espefuse too (where it checks)
    if c.timing and chip not in ("esp32", "esp32s2"):
        from esptool import FatalError

        with pytest.raises((FatalError, KeyError)):
            _espefuse_timing(chip, 24)


@pytest.mark.parametrize("chip", CHIPS)
def test_key_purposes_are_espefuses(chip: str) -> None:
    c = load_chip(chip)
    fields = importlib.import_module(f"espefuse.efuse.{chip}.fields")
    if not hasattr(fields, "EfuseKeyPurposeField"):
        assert c.key_purposes == ()
        return
    theirs = [(n, v, d == "DIGEST", r == "Reverse", p == "need_rd_protect")
              for (n, v, d, r, p) in fields.EfuseKeyPurposeField.KEY_PURPOSES]
    ours = [(k.name, k.value, k.digest, k.reverse, k.read_protect) for k in c.key_purposes]
    assert ours == theirs


# -- revisions ---------------------------------------------------------------------------
class _Regs:
    """Enough of esptool's loader for its targets' revision methods: read_reg over words."""

    def __init__(self, chip: ChipDef, words: dict[int, int]) -> None:
        self.words = words

    def read_reg(self, addr: int) -> int:
        return self.words.get(addr, 0)

    def read_efuse(self, n: int) -> int:  # ESP32: BLOCK0 word n
        return self.words.get(self.block0 + 4 * n, 0)


def _esptool_revision(chip: ChipDef, words: dict[int, int]) -> tuple[int, int]:
    from esptool import targets

    cls = targets.CHIP_DEFS[chip.name]
    obj = cls.__new__(cls)
    regs = _Regs(chip, words)
    regs.block0 = chip.blocks[0].read_addr  # type: ignore[attr-defined]
    obj.read_reg = regs.read_reg
    obj.read_efuse = regs.read_efuse
    return obj.get_major_chip_version(), obj.get_minor_chip_version()


@pytest.mark.parametrize("chip", CHIPS)
def test_revision_is_what_esptool_reads(chip: str) -> None:
    c = load_chip(chip)
    rng = random.Random(chip)
    names = [p.field for p in (*c.revision_major, *c.revision_minor)] + list(c.revision_zero_if)
    wanted = set(names)
    for trial in range(120):
        blocks = [0] * len(c.blocks)
        for name in names:
            if c.has_field(name):
                f = c.field(name)
                blocks[f.block] |= f.spread(rng.getrandbits(f.bits) if trial % 3 else
                                           c.revision_zero_if.get(name, 1))
        words = {
            b.read_addr + 4 * i: (blocks[b.id] >> (32 * i)) & 0xFFFFFFFF
            for b in c.blocks for i in range(b.words)
        }
        if chip == "esp32":
            words[c.registers["APB_CTL_DATE_ADDR"]] = 0  # v3 needs this register: not an eFuse
        raw = {f.name: f.gather(blocks[f.block]) for f in c.fields if f.name in wanted}
        assert c.revision_of(raw.__getitem__) == _esptool_revision(c, words)


@pytest.mark.parametrize("revision,stem", [
    (0, "esp32p4"), (199, "esp32p4"), (300, "esp32p4_v3.0"), (301, "esp32p4_v3.0"),
])
def test_esp32p4_table_follows_the_revision(revision: int, stem: str, tmp_path: Path) -> None:
    c = load_chip("esp32p4", revision)
    assert (c.variant or c.name) == stem
    theirs = _espefuse("esp32p4", revision, tmp_path / "p4.bin")
    names = {e.name for e in theirs.efuses if e.word is not None}
    ours = {f.name for f in c.fields if not f.parts or f.name.startswith("KEY_PURPOSE")}
    assert names <= {f.name for f in c.fields}
    assert ours - names <= {f.name for f in c.fields if f.category == "calibration"}


@pytest.mark.parametrize("revision,has_field", [(0, True), (101, True), (102, False), (200, False)])
def test_esp32h2_table_follows_the_revision(revision: int, has_field: bool, tmp_path: Path) -> None:
    c = load_chip("esp32h2", revision)
    assert c.has_field("ECDSA_FORCE_USE_HARDWARE_K") is has_field
    theirs = _espefuse("esp32h2", revision, tmp_path / "h2.bin")
    assert ("ECDSA_FORCE_USE_HARDWARE_K" in {e.name for e in theirs.efuses}) is has_field
    default = {f.name for f in load_chip("esp32h2").fields}
    assert default <= {f.name for f in c.fields}
    ecdsa = c.key_purpose("ECDSA_KEY")
    assert dict(ecdsa.sets) == ({"ECDSA_FORCE_USE_HARDWARE_K": 1} if has_field else {})


# -- facts the step kinds read -------------------------------------------------------------
@pytest.mark.parametrize("chip", CHIPS)
def test_step_facts_name_what_the_chip_has(chip: str) -> None:
    c = load_chip(chip)
    fv = c.flash_voltage
    if fv is not None:
        assert all(c.has_field(n) for n in (fv.force, fv.regulator, fv.tieh))
    mac = c.custom_mac
    assert all(c.has_field(n) for n in (mac.used, mac.crc, mac.version) if n is not None)
    for name in c.key_block_names:
        assert c.has_block(name) and c.block(name).id != 0, name
    if c.digest_block is not None:
        assert c.has_block(c.digest_block.block) and c.has_field(c.digest_block.enabled_by)
    assert bool(c.key_block_names) == (c.digest_block is not None) == (not c.key_purposes), \
        "the block-name facts belong to chips without key purposes"
    names = {kp.name for kp in c.key_purposes}
    for kp in c.key_purposes:
        assert (kp.split is not None) == (kp.value < 0), kp.name  # espefuse's virtual purposes
        assert kp.split is None or set(kp.split) <= names, kp.name


@pytest.mark.parametrize("chip", CHIPS)
def test_step_facts_are_where_espefuse_has_the_command(chip: str) -> None:
    """set_flash_voltage where espefuse's operations burn the regulator fields; the custom
    MAC's extras where its burn_custom_mac burns more than CUSTOM_MAC."""
    ops = (Path(importlib.import_module(f"espefuse.efuse.{chip}.operations").__file__ or "")).read_text()
    c = load_chip(chip)
    body = ops.split("def set_flash_voltage(self", 1)[1][:600] if "def set_flash_voltage(self" in ops else ""
    burns_regulator = bool(body) and "not supported" not in body
    assert (c.flash_voltage is not None) == burns_regulator
    if c.flash_voltage is not None:
        assert all(f'"{n}"' in ops for n in (c.flash_voltage.force, c.flash_voltage.regulator,
                                             c.flash_voltage.tieh))
    extras = [n for n in (c.custom_mac.used, c.custom_mac.version) if n is not None]
    assert extras == [n for n in ("CUSTOM_MAC_USED", "MAC_VERSION") if f'"{n}"' in ops]
