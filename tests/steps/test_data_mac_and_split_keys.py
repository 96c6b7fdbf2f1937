"""burn_block_data's placement and refusals, burn_custom_mac's version rule, and where the
second half of a two-block key goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from fusebook.secret import Secret
from tests.images import with_field
from tests.plan.helpers import plan
from tests.plan.helpers import refused_at_step as _refused

C3 = load_chip("esp32c3")


@pytest.mark.parametrize(("offset", "data", "message"), [
    (32, b"\x01", "burn_block_data: offset 32 is outside BLOCK_USR_DATA (32 bytes)"),
    (-1, b"\x01", "burn_block_data: offset -1 is outside BLOCK_USR_DATA (32 bytes)"),
    (30, b"\x01\x02\x03", "burn_block_data: 3 bytes at offset 30 do not fit BLOCK_USR_DATA (32 bytes)"),
])
def test_block_data_must_lie_inside_the_block(offset: int, data: bytes, message: str) -> None:
    assert _refused({"burn_block_data": {"block": "BLOCK3", "offset": offset, "data": data}}).message == message


def test_block_data_lands_at_its_offset_and_up_to_the_last_byte() -> None:
    blank = EfuseImage.blank(C3)
    p = plan(C3, blank, {"burn_block_data": {"block": "BLOCK3", "offset": 4, "data": b"\x01\x02"}})
    assert p.after.blocks[3] == 0x0201 << 32
    assert [(c.field, c.detail, c.secret) for c in p.changes] == [("BLOCK_USR_DATA", "bytes 4..5", False)]
    last = plan(C3, blank, {"burn_block_data": {"block": "BLOCK3", "offset": 31, "data": b"\x80"}})
    assert last.after.blocks[3] == 0x80 << 248


def test_secret_block_data_stays_secret_in_the_plan() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_block_data": {"block": "BLOCK3", "offset": 4,
                                                            "data": Secret(b"\x01\x02")}})
    assert [(c.field, c.secret, c.to_json()["after"]) for c in p.changes] == [("BLOCK_USR_DATA", True, "<secret>")]
    assert [w.secret for w in p.writes] == [True]


def test_block_data_bits_already_burned_must_match_exactly() -> None:
    burned = EfuseImage.blank(C3).with_blocks(
        tuple(0xFF if i == 3 else w for i, w in enumerate(EfuseImage.blank(C3).blocks)))
    e = _refused({"burn_block_data": {"block": "BLOCK3", "data": b"\x0f"}}, image=burned, cls=PlanError)
    assert "cannot go from 1 to 0" in e.message


def test_esp32_custom_mac_needs_mac_version_0_or_1() -> None:
    esp32 = load_chip("esp32")
    e = _refused({"burn_custom_mac": "02:00:00:00:00:01"}, esp32, with_field(EfuseImage.blank(esp32), "MAC_VERSION", 2),
                 PlanError)
    assert e.message == "burn_custom_mac: MAC_VERSION is 2; a custom MAC needs 0 or 1"
    ok = plan(esp32, with_field(EfuseImage.blank(esp32), "MAC_VERSION", 1), {"burn_custom_mac": "02:00:00:00:00:01"})
    assert "MAC_VERSION" not in [c.field for c in ok.changes]


def test_a_mac_that_is_not_a_mac_is_named_at_the_step() -> None:
    e = _refused({"burn_custom_mac": "zz"})
    assert (e.message, e.hint) == ("'zz' is not a MAC address", "write it as AA:BB:CC:DD:EE:FF")


def test_the_second_half_of_a_two_block_key_takes_the_next_free_block() -> None:
    s2 = load_chip("esp32s2")
    image = EfuseImage.blank(s2)
    for i in (0, 2, 3, 5):
        image = with_field(image, f"KEY_PURPOSE_{i}", 4)  # XTS_AES_128_KEY: taken
    p = plan(s2, image, {"burn_key": {"block": "BLOCK_KEY1", "purpose": "XTS_AES_256_KEY",
                                      "data": Secret(bytes(range(64)))}})
    assert [(c.field, c.after) for c in p.changes if "PURPOSE" in c.field] == [
        ("KEY_PURPOSE_1", "XTS_AES_256_KEY_1"), ("KEY_PURPOSE_4", "XTS_AES_256_KEY_2")]
    image = with_field(image, "KEY_PURPOSE_1", 4)
    e = _refused({"burn_key": {"block": "BLOCK_KEY4", "purpose": "XTS_AES_256_KEY",
                               "data": Secret(bytes(range(64)))}}, s2, image, PlanError)
    assert e.message == "burn_key: this key takes two free key blocks; only one is free"


@pytest.mark.parametrize(("args", "message"), [
    ({"block": "BLOCK3"}, "burn_block_data: burn_block_data needs `data:` (hex) or `file:`"),
    ({"block": "BLOCK3", "data": "zz"}, "burn_block_data is not hex bytes"),
    ({"block": "BLOCK3", "file": "d.bin"}, "burn_block_data: burn_block_data file 'd.bin' was not loaded"),
])
def test_block_data_that_cannot_be_read_is_refused_at_the_step(args: dict, message: str) -> None:
    assert _refused({"burn_block_data": args}).message == message


def _planned_from_file(tmp_path: Path, content: bytes | None) -> api.BurnPlan:
    if content is not None:
        (tmp_path / "d.bin").write_bytes(content)
    (tmp_path / "r.yaml").write_text("fusebook: 1\nname: r\nchip: esp32c3\nsteps:\n"
                                     "  - burn_block_data: {block: BLOCK3, offset: 2, file: d.bin}\n")
    return api.plan(api.load_recipe(tmp_path / "r.yaml"), api.load_snapshot("blank", "esp32c3")).plan


def test_block_data_from_a_file_is_plain_data_in_the_plan(tmp_path: Path) -> None:
    p = _planned_from_file(tmp_path, b"\x01\x02")
    assert [(c.field, c.detail, c.before, c.after, c.secret) for c in p.changes] == [
        ("BLOCK_USR_DATA", "bytes 2..3", "0000", "0102", False)]


def test_a_data_file_gone_by_planning_is_named_at_its_step(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        _planned_from_file(tmp_path, None)
    assert caught.value.message == "file d.bin: no such file"
    assert str(caught.value.location) == f"{tmp_path / 'r.yaml'}:5:5"
