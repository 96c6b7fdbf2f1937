"""burn_key_digest from a recipe: the PEM read in as a secret and turned into the digest for
the chip planned, the chip's refusals and caveats at the step."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError
from fusebook.keys.digest import secure_boot_v2_digest
from fusebook.secret import Secret
from fusebook.steps import STEPS

from .conftest import assert_no_leak, private_pem, public_pem, secret_numbers

STEP = "  - burn_key_digest: {block: BLOCK_KEY0, purpose: SECURE_BOOT_DIGEST0, file: sb.pem}\n"


def _loaded(tmp_path: Path, chip: str, pem: bytes | None, step: str = STEP) -> api.LoadedRecipe:
    if pem is not None:
        (tmp_path / "sb.pem").write_bytes(pem)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"fusebook: 1\nname: r\nchip: {chip}\nsteps:\n{step}")
    return api.load_recipe(recipe)


def _plan(loaded: api.LoadedRecipe, chip: str) -> api.PlanResult:
    return api.plan(loaded, EfuseImage.blank(load_chip(chip)))


def _refused(loaded: api.LoadedRecipe, chip: str) -> InputError:
    with pytest.raises(InputError) as caught:
        _plan(loaded, chip)
    assert caught.value.location is not None
    assert (caught.value.location.file, caught.value.location.line) == (str(loaded.path), 5)
    return caught.value


@pytest.fixture(scope="module")
def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_a_private_pem_is_held_as_a_secret_and_only_its_digest_is_burned(
        tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    pem = private_pem(p256)
    loaded = _loaded(tmp_path, "esp32c6", pem)
    step = loaded.compiled.steps[0]
    args = STEPS["burn_key_digest"].prepare({"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST0",
                                             "file": "sb.pem"}, loaded, load_chip("esp32c6"), step.origin)
    assert isinstance(args["file"], Secret) and args["file"].reveal() == pem
    assert args["digest"] == secure_boot_v2_digest(pem) and "caveat" not in args
    p = _plan(loaded, "esp32c6").plan
    assert p.after.blocks[4] == int.from_bytes(secure_boot_v2_digest(pem), "little")
    assert p.warnings == ()


def test_a_key_the_chip_cannot_verify_is_refused_at_the_step(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    e = _refused(_loaded(tmp_path, "esp32c3", private_pem(p256)), "esp32c3")
    assert e.message == "esp32c3 cannot verify ECDSA P-256 Secure Boot V2 signatures"
    assert e.hint == "esp32c3 takes RSA-3072 keys"
    assert_no_leak(e, secret_numbers(p256))


def test_a_pem_that_is_no_key_is_refused_at_the_step(tmp_path: Path) -> None:
    e = _refused(_loaded(tmp_path, "esp32c6", b"not a key\n"), "esp32c6")
    assert e.message.startswith("the secure boot key file is not a PEM key")


def test_a_missing_key_file_is_named_at_the_step(tmp_path: Path) -> None:
    e = _refused(_loaded(tmp_path, "esp32c6", None), "esp32c6")
    assert e.message == "file sb.pem: no such file"


def test_the_chips_caveat_on_the_key_is_a_warning_at_the_step(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    p = _plan(_loaded(tmp_path, "esp32h2", public_pem(p256)), "esp32h2").plan
    assert [(w.message, w.origin.location.line) for w in p.warnings] == [
        ("ESP-IDF marks ECDSA Secure Boot V2 on this chip as failing for certain inputs (hardware errata); "
         "use RSA-3072 where the chip has it.", 5)]


def test_a_recipe_for_two_chips_works_the_digest_out_for_each(tmp_path: Path, p256: ec.EllipticCurvePrivateKey) -> None:
    """One key file, two chips: the same digest, but each chip's own caveat (the key is
    worked out once per key and chip, not once per key)."""
    loaded = _loaded(tmp_path, "[esp32c6, esp32h2]", public_pem(p256))
    c6 = _plan(loaded, "esp32c6").plan
    h2 = _plan(loaded, "esp32h2").plan
    assert c6.after.blocks[4] == h2.after.blocks[4] == int.from_bytes(secure_boot_v2_digest(public_pem(p256)), "little")
    assert (len(c6.warnings), len(h2.warnings)) == (0, 1)


def test_a_template_that_gives_no_key_file_is_refused_at_the_step(tmp_path: Path) -> None:
    step = ("  - burn_key_digest: \"{{ {'block': 'BLOCK_KEY0', 'purpose': 'SECURE_BOOT_DIGEST0', "
            "'file': none} }}\"\n")
    e = _refused(_loaded(tmp_path, "esp32c6", None, step), "esp32c6")
    assert (e.message, e.location.column if e.location else None) == ("burn_key_digest needs `file:` (a key PEM)", 5)
