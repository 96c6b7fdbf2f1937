"""The rules every step kind shares (fusebook.plan.requests.PlanContext), word for word:
a value past its block's data under the coding scheme, a protection of a name the chip does
not have, and WR_DIS / RD_DIS themselves once they are write-protected."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, PlanError
from tests.images import with_field
from tests.plan.helpers import plan

C3 = load_chip("esp32c3")
ESP32 = load_chip("esp32")
HERE = "r.yaml:1:5"


def _refused(chip, image: EfuseImage, step: dict, cls: type[FusebookError]) -> FusebookError:
    with pytest.raises(cls) as caught:
        plan(chip, image, step)
    assert str(caught.value.location) == HERE
    return caught.value


@pytest.mark.parametrize(("coding_scheme", "scheme", "size"), [(1, "3/4", 192), (2, "REPEAT", 128)])
def test_a_value_past_the_data_a_coded_block_holds_names_the_scheme_and_the_bits(
    coding_scheme: int, scheme: str, size: int
) -> None:
    coded = with_field(EfuseImage.blank(ESP32), "CODING_SCHEME", coding_scheme)
    value = "00" * 25 + "01" + "00" * 6  # bit 200 of BLOCK3's 256
    e = _refused(ESP32, coded, {"burn_efuse": {"BLOCK3": value}}, PlanError)
    assert e.message == (
        f"burn_efuse: BLOCK3 (bits 0..255 of BLOCK3) does not fit: under {scheme} coding BLOCK3 "
        f"holds {size} data bits (0..{size - 1}), and the value sets bit 200")
    assert e.hint == (f"move BLOCK3 below bit {size} in the custom eFuse table, or burn it on a chip "
                      "whose coding scheme holds the whole block")


@pytest.mark.parametrize("kind", ["write_protect_efuse", "read_protect_efuse"])
def test_a_protection_of_a_name_the_chip_lacks_says_what_it_has(kind: str) -> None:
    e = _refused(C3, EfuseImage.blank(C3), {kind: ["BLOCK_KEY"]}, InputError)
    assert (e.message, e.hint) == ("esp32c3 has no eFuse field 'BLOCK_KEY'", "did you mean BLOCK_KEY5?")


def test_write_protection_cannot_be_added_once_wr_dis_itself_is_write_protected() -> None:
    locked = with_field(EfuseImage.blank(ESP32), "WR_DIS", 1 << ESP32.field("WR_DIS").wr_dis)
    e = _refused(ESP32, locked, {"write_protect_efuse": ["BLOCK3"]}, PlanError)
    assert e.message == "WR_DIS is write-protected on this chip; step 'write_protect_efuse' cannot burn it"
    assert e.hint == "write protection is permanent; this unit cannot take the change"


def test_read_protection_cannot_be_added_once_rd_dis_is_write_protected() -> None:
    locked = with_field(EfuseImage.blank(C3), "WR_DIS", 1 << C3.field("RD_DIS").wr_dis)
    e = _refused(C3, locked, {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}, PlanError)
    assert e.message == "RD_DIS is write-protected on this chip; step 'read_protect_efuse' cannot burn it"
    assert [c.field for c in plan(C3, EfuseImage.blank(C3), {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}).changes] == [
        "RD_DIS"]
