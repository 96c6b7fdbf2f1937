"""What `validate` finds per step kind (names, protections, coding-scheme fit) and what
set_flash_voltage refuses once the regulator's fields are burned."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from tests.images import with_field
from tests.plan.helpers import plan

ESP32 = load_chip("esp32")
S3 = load_chip("esp32s3")



def _recipe(tmp_path: Path, chip: str, steps: str, head: str = "") -> Path:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"fusebook: 1\nname: r\nchip: {chip}\n{head}steps:\n{steps}")
    return recipe


def _problems(tmp_path: Path, chip: str, steps: str, image: EfuseImage | None = None) -> list[tuple[str, str]]:
    found = api.validate_recipe(_recipe(tmp_path, chip, steps), image)
    return [(type(p).__name__, f"{p.location.line}:{p.location.column} {p.message}") for p in found.problems]


def test_a_protection_of_a_name_without_that_disable_bit_is_named_where_it_stands(tmp_path: Path) -> None:
    c3 = load_chip("esp32c3")
    no_rd = next(f.name for f in c3.fields if f.block == 0 and not f.rd_dis and f.wr_dis is not None)
    assert _problems(tmp_path, "esp32c3", f"  - read_protect_efuse: [BLOCK_KEY0, {no_rd}]\n") == [
        ("InputError", f"5:38 {no_rd} has no read-disable bit on esp32c3")]
    assert _problems(tmp_path, "esp32c3", "  - write_protect_efuse: [BLOCK0]\n") == [
        ("InputError", "5:27 BLOCK0 has no write-disable bit on esp32c3")]
    assert _problems(tmp_path, "esp32c3", "  - write_protect_efuse: [BLOCK_KEY1, NO_SUCH]\n") == [
        ("InputError", "5:39 esp32c3 has no eFuse field 'NO_SUCH'")]


def test_a_field_past_a_3_4_coded_blocks_data_is_refused_with_where_the_data_ends(tmp_path: Path) -> None:
    coded = with_field(EfuseImage.blank(ESP32), "CODING_SCHEME", 1)
    found = _problems(tmp_path, "esp32", f"  - burn_efuse: {{BLOCK3: '{'ff' * 32}'}}\n", coded)
    assert found == [("PlanError", "5:18 BLOCK3 (bits 0..255 of BLOCK3) does not fit this chip: "
                                   "under its coding scheme BLOCK3 holds 192 data bits (0..191)")]
    assert _problems(tmp_path, "esp32", f"  - burn_efuse: {{BLOCK3: '{'ff' * 32}'}}\n", EfuseImage.blank(ESP32)) == []
    assert _problems(tmp_path, "esp32", "  - burn_efuse: {CUSTOM_MAC_CRC: 1}\n", coded) == []


def test_a_value_that_cannot_fit_its_field_is_named_at_the_value(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_efuse: {SOFT_DIS_JTAG: 9, DIS_USB_JTAG: 1}\n") == [
        ("InputError", "5:33 9 does not fit SOFT_DIS_JTAG (3 bits)")]


def test_the_regulator_cannot_be_turned_off_once_it_is_burned_on() -> None:
    on = with_field(EfuseImage.blank(S3), S3.flash_voltage.regulator, 1)  # type: ignore[union-attr]
    with pytest.raises(PlanError) as caught:
        plan(S3, on, {"set_flash_voltage": "OFF"})
    assert caught.value.message == "set_flash_voltage: cannot turn the regulator OFF: VDD_SPI_XPD is already burned"
    assert str(caught.value.location) == "r.yaml:1:5"
    assert plan(S3, on, {"set_flash_voltage": "1.8V"}).writes


def test_1_8v_cannot_be_set_once_3_3v_is_burned() -> None:
    tieh = S3.flash_voltage.tieh  # type: ignore[union-attr]
    at_3v3 = with_field(EfuseImage.blank(S3), tieh, 1)
    with pytest.raises(PlanError) as caught:
        plan(S3, at_3v3, {"set_flash_voltage": "1.8V"})
    assert caught.value.message == f"set_flash_voltage: cannot set 1.8V: {tieh} is already burned"
    assert str(caught.value.location) == "r.yaml:1:5"
    assert plan(S3, at_3v3, {"set_flash_voltage": "OFF"}).writes


@pytest.mark.parametrize(("voltage", "burned"), [
    ("OFF", {"force"}), ("1.8V", {"force", "regulator"}), ("3.3V", {"force", "regulator", "tieh"})])
def test_each_voltage_burns_its_fields(voltage: str, burned: set[str]) -> None:
    fv = S3.flash_voltage
    assert fv is not None
    names = {"force": fv.force, "regulator": fv.regulator, "tieh": fv.tieh}
    p = plan(S3, EfuseImage.blank(S3), {"set_flash_voltage": voltage})
    assert {c.field for c in p.changes} == {names[k] for k in burned}


def test_a_chip_without_the_regulator_fields_refuses_the_step() -> None:
    chip = next(load_chip(n) for n in ("esp32c3", "esp32c6", "esp32h2") if load_chip(n).flash_voltage is None)
    with pytest.raises(InputError) as caught:
        plan(chip, EfuseImage.blank(chip), {"set_flash_voltage": "3.3V"})
    assert caught.value.message == f"set_flash_voltage: {chip.description} has no flash voltage regulator eFuses"
    assert str(caught.value.location) == "r.yaml:1:5"


def test_a_read_only_field_is_named_at_its_name(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_efuse: {SOFT_DIS_JTAG: 1, WAFER_VERSION_MINOR: 1}\n") == [
        ("InputError", "5:36 WAFER_VERSION_MINOR is computed or read-only on esp32c3 and cannot be burned")]


def test_a_templated_name_is_left_to_the_plan_and_the_names_after_it_are_checked(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_efuse: {\"{{ 'SOFT_DIS_JTAG' }}\": 1, NO_SUCH: 1}\n") == [
        ("InputError", "5:46 esp32c3 has no eFuse field 'NO_SUCH'")]


def test_a_key_purpose_is_checked_by_its_name_with_and_without_a_chip_read(tmp_path: Path) -> None:
    steps = "  - burn_efuse: {KEY_PURPOSE_0: XTS_AES_128_KEY, KEY_PURPOSE_1: NO_SUCH_PURPOSE}\n"
    for image in (None, EfuseImage.blank(load_chip("esp32c3"))):
        found = _problems(tmp_path, "esp32c3", steps, image)
        assert [f[0] for f in found] == ["InputError"] and found[0][1].startswith("5:65 ")
        assert "NO_SUCH_PURPOSE" in found[0][1]


def test_a_value_that_cannot_fit_its_field_is_one_problem_with_a_chip_read_too(tmp_path: Path) -> None:
    coded = with_field(EfuseImage.blank(ESP32), "CODING_SCHEME", 1)
    assert _problems(tmp_path, "esp32", "  - burn_efuse: {CUSTOM_MAC_CRC: 999}\n", coded) == [
        ("InputError", "5:34 999 does not fit CUSTOM_MAC_CRC (8 bits)")]


def test_a_templated_value_is_refused_only_for_a_field_wholly_past_the_data(tmp_path: Path) -> None:
    """Under 3/4 coding BLOCK3 holds bits 0..191: a field at bit 191 may fit, one at 192 cannot."""
    (tmp_path / "t.csv").write_text("LAST, EFUSE_BLK3, 191, 1, the last data bit\n"
                                    "PAST, EFUSE_BLK3, 192, 8, past the data\n")
    coded = with_field(EfuseImage.blank(ESP32), "CODING_SCHEME", 1)
    recipe = _recipe(tmp_path, "esp32", "  - burn_efuse: {LAST: \"{{ 1 }}\", PAST: \"{{ 1 }}\"}\n",
                     head="extend_efuse_table: t.csv\n")
    found = api.validate_recipe(recipe, coded).problems
    assert [(type(p).__name__, p.location.line, p.location.column, p.message, p.hint) for p in found] == [
        ("PlanError", 6, 35, "PAST (bits 192..199 of BLOCK3) does not fit this chip: "
                             "under its coding scheme BLOCK3 holds 192 data bits (0..191)",
         "move PAST below bit 192 in the custom eFuse table")]
    assert api.validate_recipe(recipe, EfuseImage.blank(ESP32)).problems == ()


def test_a_digest_for_a_block_the_chip_lacks_is_named_at_the_block(tmp_path: Path) -> None:
    (tmp_path / "sb.pub.pem").write_text("")
    step = "  - burn_key_digest: {block: NO_SUCH, purpose: SECURE_BOOT_DIGEST0, file: sb.pub.pem}\n"
    assert _problems(tmp_path, "esp32c3", step) == [("InputError", "5:30 esp32c3 has no eFuse block 'NO_SUCH'")]


def _hints(tmp_path: Path, chip: str, steps: str) -> list[tuple[str, str | None]]:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"fusebook: 1\nname: r\nchip: {chip}\nsteps:\n{steps}")
    return [(f"{p.location.line}:{p.location.column} {p.message}", p.hint)
            for p in api.validate_recipe(recipe).problems]


def test_an_unknown_block_is_named_at_the_block_and_nothing_else_is_checked(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_bit: {block: NO_SUCH, bits: [999]}\n") == [
        ("InputError", "5:23 esp32c3 has no eFuse block 'NO_SUCH'")]
    assert _problems(tmp_path, "esp32c3", "  - burn_bit: {block: 99, bits: [999]}\n") == [
        ("InputError", "5:23 esp32c3 has no block 99")]
    assert _problems(tmp_path, "esp32c3", f"  - burn_block_data: {{block: NO_SUCH, data: '{'ff' * 64}'}}\n") == [
        ("InputError", "5:30 esp32c3 has no eFuse block 'NO_SUCH'")]


def test_a_missing_data_file_is_named_at_the_file(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_block_data: {block: BLOCK3, file: missing.bin}\n") == [
        ("InputError", f"5:44 file missing.bin does not exist (looked at {tmp_path / 'missing.bin'})")]
    (tmp_path / "there.bin").write_bytes(b"\x01")
    assert _problems(tmp_path, "esp32c3", "  - burn_block_data: {block: BLOCK3, file: there.bin}\n") == []


def test_block_data_fits_up_to_the_last_byte_of_its_block(tmp_path: Path) -> None:
    full, most = "ff" * 32, "ff" * 31
    for fits in (f"{{block: BLOCK3, data: '{full}'}}", f"{{block: BLOCK3, offset: 1, data: '{most}'}}",
                 f"{{block: BLOCK3, offset: '{{{{ 1 }}}}', data: '{full}'}}"):
        assert _problems(tmp_path, "esp32c3", f"  - burn_block_data: {fits}\n") == [], fits
    assert _problems(tmp_path, "esp32c3", f"  - burn_block_data: {{block: BLOCK3, offset: 1, data: '{full}'}}\n") == [
        ("InputError", "5:55 32 bytes at offset 1 do not fit BLOCK_USR_DATA (32 bytes)")]
    assert _problems(tmp_path, "esp32c3", f"  - burn_block_data: {{block: BLOCK3, data: '{full}ff'}}\n") == [
        ("InputError", "5:44 33 bytes at offset 0 do not fit BLOCK_USR_DATA (32 bytes)")]


def test_a_block_is_checked_for_the_disable_bit_the_step_burns(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - write_protect_efuse: [BLOCK_SYS_DATA]\n") == []
    assert _problems(tmp_path, "esp32c3", "  - read_protect_efuse: [BLOCK_SYS_DATA]\n") == [
        ("InputError", "5:26 BLOCK_SYS_DATA has no read-disable bit on esp32c3")]
    assert _problems(tmp_path, "esp32c3", "  - read_protect_efuse: [BLOCK_KEY0]\n") == []


def test_every_name_of_a_protection_list_is_checked_past_a_template_or_an_unknown_name(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - write_protect_efuse: [\"{{ 'NO_SUCH' }}\", BLOCK0]\n") == [
        ("InputError", "5:46 BLOCK0 has no write-disable bit on esp32c3")]
    assert _problems(tmp_path, "esp32c3", "  - write_protect_efuse: [NO_SUCH, BLOCK0]\n") == [
        ("InputError", "5:27 esp32c3 has no eFuse field 'NO_SUCH'"),
        ("InputError", "5:36 BLOCK0 has no write-disable bit on esp32c3")]


def test_an_unknown_protection_name_in_a_recipe_for_several_chips_says_how_to_leave_it_out(tmp_path: Path) -> None:
    assert _hints(tmp_path, "[esp32c3, esp32s3]", "  - write_protect_efuse: [NO_SUCH]\n") == [
        (f"5:27 {chip} has no eFuse field 'NO_SUCH'",
         f"`fusebook fields {chip}` lists them (or leave the step out there with `when: \"chip.name != '{chip}'\"`)")
        for chip in ("esp32c3", "esp32s3")]


def test_a_chip_without_a_custom_mac_field_refuses_the_step_where_it_stands(tmp_path: Path) -> None:
    c3 = load_chip("esp32c3")
    no_mac = dataclasses.replace(c3, fields=tuple(f for f in c3.fields if f.name != "CUSTOM_MAC"))
    assert _problems(tmp_path, "esp32c3", "  - burn_custom_mac: '02:00:00:00:00:01'\n", EfuseImage.blank(no_mac)) == [
        ("InputError", "5:22 esp32c3 has no custom MAC field")]
    with pytest.raises(InputError) as caught:
        plan(no_mac, EfuseImage.blank(no_mac), {"burn_custom_mac": "02:00:00:00:00:01"})
    assert caught.value.message == f"burn_custom_mac: {c3.description} has no custom MAC field"
    assert str(caught.value.location) == "r.yaml:1:5"
