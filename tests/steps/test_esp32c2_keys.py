"""ESP32-C2 has no KEY_PURPOSE fields: the purpose names where in BLOCK_KEY0 a key goes.

XTS_AES_128_KEY fills the block (and burns XTS_KEY_LENGTH_256), the derived key its low 128
bits, SECURE_BOOT_DIGEST its high 128 bits, as espefuse burns them.
"""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from fusebook.secret import Secret
from tests.images import with_field
from tests.plan.helpers import plan

C2 = load_chip("esp32c2")
BLANK = EfuseImage.blank(C2)
KEY32 = bytes(range(1, 33))
KEY16 = bytes(range(1, 17))
HERE = "r.yaml:1:5"


def _refusal(step: dict, image: EfuseImage = BLANK, cls: type = InputError) -> InputError:
    with pytest.raises(cls) as caught:
        plan(C2, image, {"burn_key": step})
    assert str(caught.value.location) == HERE
    return caught.value


def _with_rd_dis(bits: int, wr_dis: int = 0) -> EfuseImage:
    blocks = list(BLANK.blocks)
    blocks[0] |= C2.field("RD_DIS").spread(bits) | C2.field("WR_DIS").spread(wr_dis)
    return BLANK.with_blocks(tuple(blocks))


def test_a_key_without_a_purpose_is_refused_naming_the_purposes() -> None:
    e = _refusal({"block": "BLOCK_KEY0", "data": Secret(KEY32)})
    assert e.message == "burn_key: burn_key needs `purpose:`"
    assert e.hint == "one of: USER, XTS_AES_128_KEY, XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS, SECURE_BOOT_DIGEST"


def test_a_key_for_another_block_is_refused_naming_where_it_goes() -> None:
    e = _refusal({"block": "BLOCK0", "purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)})
    assert e.message == "burn_key: XTS_AES_128_KEY keys go to BLOCK_KEY0, not BLOCK0"


@pytest.mark.parametrize(("purpose", "given", "wanted"), [
    ("XTS_AES_128_KEY", KEY16, 32),
    ("XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS", KEY32, 16),
])
def test_a_key_of_the_wrong_size_is_refused_with_the_size_it_takes(purpose: str, given: bytes, wanted: int) -> None:
    e = _refusal({"purpose": purpose, "data": Secret(given)})
    assert e.message == f"burn_key: {purpose} takes a {wanted}-byte key, got {len(given)} bytes"
    assert e.hint is not None and f"{wanted} bytes" in e.hint


def test_the_full_xts_key_fills_the_block_reversed_hidden_and_locked() -> None:
    p = plan(C2, BLANK, {"burn_key": {"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}})
    fingerprint = Secret(KEY32).fingerprint
    assert p.key_fingerprints == {"BLOCK_KEY0": fingerprint}
    assert [(c.field, c.detail, c.after) for c in p.changes] == [
        ("BLOCK_KEY0", None, "key " + fingerprint),
        ("XTS_KEY_LENGTH_256", None, True),
        ("RD_DIS", "bit 0 (BLOCK_KEY0)", 1),
        ("RD_DIS", "bit 1 (BLOCK_KEY0)", 1),
        ("WR_DIS", "bit 7 (BLOCK_KEY0)", 1),
    ]
    assert all(str(c.origin) == f"{HERE}: burn_key" for c in p.changes)
    key_write = p.writes[0]
    assert (key_write.block, key_write.secret, key_write.fingerprint) == (3, True, fingerprint)
    stored = b"".join(w.to_bytes(4, "little") for w in key_write.words[:8])
    assert stored == KEY32[::-1]  # espefuse burns XTS keys byte-reversed
    assert [w.phase for w in p.writes] == ["data", "data", "lock"]
    assert p.after.blocks[3] == 0  # read-protected: software reads zeros
    assert p.warnings == ()


def test_the_derived_key_takes_the_low_half_and_its_rd_dis_bit_only() -> None:
    p = plan(C2, BLANK, {"burn_key": {"purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS",
                                      "data": Secret(KEY16)}})
    assert p.key_fingerprints == {"BLOCK_KEY0_LOW_128": Secret(KEY16).fingerprint}
    stored = b"".join(w.to_bytes(4, "little") for w in p.writes[0].words[:8])
    assert stored == KEY16[::-1] + bytes(16)
    assert ("RD_DIS", "bit 0 (BLOCK_KEY0)") in [(c.field, c.detail) for c in p.changes]
    assert ("RD_DIS", "bit 1 (BLOCK_KEY0)") not in [(c.field, c.detail) for c in p.changes]


@pytest.mark.parametrize("digest", [KEY32, KEY16])
def test_a_secure_boot_digest_takes_the_high_half_in_order_and_stays_public(digest: bytes) -> None:
    p = plan(C2, BLANK, {"burn_key": {"purpose": "SECURE_BOOT_DIGEST", "data": Secret(digest)}})
    change = p.changes[0]
    assert (change.field, change.after, change.secret) == ("BLOCK_KEY0_HI_128", KEY16.hex(), False)
    assert p.writes[0].secret is False and p.writes[0].fingerprint is None
    assert p.after.blocks[3] == int.from_bytes(bytes(16) + KEY16, "little")
    assert "RD_DIS" not in [c.field for c in p.changes]
    assert p.key_fingerprints == {"BLOCK_KEY0_HI_128": Secret(KEY16).fingerprint}  # the 16 bytes burned


def test_a_read_protected_half_asked_for_again_is_skipped_with_a_warning() -> None:
    hidden = _with_rd_dis(1 << 0, wr_dis=1 << 7)
    p = plan(C2, hidden, {"burn_key": {"purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS",
                                       "data": Secret(KEY16)}})
    assert p.skipped == ("BLOCK_KEY0_LOW_128",)
    assert [(w.message, str(w.origin)) for w in p.warnings] == [
        ("BLOCK_KEY0_LOW_128 is already read-protected: skipped, content unverifiable", f"{HERE}: burn_key")]
    assert p.writes == ()


def test_a_read_protected_half_cannot_take_an_unprotected_key() -> None:
    e = _refusal({"purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS", "data": Secret(KEY16),
                  "read_protect": False}, _with_rd_dis(1 << 0), PlanError)
    assert e.message == "burn_key: BLOCK_KEY0_LOW_128 is read-protected; its content cannot be changed"


def test_a_read_protected_half_still_writeable_is_refused_when_the_step_write_protects() -> None:
    e = _refusal({"purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS", "data": Secret(KEY16)},
                 _with_rd_dis(1 << 0), PlanError)
    assert "is read-protected; its content cannot be changed" in e.message


def test_the_same_key_twice_is_one_request_and_another_key_a_conflict() -> None:
    step = {"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}
    once = plan(C2, BLANK, {"burn_key": step})
    twice = plan(C2, BLANK, {"burn_key": step}, {"burn_key": dict(step)})
    assert [w.words for w in twice.writes] == [w.words for w in once.writes]
    with pytest.raises(PlanError, match="both burn a key into BLOCK_KEY0, with a different key"):
        plan(C2, BLANK, {"burn_key": step}, {"burn_key": {"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32[::-1])}})


def test_read_protecting_all_of_block_key0_keeps_the_digest_half_readable() -> None:
    e = _refusal_of({"read_protect_efuse": ["BLOCK_KEY0"]})
    assert e.message == ("read_protect_efuse: BLOCK_KEY0 holds the secure boot digest in BLOCK_KEY0_HI_128, "
                         "which must stay readable")
    assert e.hint == "read-protect only the half that holds a key"


def test_all_of_block_key0_may_be_hidden_for_a_256_bit_flash_key() -> None:
    asked = plan(C2, BLANK, {"burn_efuse": {"XTS_KEY_LENGTH_256": 1}}, {"read_protect_efuse": ["BLOCK_KEY0"]})
    assert ("RD_DIS", "bit 0 (BLOCK_KEY0)") in [(c.field, c.detail) for c in asked.changes]
    burned = with_field(BLANK, "XTS_KEY_LENGTH_256", 1)
    assert plan(C2, burned, {"read_protect_efuse": ["BLOCK_KEY0"]}).writes


def test_with_secure_boot_on_the_digest_half_stays_readable_and_the_key_half_may_hide() -> None:
    for image, steps in ((with_field(BLANK, "SECURE_BOOT_EN", 1), ()),
                         (BLANK, ({"burn_efuse": {"SECURE_BOOT_EN": 1}},))):
        e = _refusal_of(*steps, {"read_protect_efuse": ["BLOCK_KEY0_HI_128"]}, image=image)
        assert e.message == "read_protect_efuse: secure boot is on: BLOCK_KEY0_HI_128 must stay readable"
        assert plan(C2, image, *steps, {"read_protect_efuse": ["BLOCK_KEY0_LOW_128"]}).writes


def test_the_digest_rule_is_esp32c2s_alone() -> None:
    c3 = load_chip("esp32c3")
    blank = EfuseImage.blank(c3)
    f = c3.field("KEY_PURPOSE_0")
    with_key = blank.with_blocks((blank.blocks[0] | f.spread(4), *blank.blocks[1:]))  # XTS_AES_128_KEY
    assert plan(c3, with_key, {"read_protect_efuse": ["BLOCK_KEY0"]}).writes



def _refusal_of(*steps: dict, image: EfuseImage = BLANK) -> PlanError:
    with pytest.raises(PlanError) as caught:
        plan(C2, image, *steps)
    assert caught.value.location is not None
    return caught.value


@pytest.mark.parametrize(("step", "message"), [
    ({"purpose": "NOPE", "data": Secret(KEY32)}, "esp32c2 has no key purpose 'NOPE'"),
    ({"block": "BLOCK9", "purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}, "esp32c2 has no eFuse block 'BLOCK9'"),
    ({"purpose": "XTS_AES_128_KEY"}, "burn_key: burn_key needs `data:` (hex) or `file:`"),
    ({"purpose": "XTS_AES_128_KEY", "data": "zz"}, "burn_key is not hex bytes"),
    ({"purpose": "SECURE_BOOT_DIGEST", "data": Secret(KEY32[:20])},
     "burn_key: SECURE_BOOT_DIGEST takes a 16-byte key, got 20 bytes"),  # only a 32-byte digest is cut
    ({"purpose": "XTS_AES_128_KEY", "data": Secret(b"\x11" * 32)},
     "burn_key: the key for BLOCK_KEY0 holds a placeholder, not a key: all of its 32 bytes are the same value"),
])
def test_what_cannot_be_burned_is_refused_at_the_step(step: dict, message: str) -> None:
    assert _refusal(step).message == message


def test_a_full_key_over_a_half_hidden_block_is_refused_even_when_locked() -> None:
    e = _refusal({"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}, _with_rd_dis(1 << 0, wr_dis=1 << 7), PlanError)
    assert e.message == "burn_key: BLOCK_KEY0 is read-protected; its content cannot be changed"


def test_a_key_over_one_with_a_bit_more_is_refused_not_taken_as_burned() -> None:
    stored = int.from_bytes(KEY32[::-1], "little")
    stray = next(1 << b for b in range(256) if not (stored >> b) & 1)
    blocks = list(BLANK.blocks)
    blocks[3] = stored | stray
    e = _refusal({"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}, BLANK.with_blocks(tuple(blocks)), PlanError)
    assert e.message.startswith("BLOCK_KEY0: eFuse bits cannot go from 1 to 0")
    blocks[3] = stored
    assert plan(C2, BLANK.with_blocks(tuple(blocks)), {"burn_key": {"purpose": "XTS_AES_128_KEY",
                                                                    "data": Secret(KEY32)}}).writes


def test_a_key_for_a_write_protected_block_is_refused_naming_the_block() -> None:
    e = _refusal({"purpose": "XTS_AES_128_KEY", "data": Secret(KEY32)}, with_field(BLANK, "WR_DIS", 1 << 7), PlanError)
    assert (e.message, e.hint) == ("BLOCK_KEY0 is write-protected on this chip; step 'burn_key' cannot burn it",
                                   "write protection is permanent; this unit cannot take the change")
