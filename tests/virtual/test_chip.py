"""The virtual controller behaves like the silicon at register level."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.chips.loader import load_chip
from fusebook.commit import commit
from fusebook.drivers.controller import controller_for
from fusebook.efuse import coding
from fusebook.efuse.image import EfuseImage
from fusebook.errors import BurnError
from fusebook.virtual.chip import VirtualChip

from ..plan.helpers import plan

C3 = load_chip("esp32c3")


def test_program_command_burns_only_the_addressed_block() -> None:
    vc = VirtualChip(C3)
    regs = C3.registers
    pgm = regs["EFUSE_PGM_DATA0_REG"]
    words = coding.rs_encode(b"\x5a" * 32)
    for i, w in enumerate(words):
        vc.write(pgm + 4 * i, w)
    vc.write(regs["EFUSE_CONF_REG"], C3.constants["EFUSE_WRITE_OP_CODE"])
    vc.write(regs["EFUSE_CMD_REG"], C3.constants["EFUSE_PGM_CMD"] | (3 << 2))
    image = vc.image()
    assert image.block_bytes(3) == b"\x5a" * 32
    assert sum(image.blocks) == image.blocks[3]
    assert vc.read(pgm) == 0  # write registers cleared
    assert vc.read(regs["EFUSE_CMD_REG"]) == 0


def test_bad_rs_parity_sets_the_block_fail_flag() -> None:
    vc = VirtualChip(C3)
    ctl = controller_for(vc, C3)
    words = list(coding.rs_encode(b"\x01" * 32))
    words[9] ^= 1
    ctl.program(C3.blocks[3], tuple(words))
    assert ctl.block_status(3).fail


def test_write_protected_bits_do_not_burn() -> None:
    vc = VirtualChip(C3)
    ctl = controller_for(vc, C3)
    locked = plan(C3, EfuseImage.blank(C3), {"write_protect_efuse": ["SOFT_DIS_JTAG"]})
    commit(locked, ctl)
    f = C3.field("SOFT_DIS_JTAG")
    ctl.program(C3.blocks[0], tuple(((7 << f.start) >> (32 * i)) & 0xFFFFFFFF for i in range(6)))
    assert vc.image().raw("SOFT_DIS_JTAG") == 0


def test_a_failed_program_is_retried_and_verified(tmp_path: Path) -> None:
    vc = VirtualChip(C3, tmp_path / "c3.bin")
    vc.fail_next_programs = 2
    p = plan(C3, vc.image(), {"burn_custom_mac": "02:00:00:00:00:01"})
    result = commit(p, controller_for(vc, C3))
    assert result.retries == 2 and result.programs == 3
    assert vc.image().blocks == p.after.blocks


def test_a_block_that_never_takes_stops_with_a_report() -> None:
    vc = VirtualChip(C3)
    vc.fail_next_programs = 3
    p = plan(C3, vc.image(), {"burn_custom_mac": "02:00:00:00:00:01"},
             {"burn_efuse": {"DIS_USB_JTAG": 1}})
    with pytest.raises(BurnError) as e:
        commit(p, controller_for(vc, C3))
    assert "not done: BLOCK0 (data)" in e.value.message
    assert vc.image().raw("DIS_USB_JTAG") == 0  # nothing after the failed block


def test_state_persists_in_espefuse_layout(tmp_path: Path) -> None:
    f = tmp_path / "chip.bin"
    vc = VirtualChip(C3, f)
    commit(plan(C3, vc.image(), {"burn_efuse": {"SECURE_VERSION": 9}}), controller_for(vc, C3))
    assert f.stat().st_size == C3.mem_size
    assert VirtualChip(C3, f).image().raw("SECURE_VERSION") == 9
    # byte-reversed register window: BLOCK0 word 4 (SECURE_VERSION) as espefuse stores it
    off = C3.blocks[0].read_addr - C3.base + 16
    raw = f.read_bytes()[::-1]
    assert int.from_bytes(raw[off : off + 4], "little") == vc.image().words(0)[4]
