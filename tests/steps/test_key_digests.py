"""burn_key_digest once its digest is worked out: where each chip puts it, in the open."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from tests.plan.helpers import plan

DIGEST = bytes(range(1, 33))
HERE = "r.yaml:1:5"


def _blank(chip: str) -> tuple:
    c = load_chip(chip)
    return c, EfuseImage.blank(c)


def _refused(chip: str, step: dict, cls: type = InputError, image: EfuseImage | None = None) -> InputError:
    c, blank = _blank(chip)
    with pytest.raises(cls) as caught:
        plan(c, image or blank, {"burn_key_digest": step})
    assert str(caught.value.location) == HERE
    return caught.value


def test_a_digest_goes_to_its_key_block_in_order_public_and_write_protected() -> None:
    c3, blank = _blank("esp32c3")
    p = plan(c3, blank, {"burn_key_digest": {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST0",
                                             "digest": DIGEST}})
    assert [(ch.field, ch.detail, ch.after, ch.secret) for ch in p.changes] == [
        ("BLOCK_KEY0", None, DIGEST.hex(), False),
        ("KEY_PURPOSE_0", None, "SECURE_BOOT_DIGEST0", False),
        ("WR_DIS", "bit 8 (KEY_PURPOSE_0)", 1, False),
        ("WR_DIS", "bit 23 (BLOCK_KEY0)", 1, False),
    ]
    assert all(not w.secret and w.fingerprint is None for w in p.writes)
    assert p.after.blocks[4] == int.from_bytes(DIGEST, "little")  # readable, not reversed
    assert p.warnings == ()


def test_a_digest_without_a_purpose_or_with_a_key_purpose_is_refused() -> None:
    e = _refused("esp32c3", {"block": "BLOCK_KEY0", "digest": DIGEST})
    assert e.message == "burn_key_digest: burn_key_digest needs `purpose:` (SECURE_BOOT_DIGEST0/1/2)"
    e = _refused("esp32c3", {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "digest": DIGEST})
    assert e.message == "burn_key_digest: XTS_AES_128_KEY is not a secure boot digest purpose"


def test_a_purpose_the_chip_lacks_is_refused_at_the_step() -> None:
    e = _refused("esp32c3", {"block": "BLOCK_KEY0", "purpose": "NO_SUCH", "digest": DIGEST})
    assert e.message == "esp32c3 has no key purpose 'NO_SUCH'"


def test_a_digest_that_was_never_worked_out_is_refused() -> None:
    e = _refused("esp32c3", {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST0"})
    assert e.message == "burn_key_digest: the key's digest was not computed"


def test_a_caveat_on_the_key_becomes_a_plan_warning_at_the_step() -> None:
    c3, blank = _blank("esp32c3")
    p = plan(c3, blank, {"burn_key_digest": {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST0",
                                             "digest": DIGEST, "caveat": "this ROM takes RSA-3072 only"}})
    assert [(w.message, str(w.origin)) for w in p.warnings] == [
        ("this ROM takes RSA-3072 only", f"{HERE}: burn_key_digest")]


def test_the_esp32_digest_has_its_own_block_and_needs_the_none_coding_scheme() -> None:
    esp32, blank = _blank("esp32")
    p = plan(esp32, blank, {"burn_key_digest": {"digest": DIGEST}})
    assert [(ch.field, ch.detail, ch.secret) for ch in p.changes] == [
        ("BLOCK2", None, False), ("WR_DIS", "bit 8 (BLOCK2)", False)]
    assert p.after.blocks[2] == int.from_bytes(DIGEST, "little")
    assert "RD_DIS" not in [ch.field for ch in p.changes]  # the ROM reads the digest
    p = plan(esp32, blank, {"burn_key_digest": {"block": "BLOCK3", "digest": DIGEST}})
    assert p.changes[0].field == "BLOCK3"
    f = esp32.field("CODING_SCHEME")
    coded = blank.with_blocks((blank.blocks[0] | f.spread(1), *blank.blocks[1:]))
    e = _refused("esp32", {"digest": DIGEST}, PlanError, coded)
    assert e.message == "burn_key_digest: burn_key_digest needs the NONE coding scheme on ESP32"


def test_the_esp32c2_digest_takes_its_one_purpose_and_the_high_half() -> None:
    c2, blank = _blank("esp32c2")
    p = plan(c2, blank, {"burn_key_digest": {"digest": DIGEST}})
    assert [(ch.field, ch.after, ch.secret) for ch in p.changes] == [
        ("BLOCK_KEY0_HI_128", DIGEST[:16].hex(), False), ("WR_DIS", 1, False)]


def test_an_esp32_digest_is_refused_in_a_block_named_for_a_key() -> None:
    """`secure_boot_v1` names BLOCK2 for a V1 key, burned byte-reversed and read-protected:
    a digest burned so would never match what the ROM computes."""
    for name in ("secure_boot_v1", "flash_encryption"):
        e = _refused("esp32", {"block": name, "digest": DIGEST})
        assert (e.message, e.hint) == (f"burn_key_digest: {name} names a block for a key, not for a secure boot v2 "
                                       "digest", "write `block: BLOCK2`")
    esp32, blank = _blank("esp32")
    for name in ("secure_boot_v2", "BLOCK2", 2):
        p = plan(esp32, blank, {"burn_key_digest": {"block": name, "digest": DIGEST}})
        assert [(ch.field, ch.detail) for ch in p.changes] == [("BLOCK2", None), ("WR_DIS", "bit 8 (BLOCK2)")]
        assert p.after.blocks[2] == int.from_bytes(DIGEST, "little")


@pytest.mark.parametrize(("chip", "step"), [
    ("esp32", {"digest": DIGEST}),
    ("esp32", {"block": "secure_boot_v2", "digest": DIGEST}),
    ("esp32c3", {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST0", "digest": DIGEST}),
])
def test_a_digest_stays_readable_even_when_the_step_asks_to_read_protect_it(chip: str, step: dict) -> None:
    """The ROM reads the digest at every boot: `read_protect: true` on it would brick secure boot."""
    c, blank = _blank(chip)
    p = plan(c, blank, {"burn_key_digest": {**step, "read_protect": True}})
    assert p.after.rd_dis == 0
    assert "RD_DIS" not in [ch.field for ch in p.changes]
