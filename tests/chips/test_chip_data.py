"""Chip data files against their model, schema and compiled form, and against espefuse/esptool.

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
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from fusebook.chips import compile, loader
from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef
from tests.differential.espefuse_tables import memoised_tables


@pytest.fixture(scope="module", autouse=True)
def _fast_espefuse_tables() -> Iterator[None]:
    yield from memoised_tables()


SCHEMA = json.loads(compile.SCHEMA_FILE.read_text())
STEMS = compile.stems()
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


# -- the model, its schema and the compiled tables -------------------------------------
@pytest.mark.parametrize("stem", STEMS)
def test_data_file_matches_the_generated_schema(stem: str) -> None:
    jsonschema.validate(compile.source(stem), SCHEMA, cls=jsonschema.Draft202012Validator)


def test_the_checked_in_schema_is_what_the_model_gives() -> None:
    assert compile.SCHEMA_FILE.read_text() == compile.schema_text(), "run `make chipdata`"


def test_a_misspelt_key_is_refused_by_the_model_and_the_schema() -> None:
    data = compile.source("esp32c3")
    data["fields"][0]["wr_dsi"] = 3
    with pytest.raises(ValidationError, match="wr_dsi"):
        compile.validate(data)
    with pytest.raises(jsonschema.ValidationError, match="wr_dsi"):
        jsonschema.validate(data, SCHEMA, cls=jsonschema.Draft202012Validator)


def test_a_wrong_type_is_refused_with_where_it_is() -> None:
    data = compile.source("esp32c3")
    data["blocks"][2]["coding"] = "hamming"
    with pytest.raises(ValidationError, match=r"blocks\.2\.coding"):
        compile.validate(data)


@pytest.mark.parametrize("stem", STEMS)
def test_compiled_table_is_current(stem: str) -> None:
    path = compile.COMPILED_DIR / f"{stem}.json"
    assert path.read_text() == compile.compiled_text(stem), "run `make chipdata`"


def test_no_compiled_table_without_its_data_file() -> None:
    assert sorted(p.stem for p in compile.COMPILED_DIR.glob("*.json")) == list(STEMS)


@pytest.mark.parametrize("stem", STEMS)
def test_the_compiled_table_revives_as_the_validated_model(stem: str) -> None:
    validated = compile.validate(compile.source(stem))
    revived = compile.revive(json.loads((compile.COMPILED_DIR / f"{stem}.json").read_text())["chip"])
    assert revived == validated
    assert revived.link == validated.link and revived.timing == validated.timing
    assert all(type(f.parts) is tuple and type(f.aliases) is tuple for f in revived.fields)


def test_a_stale_compiled_table_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = json.loads((compile.COMPILED_DIR / "esp32c3.json").read_text())
    stale["source_sha256"] = "0" * 64
    stale["chip"]["description"] = "a table compiled from other data"
    (tmp_path / "esp32c3.json").write_text(json.dumps(stale))
    monkeypatch.setattr(loader, "COMPILED_DIR", tmp_path)
    assert loader._build.__wrapped__("esp32c3").description == "ESP32-C3"
    stale["source_sha256"] = compile.source_digest("esp32c3")
    (tmp_path / "esp32c3.json").write_text(json.dumps(stale))
    assert loader._build.__wrapped__("esp32c3").description == "a table compiled from other data"


@pytest.mark.parametrize("damage", [b"", b'{"source_sha256": ', b"[1, 2]", b'{"chip": {}}', b"\xff\xfe"])
def test_a_damaged_compiled_table_falls_back_to_the_yaml(damage: bytes, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "esp32c3.json").write_bytes(damage)
    monkeypatch.setattr(loader, "COMPILED_DIR", tmp_path)
    assert loader._build.__wrapped__("esp32c3") == compile.validate(compile.source("esp32c3"))


def test_a_damaged_compiled_table_with_the_right_digest_falls_back_too(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "esp32c3.json").write_text(json.dumps(
        {"source_sha256": compile.source_digest("esp32c3"), "chip": {"name": "esp32c3"}}))
    monkeypatch.setattr(loader, "COMPILED_DIR", tmp_path)
    assert loader._build.__wrapped__("esp32c3").description == "ESP32-C3"


def test_a_revision_table_takes_the_chip_sections_from_its_chip() -> None:
    v3 = load_chip("esp32p4", 300)
    assert v3.variant == "esp32p4_v3.0"
    assert v3.link == load_chip("esp32p4").link and v3.secure_boot == load_chip("esp32p4").secure_boot


@pytest.mark.parametrize("stem", STEMS)
def test_every_table_cross_checks(stem: str) -> None:
    """Every name a table uses is defined in it: fields, blocks, registers, constants."""
    c = compile.validate(compile.source(stem))
    regs, consts = set(c.registers), set(c.constants)
    assert [b.id for b in c.blocks] == list(range(len(c.blocks)))
    assert c.constants.get("EFUSE_MEM_SIZE", c.mem_size) == c.mem_size
    for f in c.fields:
        assert f.block < len(c.blocks), f.name
    for name in (*c.error_registers, *c.block0_error_registers, *(r.register for r in c.revision_registers),
                 *(u.register for steps in c.timing.values() for u in steps)):
        assert name in regs, name
    for e in c.block_errors:
        assert {n for n in (e.fail_register, e.count_register) if n} <= regs
    assert len(c.block_errors) <= len(c.blocks)
    assert c.commands.register in regs and {c.commands.program, c.commands.read} <= consts
    assert (c.commands.block_shift is None) == (c.family == "esp32")
    for name in c.secret_blocks:
        assert c.has_block(name) and not c.block(name).key_purpose_field
    for name in (*c.postponed, *(g for group in c.incompatible for g in group),
                 *(p.field for p in (*c.revision_major, *c.revision_minor)), *c.revision_zero_if):
        assert c.has_field(name), name
    for purpose_field in c.forbidden_purposes:
        assert c.field(purpose_field).klass == "keypurpose"
    link = c.link
    assert link.name == c.name and link.chip_name == c.rom.chip_name == c.description
    assert (link.chip_id is None) != (link.magic is None)
    for name in (link.download_disable_field, link.secure_download_field):
        assert name is None or c.has_field(name), name
    assert c.secure_boot.schemes is None or len(set(c.secure_boot.schemes)) == len(c.secure_boot.schemes)
    assert set(c.secure_boot.caveats) <= {*(c.secure_boot.schemes or ()), "*"}


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


def test_only_the_controller_dispatch_branches_on_the_family() -> None:
    """Chip facts are data: only drivers/controller.py picks code by family."""
    package = Path(compile.__file__).resolve().parents[1]
    branching = sorted(
        str(p.relative_to(package)) for p in package.rglob("*.py")
        if re.search(r"\.family\s*[!=]=", p.read_text())
    )
    assert branching == ["drivers/controller.py"]
