"""A rendered step read as its kind's typed value: what it names, and what it leaves to defaults."""

from __future__ import annotations

import pytest

from fusebook.errors import InputError
from fusebook.plan.requests import Operation
from fusebook.secret import Secret
from fusebook.steps.burn_block_data import BurnBlockData
from fusebook.steps.burn_efuse import BurnEfuse
from fusebook.steps.burn_key import BurnKey
from fusebook.steps.burn_key_digest import BurnKeyDigest
from fusebook.steps.set_flash_voltage import SetFlashVoltage
from fusebook.steps.write_protect_efuse import ProtectEfuse


def test_a_key_step_leaves_its_protections_to_the_defaults_unless_it_names_them() -> None:
    key = BurnKey.of(Operation("burn_key", {"block": "BLOCK_KEY0", "purpose": "HMAC_UP", "data": "00"}))
    assert (key.block, key.purpose, key.read_protect, key.write_protect) == ("BLOCK_KEY0", "HMAC_UP", None, None)
    assert key.protections(read_default=True) == (True, True)
    assert key.protections(read_default=False) == (False, True)
    named = BurnKey.of(Operation("burn_key", {"block": 4, "data": "00", "read_protect": False,
                                              "write_protect": False}))
    assert named.protections(read_default=True) == (False, False)


def test_a_key_s_bytes_come_from_data_else_from_the_file_read() -> None:
    op = Operation("burn_key", {"block": 4, "file": Secret(b"\x01" * 32)})
    assert BurnKey.of(op).key_bytes(op) == b"\x01" * 32
    unread = Operation("burn_key", {"block": 4, "file": "key.bin"}, "k")
    with pytest.raises(InputError, match="k: burn_key file 'key.bin' was not loaded"):
        BurnKey.of(unread).key_bytes(unread)


def test_a_digest_step_without_its_digest_is_refused() -> None:
    with pytest.raises(InputError, match="the key's digest was not computed"):
        BurnKeyDigest.of(Operation("burn_key_digest", {"block": 4, "file": Secret(b"pem")}))
    step = BurnKeyDigest.of(Operation("burn_key_digest", {"purpose": "SECURE_BOOT_DIGEST0", "digest": b"\x02" * 32}))
    assert (step.purpose, step.digest, step.caveat) == ("SECURE_BOOT_DIGEST0", b"\x02" * 32, None)


def test_shapes_checked_before_anything_of_the_chip() -> None:
    with pytest.raises(InputError, match="burn_efuse takes a mapping"):
        BurnEfuse.of(Operation("burn_efuse", {}))
    assert BurnEfuse.of(Operation("burn_efuse", {"A": 1, "B": 2})).values == (("A", 1), ("B", 2))
    assert ProtectEfuse.of(Operation("write_protect_efuse", "BLOCK3")).names == ("BLOCK3",)
    with pytest.raises(InputError, match="takes a list of field or block names"):
        ProtectEfuse.of(Operation("read_protect_efuse", []))
    assert SetFlashVoltage.of(Operation("set_flash_voltage", "3.3v")).voltage == "3.3V"
    with pytest.raises(InputError, match="is not one of 1.8V, 3.3V, OFF"):
        SetFlashVoltage.of(Operation("set_flash_voltage", "5V"))


def test_block_data_from_a_secret_stays_secret() -> None:
    assert BurnBlockData.of(Operation("burn_block_data", {"block": 3, "file": Secret(b"x")})).secret
    plain = BurnBlockData.of(Operation("burn_block_data", {"block": 3, "data": "00ff"}))
    assert not plain.secret and plain.offset == 0
