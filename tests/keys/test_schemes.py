"""The Secure Boot V2 scheme table: complete, consistent with the chip data, and enforced."""

from __future__ import annotations

import pytest

from fusebook.chips.loader import chip_names, load_chip
from fusebook.errors import InputError
from fusebook.keys.schemes import SCHEME_NAMES, check_scheme, known_chips, scheme_support


def test_every_chip_fusebook_knows_has_an_entry_and_no_more() -> None:
    assert sorted(known_chips()) == sorted(chip_names())


@pytest.mark.parametrize("chip", chip_names())
def test_chips_with_schemes_have_somewhere_to_burn_a_digest(chip: str) -> None:
    support = scheme_support(chip)
    defn = load_chip(chip)
    if chip == "esp32":
        assert defn.has_block("BLOCK2")  # ESP32 keeps its one digest in BLOCK2
        return
    digest_purposes = [kp.name for kp in defn.key_purposes if kp.digest]
    assert digest_purposes, chip
    assert support.schemes is None or set(support.schemes) <= set(SCHEME_NAMES)


@pytest.mark.parametrize("chip", chip_names())
def test_p384_is_listed_only_where_the_chip_can_switch_to_sha384(chip: str) -> None:
    """A P-384 signature's image digest is SHA-384, which SECURE_BOOT_SHA384_EN turns on."""
    schemes = scheme_support(chip).schemes or ()
    if "ecdsa384" in schemes:
        tables = [load_chip(chip)] + ([load_chip(chip, 300)] if chip == "esp32p4" else [])
        assert any(t.has_field("SECURE_BOOT_SHA384_EN") for t in tables), chip


def test_known_facts() -> None:
    assert scheme_support("esp32").schemes == ("rsa3072",)
    assert scheme_support("esp32c2").schemes == ("ecdsa192", "ecdsa256")
    assert "rsa3072" not in (scheme_support("esp32c61").schemes or ())
    assert "ecdsa384" in (scheme_support("esp32c5").schemes or ())
    assert scheme_support("esp32e22").schemes is None


def test_an_unknown_scheme_is_refused_with_what_the_chip_takes() -> None:
    with pytest.raises(InputError) as e:
        check_scheme("esp32s3", "ecdsa256")
    assert "esp32s3" in e.value.message and "RSA-3072" in (e.value.hint or "")


def test_caveats_come_back_as_warnings() -> None:
    assert check_scheme("esp32s3", "rsa3072") is None
    assert "v3.0" in (check_scheme("esp32", "rsa3072") or "")
    assert "errata" in (check_scheme("esp32h2", "ecdsa256") or "")
    assert check_scheme("esp32e22", "ecdsa384")  # unknown chip facts: allowed, with a warning


def test_an_unknown_chip_gets_a_suggestion() -> None:
    with pytest.raises(InputError) as e:
        scheme_support("esp32c33")
    assert "did you mean" in (e.value.hint or "")
