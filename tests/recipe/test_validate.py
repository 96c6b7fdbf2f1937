"""`validate_recipe`: checks against the chips' tables without a chip connected."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.chips.loader import load_chip
from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.static_checks import validate_recipe

from .helpers import where, write

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "recipes").glob("*.yaml") if not p.name.endswith(".test.yaml"))


def problems(tmp_path: Path, text: str) -> list[InputError]:
    recipe = load_recipe(write(tmp_path, "recipe.yaml", text))
    return validate_recipe(recipe, [load_chip(c) for c in recipe.chips])


def summary(found: list[InputError]) -> list[tuple[int | None, int | None, str]]:
    return [(*where(p)[1:], p.message) for p in found]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_the_example_recipes_are_valid(path: Path) -> None:
    recipe = load_recipe(path)
    assert validate_recipe(recipe, [load_chip(c) for c in recipe.chips]) == []


def test_names_and_values_are_checked_against_the_chip(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
fusebook: 1
name: t
chip: esp32c3
unique: [CUSTOM_MACC]
steps:
  - burn_efuse: {DIS_USB_JTAGG: 1, SOFT_DIS_JTAG: 9, SECURE_VERSION: "{{ vars.v }}"}
  - burn_key: {block: BLOCK_KEY9, purpose: XTS_AES_128_KY, data: "00"}
  - burn_key: {block: BLOCK_KEY1, data: "00"}
  - burn_key_digest: {block: BLOCK_KEY2, purpose: XTS_AES_128_KEY, file: nope.pem}
  - write_protect_efuse: [DIS_USB_JTAG, NOT_A_FIELD]
  - burn_bit: {block: BLOCK3, bits: [1, 256]}
  - burn_block_data: {block: BLOCK3, offset: 30, data: "000000"}
  - burn_custom_mac: "03:00:00:00:00:01"
  - set_flash_voltage: 3.3V
""")
    assert summary(found) == [
        (4, 10, "esp32c3 has no eFuse field 'CUSTOM_MACC' (in `unique:`)"),
        (6, 18, "esp32c3 has no eFuse field 'DIS_USB_JTAGG'"),
        (6, 51, "9 does not fit SOFT_DIS_JTAG (3 bits)"),
        (6, 70, "no var named 'v'"),
        (7, 23, "esp32c3 has no eFuse block 'BLOCK_KEY9'"),
        (7, 44, "esp32c3 has no key purpose 'XTS_AES_128_KY'"),
        (8, 15, "on esp32c3 this step needs `purpose:`"),
        (9, 51, "XTS_AES_128_KEY is not a secure boot digest purpose"),
        (9, 74, f"file nope.pem does not exist (looked at {tmp_path}/nope.pem)"),
        (10, 41, "esp32c3 has no eFuse field 'NOT_A_FIELD'"),
        (11, 41, "bit 256 is outside BLOCK_USR_DATA (0..255)"),
        (12, 56, "3 bytes at offset 30 do not fit BLOCK_USR_DATA (32 bytes)"),
        (13, 22, "03:00:00:00:00:01 is a multicast MAC address; a custom MAC must be unicast"),
        (14, 24, "esp32c3 has no flash voltage regulator eFuses"),
    ]
    assert found[1].hint == "did you mean DIS_USB_JTAG?"


def test_a_step_is_checked_only_on_chips_its_when_allows(tmp_path: Path) -> None:
    head = "fusebook: 1\nname: t\nchip: [esp32, esp32c3]\nvars: {soft: true, per_unit: \"{{ index }}\"}\nsteps:\n"
    # guarded by the chip: fine
    assert problems(tmp_path, head + "  - burn_efuse: {DIS_USB_JTAG: 1}\n    when: \"chip.name != 'esp32'\"\n") == []
    assert problems(tmp_path, head + "  - burn_efuse: {SOFT_DIS_JTAG: 1}\n"
                                     "    when: vars.soft and chip.name == 'esp32c3'\n") == []
    assert problems(tmp_path, head + "  - burn_efuse: {JTAG_DISABLE: 1}\n"
                                     "    when: \"not (chip.name != 'esp32') and efuses.JTAG_DISABLE == 0\"\n") == []
    # guards that depend on the unit decide nothing: checked on both chips
    found = problems(tmp_path, head + "  - burn_efuse: {DIS_USB_JTAG: 1}\n    when: \"efuses.JTAG_DISABLE == 0\"\n")
    assert summary(found) == [(6, 18, "esp32 has no eFuse field 'DIS_USB_JTAG'")]
    assert "leave the step out there with `when: \"chip.name != 'esp32'\"`" in (found[0].hint or "")
    found = problems(tmp_path, head + "  - burn_efuse: {DIS_USB_JTAG: 1}\n    when: \"vars.per_unit and chip.name != 'esp32'\"\n")
    assert found == []  # `and` with a false side is false whatever the unit
    found = problems(tmp_path, head + "  - burn_efuse: {DIS_USB_JTAG: 1}\n    when: \"vars.per_unit or chip.name != 'esp32'\"\n")
    assert [p.message for p in found] == ["esp32 has no eFuse field 'DIS_USB_JTAG'"]


def test_an_include_s_when_guards_the_fragment(tmp_path: Path) -> None:
    write(tmp_path, "c3.yaml", "steps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    text = "fusebook: 1\nname: t\nchip: [esp32, esp32c3]\nsteps:\n  - include: c3.yaml\n"
    assert [where(p)[0] for p in problems(tmp_path, text)] == ["c3.yaml"]
    assert problems(tmp_path, text + "    when: \"chip.name == 'esp32c3'\"\n") == []


def test_names_used_in_templates_must_exist(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
fusebook: 1
name: t
chip: esp32c3
inputs:
  macs: {file: macs.json}
vars: {base: 1}
steps:
  - burn_custom_mac: "{{ inputs.mac[idx] }}"
ensure:
  - that: "efuses.DIS_USB_JTAGG and readable('BLOCK_KEY7') and vars.bse"
""")
    assert [(where(p)[1], p.message, p.hint) for p in found] == [
        (5, f"input file {tmp_path}/macs.json does not exist", "paths are relative to the recipe file"),
        (8, "no input named 'mac'", "did you mean macs?"),
        (8, "'idx' is not defined", "did you mean index?"),
        (10, "no eFuse field or block named 'DIS_USB_JTAGG' on esp32c3", "did you mean DIS_USB_JTAG?"),
        (10, "no eFuse field or block named 'BLOCK_KEY7' on esp32c3", "did you mean BLOCK_KEY5?"),
        (10, "no var named 'bse'", "did you mean base?"),
    ]


def test_esp32_keys_are_named_by_block(tmp_path: Path) -> None:
    head = "fusebook: 1\nname: t\nchip: esp32\nsteps:\n"
    assert problems(tmp_path, head + "  - burn_key: {block: flash_encryption, data: \"00\"}\n") == []
    found = problems(tmp_path, head + "  - burn_key: {block: flash_encryption, purpose: XTS_AES_128_KEY, data: \"00\"}\n")
    assert [p.message for p in found] == [
        "esp32 key blocks have no purpose; the block name says what a key is for"]
    assert found[0].hint == "leave out `purpose:` (blocks: flash_encryption, secure_boot_v1, secure_boot_v2, BLOCK3)"


def test_template_errors_are_all_listed(tmp_path: Path) -> None:
    found = problems(tmp_path, "fusebook: 1\nname: t\nchip: esp32c3\nsteps:\n"
                               "  - burn_efuse: {SECURE_VERSION: \"{{ 1 + }}\"}\n"
                               "  - burn_custom_mac: \"{{ ''.__class__ }}\"\n")
    assert [where(p)[1] for p in found] == [5, 6]


def test_a_custom_efuse_table_adds_fields(tmp_path: Path) -> None:
    write(tmp_path, "custom.csv", "USER_SERIAL, EFUSE_BLK3, 0, 32, unit serial\n")
    text = "fusebook: 1\nname: t\nchip: esp32c3\nsteps:\n  - burn_efuse: {USER_SERIAL: 5}\n"
    assert [p.message for p in problems(tmp_path, text)] == ["esp32c3 has no eFuse field 'USER_SERIAL'"]
    assert problems(tmp_path, text.replace("steps:", "extend_efuse_table: custom.csv\nsteps:")) == []
    found = problems(tmp_path, text.replace("steps:", "extend_efuse_table: nope.csv\nsteps:"))
    assert "cannot read the custom eFuse table nope.csv" in found[0].message and where(found[0])[1] == 4
