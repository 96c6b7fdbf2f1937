"""ESP32 has no key purposes: the name a key block is called by says what the key is for.

`flash_encryption` and `secure_boot_v1` keys are burned byte-reversed and read-protected,
other names in order; every key block is write-protected unless the step says not to.
"""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from fusebook.secret import Secret
from tests.images import with_field
from tests.plan.helpers import plan

ESP32 = load_chip("esp32")
BLANK = EfuseImage.blank(ESP32)
KEY = bytes(range(1, 33))
HERE = "r.yaml:1:5"



def _stored(words: tuple[int, ...], n: int = 8) -> bytes:
    return b"".join(w.to_bytes(4, "little") for w in words[:n])


def test_block0_is_not_a_key_block() -> None:
    with pytest.raises(InputError) as caught:
        plan(ESP32, BLANK, {"burn_key": {"block": "BLOCK0", "data": Secret(KEY)}})
    e = caught.value
    assert (e.message, e.hint, str(e.location)) == (
        "burn_key: BLOCK0 is not a key block", "key blocks: BLOCK1, BLOCK2, BLOCK3", HERE)


@pytest.mark.parametrize(("scheme", "size"), [(0, 32), (1, 24)])
def test_a_key_must_fill_the_blocks_data_under_the_coding_scheme(scheme: int, size: int) -> None:
    image = with_field(BLANK, "CODING_SCHEME", scheme)
    wrong = KEY[:24] if size == 32 else KEY
    with pytest.raises(InputError) as caught:
        plan(ESP32, image, {"burn_key": {"block": "BLOCK3", "data": Secret(wrong)}})
    e = caught.value
    assert e.message == f"burn_key: BLOCK3 takes a {size}-byte key, got {len(wrong)} bytes"
    assert e.hint is not None and f"{size} bytes" in e.hint and str(e.location) == HERE
    assert plan(ESP32, image, {"burn_key": {"block": "BLOCK3", "data": Secret(KEY[:size])}}).writes


def test_a_flash_encryption_key_is_reversed_hidden_and_locked() -> None:
    p = plan(ESP32, BLANK, {"burn_key": {"block": "flash_encryption", "data": Secret(KEY)}})
    fingerprint = Secret(KEY).fingerprint
    assert [(c.field, c.detail, c.after) for c in p.changes] == [
        ("BLOCK1", None, "key " + fingerprint), ("RD_DIS", "bit 0 (BLOCK1)", 1), ("WR_DIS", "bit 7 (BLOCK1)", 1)]
    assert all(str(c.origin) == f"{HERE}: burn_key" for c in p.changes)
    assert p.key_fingerprints == {"BLOCK1": fingerprint}
    assert (p.writes[0].block, p.writes[0].secret, p.writes[0].fingerprint) == (1, True, fingerprint)
    assert _stored(p.writes[0].words) == KEY[::-1]


@pytest.mark.parametrize(("name", "block"), [("BLOCK3", 3), ("secure_boot_v2", 2)])
def test_other_key_names_burn_in_order_write_protected_and_readable(name: str, block: int) -> None:
    p = plan(ESP32, BLANK, {"burn_key": {"block": name, "data": Secret(KEY)}})
    blk = ESP32.blocks[block]
    assert [(c.field, c.detail) for c in p.changes] == [(blk.name, None), ("WR_DIS", f"bit {blk.wr_dis} ({blk.name})")]
    assert _stored(p.writes[0].words) == KEY
    assert p.after.blocks[block] == int.from_bytes(KEY, "little")


def test_protections_follow_the_step_where_it_names_them() -> None:
    p = plan(ESP32, BLANK, {"burn_key": {"block": "flash_encryption", "data": Secret(KEY),
                                         "read_protect": False, "write_protect": False}})
    assert [c.field for c in p.changes] == ["BLOCK1"]
    p = plan(ESP32, BLANK, {"burn_key": {"block": "BLOCK3", "data": Secret(KEY), "read_protect": True}})
    assert ("RD_DIS", "bit 2 (BLOCK3)") in [(c.field, c.detail) for c in p.changes]


def test_an_already_hidden_key_block_is_skipped_when_it_cannot_be_changed_anyway() -> None:
    hidden = with_field(with_field(BLANK, "RD_DIS", 1 << 0), "WR_DIS", 1 << 7)
    p = plan(ESP32, hidden, {"burn_key": {"block": "flash_encryption", "data": Secret(KEY)}})
    assert p.skipped == ("BLOCK1",) and p.writes == ()
    assert [(w.message, str(w.origin)) for w in p.warnings] == [
        ("BLOCK1 is already read-protected: skipped, content unverifiable", f"{HERE}: burn_key")]
    readable_lock = with_field(BLANK, "RD_DIS", 1 << 0)  # hidden but not write-protected
    p = plan(ESP32, readable_lock, {"burn_key": {"block": "flash_encryption", "data": Secret(KEY),
                                                 "write_protect": False}})
    assert p.skipped == ("BLOCK1",)
    with pytest.raises(PlanError) as caught:
        plan(ESP32, readable_lock, {"burn_key": {"block": "flash_encryption", "data": Secret(KEY)}})
    assert caught.value.message == "burn_key: BLOCK1 is read-protected; its content cannot be changed"


def test_the_same_key_twice_is_one_request_and_another_key_a_conflict() -> None:
    step = {"block": "BLOCK3", "data": Secret(KEY)}
    assert [w.words for w in plan(ESP32, BLANK, {"burn_key": step}, {"burn_key": dict(step)}).writes] == \
        [w.words for w in plan(ESP32, BLANK, {"burn_key": step}).writes]
    with pytest.raises(PlanError, match="different key"):
        plan(ESP32, BLANK, {"burn_key": step}, {"burn_key": {"block": "BLOCK3", "data": Secret(KEY[::-1])}})


@pytest.mark.parametrize(("step", "message"), [
    ({"data": Secret(KEY)}, "esp32 has no eFuse block ''"),
    ({"block": "BLOCK9", "data": Secret(KEY)}, "esp32 has no eFuse block 'BLOCK9'"),
    ({"block": "BLOCK3"}, "burn_key: burn_key needs `data:` (hex) or `file:`"),
    ({"block": "BLOCK3", "data": "zz"}, "burn_key is not hex bytes"),
    ({"block": "BLOCK3", "data": Secret(b"\x11" * 32)},
     "burn_key: the key for BLOCK3 holds a placeholder, not a key: all of its 32 bytes are the same value"),
])
def test_what_cannot_be_burned_is_refused_at_the_step(step: dict, message: str) -> None:
    with pytest.raises(InputError) as caught:
        plan(ESP32, BLANK, {"burn_key": step})
    assert (caught.value.message, str(caught.value.location)) == (message, HERE)


def test_a_key_under_3_4_coding_fills_the_first_24_bytes() -> None:
    p = plan(ESP32, with_field(BLANK, "CODING_SCHEME", 1), {"burn_key": {"block": "BLOCK3", "data": Secret(KEY[:24])}})
    assert [(c.field, c.detail) for c in p.changes] == [("BLOCK3", "bytes 0..23"), ("WR_DIS", "bit 9 (BLOCK3)")]


def test_a_block_holding_a_bit_the_key_lacks_is_refused() -> None:
    even = bytes(range(2, 34))  # bit 0 clear
    one_bit = BLANK.with_blocks(tuple(1 if i == 3 else w for i, w in enumerate(BLANK.blocks)))
    with pytest.raises(PlanError) as caught:
        plan(ESP32, one_bit, {"burn_key": {"block": "BLOCK3", "data": Secret(even)}})
    assert caught.value.message == "BLOCK3: eFuse bits cannot go from 1 to 0 (on the chip: <secret>, wanted: <secret>)"
    assert plan(ESP32, one_bit, {"burn_key": {"block": "BLOCK3", "data": Secret(KEY)}}).writes  # bit 0 set


def test_a_write_protected_block_is_refused_naming_the_block() -> None:
    with pytest.raises(PlanError) as caught:
        plan(ESP32, with_field(BLANK, "WR_DIS", 1 << 9), {"burn_key": {"block": "BLOCK3", "data": Secret(KEY)}})
    assert (caught.value.message, caught.value.hint) == (
        "BLOCK3 is write-protected on this chip; step 'burn_key' cannot burn it",
        "write protection is permanent; this unit cannot take the change")
