"""What burn_bit, burn_efuse and read_protect_efuse refuse, word for word and at the step."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError, SourceLocation
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan
from tests.images import with_field
from tests.plan.helpers import plan
from tests.plan.helpers import refused_at_step as _refused

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
HERE = "r.yaml:1:5"


@pytest.mark.parametrize(("bits", "message"), [
    ([], "burn_bit: burn_bit needs `bits: [n, ...]`"),
    ([256], "burn_bit: bit 256 is outside BLOCK_USR_DATA (0..255)"),
    ([-1], "burn_bit: bit -1 is outside BLOCK_USR_DATA (0..255)"),
    ([True], "burn_bit: bit True is outside BLOCK_USR_DATA (0..255)"),
])
def test_burn_bit_refuses_bits_it_cannot_burn(bits: list, message: str) -> None:
    assert _refused({"burn_bit": {"block": "BLOCK3", "bits": bits}}).message == message


def test_burn_bit_takes_the_last_bit_and_sets_only_the_bits_named() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_bit": {"block": "BLOCK3", "bits": [0, 255]}})
    assert p.after.blocks[3] == (1 << 255) | 1
    assert [str(c.origin) for c in p.changes] == [f"{HERE}: burn_bit"]


def test_burn_bit_counts_bits_in_the_data_a_3_4_coded_block_holds() -> None:
    coded = with_field(EfuseImage.blank(ESP32), "CODING_SCHEME", 1)
    e = _refused({"burn_bit": {"block": "BLOCK3", "bits": [192]}}, ESP32, coded)
    assert e.message == "burn_bit: bit 192 is outside BLOCK3 (0..191)"


def test_burn_efuse_refuses_read_only_fields_and_zeros() -> None:
    read_only = next(f.name for f in C3.fields if not f.burnable)
    assert _refused({"burn_efuse": {read_only: 1}}).message == (
        f"burn_efuse: {read_only} is computed or read-only and cannot be burned")
    e = _refused({"burn_efuse": {"SOFT_DIS_JTAG": 0}})
    assert e.message == "burn_efuse: burning SOFT_DIS_JTAG to 0 changes nothing (eFuse bits only go 0 -> 1)"
    assert e.hint == "leave the field out, or skip the step with `when:`"


def test_a_value_too_wide_is_located_at_the_step() -> None:
    e = _refused({"burn_efuse": {"SOFT_DIS_JTAG": 9}})
    assert (e.message, e.hint) == ("9 does not fit SOFT_DIS_JTAG (3 bits)", "the largest value is 0x7")


def test_a_field_and_its_alias_with_different_values_name_both_places() -> None:
    first = SourceLocation("r.yaml", 5, 7)
    args = {"KEY0": "11" * 32, "BLOCK_KEY0": "22" * 32}
    op = Operation("burn_efuse", args, "keys", SourceLocation("r.yaml", 4, 5))
    try:
        build_plan(C3, EfuseImage.blank(C3), step_requests(C3, EfuseImage.blank(C3), [op]))
    except PlanError as e:
        assert e.message == "keys: KEY0 and BLOCK_KEY0 are both BLOCK_KEY0, with different values"
        assert e.hint == "keep one of them"
        assert e.location is not None
        assert e.related == (SourceLocation("r.yaml", 4, 5),)  # no place per name: the step's, for both
    else:
        pytest.fail("two values for one field planned")
    same = Operation("burn_efuse", {"KEY0": "11" * 32, "BLOCK_KEY0": "11" * 32}, "keys", first)
    assert build_plan(C3, EfuseImage.blank(C3), step_requests(C3, EfuseImage.blank(C3), [same])).writes


def test_a_field_named_twice_with_one_value_is_burned_once_and_the_fields_after_it_too() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"KEY0": "11" * 32, "BLOCK_KEY0": "11" * 32,
                                                       "SOFT_DIS_JTAG": 1}})
    assert [c.field for c in p.changes] == ["BLOCK_KEY0", "SOFT_DIS_JTAG"]


def test_a_template_that_gives_no_fields_is_refused_at_the_step() -> None:
    """`burn_efuse: "{{ {} }}"` renders to an empty mapping, which the recipe's model never sees."""
    assert _refused({"burn_efuse": {}}).message == "burn_efuse: burn_efuse takes a mapping of field names to values"


def test_a_key_purpose_a_silicon_erratum_forbids_in_that_field_is_refused() -> None:
    e = _refused({"burn_efuse": {"KEY_PURPOSE_5": "XTS_AES_128_KEY"}}, cls=PlanError)
    assert (e.message, e.hint) == (
        "burn_efuse: KEY_PURPOSE_5 cannot hold XTS_AES_128_KEY on ESP32-C3 (a silicon erratum)", "use another key block")
    assert plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"KEY_PURPOSE_4": "XTS_AES_128_KEY"}}).writes


def test_read_protect_refuses_names_without_a_read_disable_bit() -> None:
    assert _refused({"read_protect_efuse": ["WR_DIS"]}).message == "read_protect_efuse: WR_DIS has no read-disable bit"


def test_read_protect_keeps_a_key_whose_purpose_must_stay_readable() -> None:
    e = _refused({"read_protect_efuse": ["BLOCK_KEY0"]}, cls=PlanError)
    assert e.message == "read_protect_efuse: BLOCK_KEY0 holds a USER key, which must stay readable"
    digest = with_field(EfuseImage.blank(C3), "KEY_PURPOSE_1", 9)  # SECURE_BOOT_DIGEST0
    e = _refused({"read_protect_efuse": ["BLOCK_KEY1"]}, image=digest, cls=PlanError)
    assert e.message == "read_protect_efuse: BLOCK_KEY1 holds a SECURE_BOOT_DIGEST0 key, which must stay readable"
    fe = with_field(EfuseImage.blank(C3), "KEY_PURPOSE_1", 4)  # XTS_AES_128_KEY
    assert plan(C3, fe, {"read_protect_efuse": ["BLOCK_KEY1"]}).writes


def test_the_esp32_digest_block_stays_readable_once_secure_boot_v2_is_on() -> None:
    blank = EfuseImage.blank(ESP32)
    p = plan(ESP32, blank, {"read_protect_efuse": ["BLOCK2"]})
    assert [(w.message, str(w.origin)) for w in p.warnings] == [
        ("if BLOCK2 holds a secure boot v2 digest it must stay readable", f"{HERE}: read_protect_efuse")]
    assert [(c.field, c.detail) for c in p.changes] == [("RD_DIS", "bit 1 (BLOCK2)")]
    on = with_field(blank, "ABS_DONE_1", 1)
    e = _refused({"read_protect_efuse": ["BLOCK2"]}, ESP32, on, PlanError)
    assert e.message == "read_protect_efuse: secure boot v2 is on: BLOCK2 must stay readable"
    assert plan(ESP32, on, {"read_protect_efuse": ["BLOCK3"]}).warnings == ()


def test_burn_bit_sets_bit_0_only_when_asked_and_names_the_block_it_burns() -> None:
    p = plan(C3, EfuseImage.blank(C3), {"burn_bit": {"block": "BLOCK3", "bits": [5]}})
    assert p.after.blocks[3] == 1 << 5
    assert [(c.field, c.before, c.after) for c in p.changes] == [("BLOCK_USR_DATA", "00", "01")]


def test_burn_bit_into_a_write_protected_block_is_refused_naming_the_block() -> None:
    locked = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << C3.block("BLOCK3").wr_dis)  # type: ignore[operator]
    e = _refused({"burn_bit": {"block": "BLOCK3", "bits": [5]}}, image=locked, cls=PlanError)
    assert e.message == "BLOCK_USR_DATA is write-protected on this chip; step 'burn_bit' cannot burn it"


@pytest.mark.parametrize("step", [
    {"burn_bit": {"block": "NO_SUCH", "bits": [1]}},
    {"burn_block_data": {"block": "NO_SUCH", "data": b"\x01"}},
])
def test_an_unknown_block_is_refused_at_the_step(step: dict) -> None:
    assert _refused(step).message == "esp32c3 has no eFuse block 'NO_SUCH'"


@pytest.mark.parametrize("kind", ["burn_bit", "burn_block_data"])
def test_arguments_that_are_not_a_mapping_are_refused_at_the_step(kind: str) -> None:
    _refused({kind: "BLOCK3"})


@pytest.mark.parametrize("kind", ["write_protect_efuse", "read_protect_efuse"])
def test_an_unknown_name_to_protect_is_refused_at_the_step(kind: str) -> None:
    assert _refused({kind: ["NO_SUCH"]}).message == "esp32c3 has no eFuse field 'NO_SUCH'"


def test_write_protect_refuses_a_name_without_a_write_disable_bit() -> None:
    assert _refused({"write_protect_efuse": ["BLOCK0"]}).message == (
        "write_protect_efuse: BLOCK0 has no write-disable bit")


@pytest.mark.parametrize(("name", "warning"), [
    ("BLOCK_KEY0", None),
    ("BLOCK_USR_DATA", "WR_DIS bit 22 protects BLOCK_USR_DATA together with: CUSTOM_MAC"),
    ("USB_EXCHG_PINS", "WR_DIS bit 30 protects USB_EXCHG_PINS together with: VDD_SPI_AS_GPIO"),
    ("ERR_RST_ENABLE", "WR_DIS bit 19 protects ERR_RST_ENABLE together with: "
                       "DISABLE_BLK_VERSION_MAJOR, DISABLE_WAFER_VERSION_MAJOR"),
])
def test_write_protect_warns_of_what_else_its_bit_protects(name: str, warning: str | None) -> None:
    p = plan(C3, EfuseImage.blank(C3), {"write_protect_efuse": [name]})
    assert [(w.message, str(w.origin)) for w in p.warnings] == (
        [] if warning is None else [(warning, f"{HERE}: write_protect_efuse")])
