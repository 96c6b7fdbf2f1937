"""burn_key against a key block that is not blank: what it holds or what locks it decides.

Pinned word for word, because an operator acts on them at the station: a block holding
another key (bits cannot go back, and neither key is shown), a write-protected block, and a
write-protected KEY_PURPOSE holding another purpose. Each is refused at the step, and a
request into a key block is exact and guarded by the block, so a readable block with a
different key is never ORed over.
"""

from __future__ import annotations

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import PlanError
from fusebook.plan.operations import step_requests
from tests.images import with_field
from tests.plan.helpers import ops, plan, refused_at_step

C3 = load_chip("esp32c3")
KEY = bytes(range(1, 33))
OTHER = bytes(range(101, 133))
STEP = {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": KEY.hex()}}


def _holding(key: bytes) -> EfuseImage:
    blank = EfuseImage.blank(C3)
    k0 = C3.block("BLOCK_KEY0").id
    return blank.with_blocks(tuple(int.from_bytes(key, "little") if i == k0 else b
                                   for i, b in enumerate(blank.blocks)))


def test_the_key_request_is_exact_and_guarded_by_its_block() -> None:
    (key,) = [r for r in step_requests(C3, EfuseImage.blank(C3), ops(STEP)).requests if r.name == "BLOCK_KEY0"]
    assert (key.exact, key.guard, key.secret) == (True, "BLOCK_KEY0", True)
    assert key.value == int.from_bytes(KEY[::-1], "little")  # an XTS key is burned byte-reversed
    assert key.mask == (1 << 256) - 1


def test_a_block_holding_another_key_is_refused_without_showing_either_key() -> None:
    e = refused_at_step(STEP, C3, _holding(OTHER), PlanError)
    assert (e.message, e.hint) == (
        "BLOCK_KEY0: eFuse bits cannot go from 1 to 0 (on the chip: <secret>, wanted: <secret>)",
        "this chip already holds another value; it cannot be changed")


def test_a_write_protected_key_block_is_refused_naming_the_step() -> None:
    wr_dis = C3.block("BLOCK_KEY0").wr_dis
    assert wr_dis is not None
    e = refused_at_step(STEP, C3, with_field(EfuseImage.blank(C3), "WR_DIS", 1 << wr_dis), PlanError)
    assert (e.message, e.hint) == (
        "BLOCK_KEY0 is write-protected on this chip; step 'burn_key' cannot burn it",
        "write protection is permanent; this unit cannot take the change")


@pytest.mark.parametrize("purpose", ["XTS_AES_128_KEY", "HMAC_UP"])
def test_a_locked_purpose_holding_another_one_is_refused_naming_both(purpose: str) -> None:
    pf = C3.field("KEY_PURPOSE_0")
    assert pf.wr_dis is not None
    step = {"burn_key": {**STEP["burn_key"], "purpose": purpose}}
    e = refused_at_step(step, C3, with_field(EfuseImage.blank(C3), "WR_DIS", 1 << pf.wr_dis), PlanError)
    assert e.message == f"burn_key: KEY_PURPOSE_0 is write-protected and holds USER; cannot set {purpose}"


def test_a_block_that_is_not_a_key_block_is_refused_listing_the_key_blocks() -> None:
    e = refused_at_step({"burn_key": {"block": "BLOCK_USR_DATA", "purpose": "USER", "data": KEY.hex()}}, C3)
    assert (e.message, e.hint) == (
        "burn_key: BLOCK_USR_DATA is not a key block",
        "key blocks: BLOCK_KEY0, BLOCK_KEY1, BLOCK_KEY2, BLOCK_KEY3, BLOCK_KEY4, BLOCK_KEY5")


def test_a_placeholder_key_is_refused_at_the_step_with_how_to_make_a_real_one() -> None:
    e = refused_at_step({"burn_key": {**STEP["burn_key"], "data": "00" * 32}}, C3)
    assert (e.message, e.hint) == (
        "burn_key: the key for BLOCK_KEY0 holds a placeholder, not a key: all of its 32 bytes are the same value",
        "generate a real key, e.g. `espsecure generate-flash-encryption-key KEY.bin`")


def test_a_key_without_a_purpose_is_refused_at_the_step() -> None:
    e = refused_at_step({"burn_key": {"block": "BLOCK_KEY0", "data": KEY.hex()}}, C3)
    assert (e.message, e.hint) == ("burn_key: burn_key needs `purpose:`", None)


def test_a_key_of_the_wrong_size_is_refused_with_the_size_the_block_takes() -> None:
    e = refused_at_step({"burn_key": {**STEP["burn_key"], "data": KEY[:16].hex()}}, C3)
    assert (e.message, e.hint) == (
        "burn_key: BLOCK_KEY0 takes a 32-byte key, got 16 bytes",
        "a raw key file holds exactly the key: 32 bytes (256 bits), e.g. from "
        "`espsecure generate-flash-encryption-key`")


def test_a_two_block_key_of_one_block_size_is_refused_with_the_size_it_takes() -> None:
    s3 = load_chip("esp32s3")
    e = refused_at_step({"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_256_KEY", "data": KEY.hex()}}, s3)
    assert (e.message, e.hint) == ("burn_key: XTS_AES_256_KEY takes 64 bytes of key, got 32", None)


def test_a_two_block_key_asked_twice_is_planned_once_over_its_two_blocks() -> None:
    s3 = load_chip("esp32s3")
    step = {"burn_key": {"block": "BLOCK_KEY1", "purpose": "XTS_AES_256_KEY", "data": bytes(range(1, 65)).hex()}}
    p = plan(s3, EfuseImage.blank(s3), step, step)
    purposes = [(ch.field, ch.after) for ch in p.changes if ch.field.startswith("KEY_PURPOSE")]
    assert purposes == [("KEY_PURPOSE_1", "XTS_AES_256_KEY_1"), ("KEY_PURPOSE_2", "XTS_AES_256_KEY_2")]
    assert sorted(w.block_name for w in p.writes if w.secret) == ["BLOCK_KEY1", "BLOCK_KEY2"]


@pytest.mark.parametrize(("data", "message"), [
    ({}, "burn_key: burn_key needs `data:` (hex) or `file:`"),
    ({"data": "zz"}, "burn_key is not hex bytes"),
])
def test_a_missing_or_unreadable_key_is_refused_at_the_step(data: dict[str, str], message: str) -> None:
    e = refused_at_step({"burn_key": {"block": "BLOCK_KEY0", "purpose": "USER", **data}}, C3)
    assert e.message == message


def test_every_key_block_of_a_chip_with_key_purposes_has_a_key_field_spanning_it() -> None:
    """burn_key sizes a key by that field; the block's own size is only a fallback."""
    for name in chip_names():
        chip = load_chip(name)
        if chip.key_block_names or chip.purposes_by_target:
            continue  # ESP32 and ESP32-C2 place keys by their own rules
        for blk in chip.key_blocks:
            kfield = chip.block_field(blk)
            assert kfield is not None and kfield.bits == blk.words * 32, (name, blk.name)


def test_both_halves_of_every_two_block_key_are_stored_byte_reversed() -> None:
    """A re-run finds an interrupted key's second half by its stored (reversed) bytes."""
    for name in chip_names():
        for revision in (None, 300) if name == "esp32p4" else (None,):
            chip = load_chip(name, revision)
            for kp in chip.key_purposes:
                if kp.split:
                    assert all(chip.key_purpose(half).reverse for half in kp.split), (name, kp.name)
