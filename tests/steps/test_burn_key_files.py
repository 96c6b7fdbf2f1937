"""burn_key's files read in for the rendered step: a key file as a secret, read beside the
recipe file that names it, and an ECDSA private key PEM (given as `file:` or as `data:` from
a secret input) turned into the scalar espefuse burns, refused at the step where it cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.errors import InputError, SourceLocation
from fusebook.secret import Secret
from fusebook.steps.burn_key import prepare
from tests.keys.conftest import private_pem

KEY = bytes(range(1, 33))
HEAD = "fusebook: 1\nname: t\nchip: {chip}\n"


def _loaded(folder: Path, chip: str, body: str) -> api.LoadedRecipe:
    path = folder / "r.yaml"
    path.write_text(HEAD.format(chip=chip) + body)
    return api.load_recipe(path)


def _plan(folder: Path, chip: str, body: str) -> api.PlanResult:
    return api.plan(_loaded(folder, chip, body), api.load_snapshot("blank", chip))


def _refused(folder: Path, chip: str, step: str) -> InputError:
    with pytest.raises(InputError) as caught:
        _plan(folder, chip, f"steps:\n  - burn_key: {step}\n")
    assert caught.value.location is not None
    assert (Path(caught.value.location.file).name, caught.value.location.line) == ("r.yaml", 5)
    return caught.value


def test_a_key_file_is_read_in_as_a_secret(tmp_path: Path) -> None:
    (tmp_path / "k.bin").write_bytes(KEY)
    loaded = _loaded(tmp_path, "esp32c3", "steps: []\n")
    args = {"block": "BLOCK_KEY0", "purpose": "HMAC_UP", "file": "k.bin"}
    out = prepare(args, loaded, load_chip("esp32c3"), SourceLocation(str(tmp_path / "r.yaml"), 5, 5))
    assert isinstance(out["file"], Secret) and out["file"].reveal() == KEY
    assert args["file"] == "k.bin"  # the step as written is left alone


def test_a_key_file_is_read_beside_the_fragment_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "k.bin").write_bytes(KEY)
    (tmp_path / "sub" / "keys.yaml").write_text(
        "steps:\n  - burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: k.bin}\n")
    p = _plan(tmp_path, "esp32c3", "steps:\n  - include: sub/keys.yaml\n").plan
    assert p.key_fingerprints == {"BLOCK_KEY0": Secret(KEY).fingerprint}


def test_an_ecdsa_pem_file_becomes_its_scalar_in_place_of_the_file(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "k.pem").write_bytes(private_pem(key))
    loaded = _loaded(tmp_path, "esp32h2", "steps: []\n")
    out = prepare({"block": "BLOCK_KEY2", "purpose": "ECDSA_KEY", "file": "k.pem"}, loaded, load_chip("esp32h2"),
                  SourceLocation(str(tmp_path / "r.yaml"), 5, 5))
    assert sorted(out) == ["block", "data", "purpose"]
    assert isinstance(out["data"], Secret)
    assert out["data"].reveal() == key.private_numbers().private_value.to_bytes(32, "big")


def test_an_ecdsa_pem_from_a_secret_input_burns_as_the_same_pem_as_a_file(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(private_pem(ec.generate_private_key(ec.SECP256R1())))
    as_file = _plan(tmp_path, "esp32h2", "steps:\n  - burn_key: {block: BLOCK_KEY2, purpose: ECDSA_KEY, file: k.pem}\n")
    as_data = _plan(tmp_path, "esp32h2", "inputs:\n  k: {file: k.pem, format: binary, secret: true}\n"
                                         "steps:\n  - burn_key: {block: BLOCK_KEY2, purpose: ECDSA_KEY, "
                                         "data: '{{ inputs.k }}'}\n")
    assert as_data.plan.after.blocks == as_file.plan.after.blocks != api.load_snapshot("blank", "esp32h2").blocks
    assert as_data.plan.key_fingerprints == as_file.plan.key_fingerprints


def test_an_ecdsa_key_that_is_a_placeholder_is_refused_at_the_step(tmp_path: Path) -> None:
    placeholder = ec.derive_private_key(int.from_bytes(b"\x01" * 32, "big"), ec.SECP256R1())
    (tmp_path / "k.pem").write_bytes(private_pem(placeholder))
    e = _refused(tmp_path, "esp32h2", "{block: BLOCK_KEY2, purpose: ECDSA_KEY, file: k.pem}")
    assert e.message == "the ECDSA private key holds a placeholder, not a key: all of its 32 bytes are the same value"
    assert e.hint and "generate-signing-key" in e.hint and "flash-encryption" not in e.hint


def test_an_ecdsa_key_on_the_wrong_curve_is_refused_at_the_step(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(private_pem(ec.generate_private_key(ec.SECP384R1())))
    e = _refused(tmp_path, "esp32h2", "{block: BLOCK_KEY2, purpose: ECDSA_KEY, file: k.pem}")
    assert (e.message, e.hint) == ("ECDSA_KEY takes a P-192 or P-256 key, the key file holds a P-384 key",
                                   "a P-384 key goes with purpose ECDSA_KEY_P384")


def test_ecdsa_key_is_p256_only_on_a_chip_with_per_curve_purposes(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(private_pem(ec.generate_private_key(ec.SECP192R1())))
    e = _refused(tmp_path, "esp32c5", "{block: BLOCK_KEY2, purpose: ECDSA_KEY, file: k.pem}")
    assert e.message == "ECDSA_KEY takes a P-256 key, the key file holds a P-192 key"
    p = _plan(tmp_path, "esp32h2", "steps:\n  - burn_key: {block: BLOCK_KEY2, purpose: ECDSA_KEY, file: k.pem}\n")
    assert list(p.plan.key_fingerprints) == ["BLOCK_KEY2"]  # ESP32-H2's ECDSA_KEY takes a P-192 key
