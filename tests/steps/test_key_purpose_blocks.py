"""burn_key on a chip with a KEY_PURPOSE field per key block (ESP32-C3, ESP32-S3): a
read-protected block, two steps asking for one block, and where a two-block key's second
half goes, word for word and at the step."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, PlanError
from fusebook.plan.model import BurnPlan
from fusebook.secret import Secret
from tests.images import with_field
from tests.plan.helpers import plan

C3 = load_chip("esp32c3")
BLANK = EfuseImage.blank(C3)
KEY = bytes(range(1, 33))
HERE = "r.yaml:1:5"
XTS = {"block": "BLOCK_KEY1", "purpose": "XTS_AES_128_KEY", "data": Secret(KEY)}
HIDDEN_BIT = C3.block("BLOCK_KEY1").rd_dis[0]
LOCK_BIT = C3.block("BLOCK_KEY1").wr_dis or 0


def _hidden(purpose: int = 4, locked: bool = False) -> EfuseImage:
    """BLOCK_KEY1 read-protected with purpose `purpose` (4: XTS_AES_128_KEY), maybe write-protected."""
    image = with_field(with_field(BLANK, "KEY_PURPOSE_1", purpose), "RD_DIS", 1 << HIDDEN_BIT)
    return with_field(image, "WR_DIS", 1 << LOCK_BIT) if locked else image


def _refused(*steps: dict, image: EfuseImage = BLANK, cls: type = PlanError) -> FusebookError:
    with pytest.raises(cls) as caught:
        plan(C3, image, *steps)
    assert str(caught.value.location) == HERE
    return caught.value


def _skipped(p: BurnPlan) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    return p.skipped, [(w.message, str(w.origin)) for w in p.warnings]


SKIPPED = ("BLOCK_KEY1",), [("BLOCK_KEY1 is already burned with purpose XTS_AES_128_KEY and is read-protected: "
                             "skipped, content unverifiable", f"{HERE}: burn_key")]


def test_a_hidden_block_with_the_purpose_is_skipped_when_it_is_locked_or_left_unlocked() -> None:
    assert _skipped(plan(C3, _hidden(locked=True), {"burn_key": XTS})) == SKIPPED
    assert _skipped(plan(C3, _hidden(), {"burn_key": {**XTS, "write_protect": False}})) == SKIPPED
    assert plan(C3, _hidden(locked=True), {"burn_key": XTS}).writes == ()


def test_the_same_key_twice_on_a_hidden_block_is_skipped_once() -> None:
    assert _skipped(plan(C3, _hidden(locked=True), {"burn_key": XTS}, {"burn_key": dict(XTS)})) == SKIPPED


def test_a_hidden_block_the_step_would_still_lock_is_refused() -> None:
    e = _refused({"burn_key": XTS}, image=_hidden())
    assert (e.message, e.hint) == (
        "burn_key: BLOCK_KEY1 is read-protected and holds purpose XTS_AES_128_KEY (wanted XTS_AES_128_KEY) "
        "or other protections", "a read-protected key block can never be changed; use another block")


def test_a_hidden_block_with_another_purpose_is_refused_even_when_locked() -> None:
    e = _refused({"burn_key": XTS}, image=_hidden(purpose=5, locked=True))
    assert e.message == ("burn_key: BLOCK_KEY1 is read-protected and holds purpose HMAC_DOWN_ALL "
                         "(wanted XTS_AES_128_KEY) or other protections")


@pytest.mark.parametrize(("second", "different"), [
    ({"purpose": "HMAC_UP"}, "purpose"),
    ({"data": Secret(KEY[::-1])}, "key"),
    ({"read_protect": False}, "read_protect"),
    ({"write_protect": False}, "write_protect"),
    ({"read_protect": False, "write_protect": False}, "read_protect and write_protect"),
])
def test_two_steps_asking_one_block_for_different_keys_name_what_differs(second: dict, different: str) -> None:
    e = _refused({"burn_key": XTS}, {"burn_key": {**XTS, **second}})
    assert (e.message, e.hint) == (
        f"steps 'burn_key' and 'burn_key' both burn a key into BLOCK_KEY1, with a different {different}",
        "keep one of them, or guard them with `when:` so only one applies")
    assert [str(r) for r in e.related] == ["r.yaml:2:5"]


def test_write_protect_true_locks_the_block() -> None:
    p = plan(C3, BLANK, {"burn_key": {**XTS, "write_protect": True}})
    assert ("WR_DIS", f"bit {LOCK_BIT} (BLOCK_KEY1)") in [(c.field, c.detail) for c in p.changes]


def test_an_unknown_purpose_is_refused_at_the_step() -> None:
    e = _refused({"burn_key": {**XTS, "purpose": "NOPE"}}, cls=InputError)
    assert e.message == "esp32c3 has no key purpose 'NOPE'"


def test_a_step_whose_arguments_are_not_a_mapping_is_refused_at_the_step() -> None:
    _refused({"burn_key": "BLOCK_KEY1"}, cls=InputError)


def test_a_two_block_keys_second_half_skips_a_block_an_earlier_step_took() -> None:
    s3 = load_chip("esp32s3")
    p = plan(s3, EfuseImage.blank(s3),
             {"burn_key": {**XTS, "block": "BLOCK_KEY1"}},
             {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_256_KEY", "data": Secret(bytes(range(64)))}})
    assert [(c.field, c.after) for c in p.changes if c.field.startswith("KEY_PURPOSE")] == [
        ("KEY_PURPOSE_1", "XTS_AES_128_KEY"), ("KEY_PURPOSE_0", "XTS_AES_256_KEY_1"),
        ("KEY_PURPOSE_2", "XTS_AES_256_KEY_2")]


def test_a_placeholder_key_is_refused_naming_its_block() -> None:
    e = _refused({"burn_key": {**XTS, "data": Secret(b"\x11" * 32)}}, cls=InputError)
    assert e.message == ("burn_key: the key for BLOCK_KEY1 holds a placeholder, not a key: "
                         "all of its 32 bytes are the same value")
