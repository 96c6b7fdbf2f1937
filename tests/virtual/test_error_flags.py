"""Block error flags: set by a failed program, kept with the stored content, refused by the planner."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef
from fusebook.commit import commit
from fusebook.drivers.controller import controller_for
from fusebook.efuse.flags import all_block_flags, damaged_blocks
from fusebook.efuse.image import EfuseImage
from fusebook.errors import BurnError, PlanError
from fusebook.virtual.chip import VirtualChip

from ..plan.helpers import plan

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")


def _fail_custom_mac(chip: ChipDef, vc: VirtualChip, mac: str = "02:00:00:00:00:01") -> None:
    vc.fail_next_programs = 3
    p = plan(chip, vc.image(), {"burn_custom_mac": mac})
    with pytest.raises(BurnError, match="error flags set"):
        commit(p, controller_for(vc, chip))


def test_a_failed_rs_program_stays_flagged_in_a_fresh_process(tmp_path: Path) -> None:
    f = tmp_path / "c3.bin"
    vc = VirtualChip(C3, f)
    _fail_custom_mac(C3, vc)
    blk = C3.field("CUSTOM_MAC").block
    again = VirtualChip(C3, f)  # a new process reading the same file
    ctl = controller_for(again, C3)
    ctl.read_command()
    assert [d.name for d in damaged_blocks(C3, ctl.read_image().errors)] == [C3.blocks[blk].name]
    # a program of another block leaves the damaged block's flags alone
    commit(plan(C3, again.image(), {"burn_efuse": {"SECURE_VERSION": 1}}), ctl)
    flags = ctl.read_image()
    assert not all_block_flags(C3, flags.errors)[blk].ok
    assert all_block_flags(C3, flags.errors)[0].ok


def test_a_later_plan_touching_the_flagged_block_is_refused(tmp_path: Path) -> None:
    vc = VirtualChip(C3, tmp_path / "c3.bin")
    _fail_custom_mac(C3, vc)
    image = controller_for(vc, C3).read_image()
    blk = C3.blocks[C3.field("CUSTOM_MAC").block]
    with pytest.raises(PlanError, match=rf"writes {blk.name}.*fail"):
        plan(C3, image, {"burn_custom_mac": "02:00:00:00:00:02"})
    with pytest.raises(PlanError, match=rf"write-protects {blk.name}"):
        plan(C3, image, {"write_protect_efuse": ["CUSTOM_MAC"]})
    # other blocks are still fine
    assert plan(C3, image, {"burn_efuse": {"SECURE_VERSION": 1}}).writes


def test_esp32_34_coding_failure_flags_only_that_blocks_groups(tmp_path: Path) -> None:
    f = tmp_path / "esp32.bin"
    vc = VirtualChip(ESP32, f)
    ctl = controller_for(vc, ESP32)
    commit(plan(ESP32, vc.image(), {"burn_efuse": {"CODING_SCHEME": 1}}), ctl)
    vc.fail_next_programs = 3
    with pytest.raises(BurnError, match="error flags set"):
        commit(plan(ESP32, vc.image(), {"burn_block_data": {"block": "BLOCK3", "data": "11" * 24}}), ctl)
    again = VirtualChip(ESP32, f)
    image = controller_for(again, ESP32).read_image()
    status = image.errors["EFUSE_REG_DEC_STATUS"]
    assert status & 0xF00 and not status & 0xFF
    with pytest.raises(PlanError, match=r"BLOCK3.*EFUSE_REG_DEC_STATUS bit 8"):
        plan(ESP32, image, {"burn_block_data": {"block": "BLOCK3", "data": "22" * 6}})
    with pytest.raises(PlanError, match="read-protects BLOCK3"):
        plan(ESP32, image, {"read_protect_efuse": ["BLOCK3"]})
    assert plan(ESP32, image, {"burn_key": {"block": "flash_encryption", "data": bytes(range(1, 25)).hex()}}).writes


def test_esp32_none_coding_failure_leaves_no_flag_and_can_be_burned_again() -> None:
    """Under NONE coding the ESP32 has no decoder to flag anything: the read-back catches it."""
    vc = VirtualChip(ESP32)
    vc.fail_next_programs = 3
    with pytest.raises(BurnError, match="not all bits set"):
        commit(plan(ESP32, vc.image(), {"burn_block_data": {"block": "BLOCK3", "data": "11" * 32}}),
               controller_for(vc, ESP32))
    image = vc.image()
    assert not damaged_blocks(ESP32, image.errors)
    assert plan(ESP32, image, {"burn_block_data": {"block": "BLOCK3", "data": "11" * 32}}).writes


def test_a_retry_that_completes_the_block_clears_its_flags() -> None:
    vc = VirtualChip(C3)
    vc.fail_next_programs = 2
    commit(plan(C3, vc.image(), {"burn_custom_mac": "02:00:00:00:00:01"}), controller_for(vc, C3))
    assert not damaged_blocks(C3, vc.image().errors)


# -- the planner check on every chip, from images with error bits set ---------------------


def _flagged(chip: ChipDef, block_id: int) -> dict[str, int]:
    errors = dict.fromkeys(chip.error_registers, 0)
    if block_id == 0:
        errors[chip.block0_error_registers[0]] |= 1
        return errors
    layout = chip.block_errors[block_id]
    if layout.fail_register and layout.fail_bits:
        errors[layout.fail_register] |= layout.fail_bits & -layout.fail_bits
    else:
        assert layout.count_register and layout.count_mask
        errors[layout.count_register] |= 1 << (layout.count_shift or 0)
    return errors


def _chip_cases() -> list[tuple[str, int]]:
    out = []
    for name in chip_names():
        chip = load_chip(name)
        for blk in chip.blocks[1:]:
            layout = chip.block_errors[blk.id] if blk.id < len(chip.block_errors) else None
            if layout and (layout.fail_bits or layout.count_mask):
                out.append((name, blk.id))
    return out


CASES = _chip_cases()


@pytest.mark.parametrize(("name", "block_id"), CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_every_flagged_block_refuses_writes_and_locks(name: str, block_id: int) -> None:
    chip = load_chip(name)
    blk = chip.blocks[block_id]
    image = EfuseImage(chip, tuple(0 for _ in chip.blocks), _flagged(chip, block_id))
    assert [d.block for d in damaged_blocks(chip, image.errors)] == [block_id]
    with pytest.raises(PlanError, match=f"writes {blk.name}") as e:
        plan(chip, image, {"burn_bit": {"block": blk.name, "bits": [0]}})
    assert e.value.exit_code == 3
    if blk.wr_dis is not None:
        with pytest.raises(PlanError, match=f"write-protects {blk.name}"):
            plan(chip, image, {"write_protect_efuse": [blk.name]})
    if blk.key_purpose_field:
        purpose = next(kp.name for kp in chip.key_purposes if kp.name == "USER" or kp.value == 0)
        other = next((kp.name for kp in chip.key_purposes if kp.name != purpose and not kp.digest
                      and "ECDSA" not in kp.name and "XTS" not in kp.name), None)
        if other is not None:
            with pytest.raises(PlanError, match=f"key purpose of {blk.name}"):
                plan(chip, image, {"burn_efuse": {blk.key_purpose_field: other}})
    # the same image without flags plans, and another block is not refused
    clean = EfuseImage(chip, image.blocks, dict.fromkeys(chip.error_registers, 0))
    assert plan(chip, clean, {"burn_bit": {"block": blk.name, "bits": [0]}}).writes
    other_blk = next(b for b in chip.blocks[1:] if b.id != block_id)
    assert plan(chip, image, {"burn_bit": {"block": other_blk.name, "bits": [0]}}).writes


BLOCK0_CHIPS = [n for n in chip_names() if load_chip(n).block0_error_registers]


@pytest.mark.parametrize("name", BLOCK0_CHIPS)
def test_block0_repeat_errors_refuse_block0_writes(name: str) -> None:
    chip = load_chip(name)
    image = EfuseImage(chip, tuple(0 for _ in chip.blocks), _flagged(chip, 0))
    with pytest.raises(PlanError, match=rf"writes BLOCK0.*{chip.block0_error_registers[0]} bit 0"):
        plan(chip, image, {"burn_bit": {"block": "BLOCK0", "bits": [40]}})
    assert plan(chip, image, {"burn_bit": {"block": chip.blocks[-1].name, "bits": [0]}}).writes


# -- ESP32 revision ---------------------------------------------------------------------


@pytest.mark.parametrize(("rev1", "rev2", "apb", "want"), [
    (0, 0, 0, 0), (1, 0, 0, 100), (1, 1, 0, 200), (1, 1, 1, 300), (0, 0, 1, 0),
])
def test_esp32_major_revision_takes_apb_ctl_date(rev1: int, rev2: int, apb: int, want: int) -> None:
    vc = VirtualChip(ESP32, identity={"APB_CTL_DATE_ADDR": apb << 31})
    for name, on in (("CHIP_VER_REV1", rev1), ("CHIP_VER_REV2", rev2)):
        if on:
            f = ESP32.field(name)
            addr = ESP32.blocks[0].read_addr + 4 * f.word
            vc.write(addr, vc.read(addr) | (1 << f.pos))
    image = controller_for(vc, ESP32).read_image()
    assert image.revision == want
    assert image.identity == {"APB_CTL_DATE_ADDR": apb << 31}
