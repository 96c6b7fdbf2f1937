"""When a plan's EFSW token would show key material: a secret write, or secret bits alone.

(The token's bytes are compared with espefuse's in tests/differential/test_tokens.py.)
"""

from __future__ import annotations

import dataclasses

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.plan.efsw import has_key_material
from tests.plan.helpers import plan

C3 = load_chip("esp32c3")
BLANK = EfuseImage.blank(C3)


def test_a_key_write_is_key_material_without_any_secret_bits_recorded() -> None:
    p = plan(C3, BLANK, {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY",
                                      "data": bytes(range(1, 33)).hex()}})
    assert p.secret_bits == {}  # only the API records them; the secret write says it alone
    assert has_key_material(p)


def test_secret_bits_alone_are_key_material() -> None:
    p = plan(C3, BLANK, {"burn_efuse": {"SOFT_DIS_JTAG": 1}})
    assert not has_key_material(p)
    assert not has_key_material(dataclasses.replace(p, secret_bits={3: 0}))
    assert has_key_material(dataclasses.replace(p, secret_bits={3: 1}))
