"""`fusebook new`: every starter validates, plans and burns on a blank chip of each chip it fits,
its `ensure` holds on the chip read back, and a chip it does not fit is refused with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from ruamel.yaml import YAML

from fusebook import api
from fusebook.chips.loader import chip_names, load_chip
from fusebook.errors import InputError
from fusebook.starters import KINDS, ChipFacts

from ..e2e.conftest import fusebook

CASES = [(kind, chip) for kind in KINDS for chip in api.starter_chips(kind)]

_CURVES = {"ecdsa192": ec.SECP192R1(), "ecdsa256": ec.SECP256R1(), "ecdsa384": ec.SECP384R1()}


@pytest.fixture(scope="module")
def public_keys() -> dict[str, bytes]:
    """One signing key per scheme (an RSA-3072 key takes a while to make)."""
    out = {}
    for scheme in ("rsa3072", *_CURVES):
        key = (rsa.generate_private_key(65537, 3072) if scheme == "rsa3072"
               else ec.generate_private_key(_CURVES[scheme]))
        out[scheme] = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return out


def _files_beside(folder: Path, chip: str, public_keys: dict[str, bytes]) -> None:
    """The key and data files the starters' comments tell a user to make."""
    (folder / "keys").mkdir(exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "keys" / "flash-encryption.bin").write_bytes(os.urandom(32))
    (folder / "keys" / "hmac.bin").write_bytes(os.urandom(32))
    scheme = ChipFacts(load_chip(chip)).signing_schemes[-1]
    (folder / "keys" / "secure-boot.pub.pem").write_bytes(public_keys[scheme])
    (folder / "data" / "units.csv").write_text("index,mac\n1,02:00:00:00:00:01\n2,02:00:00:00:00:02\n")


@pytest.mark.parametrize("kind, chip", CASES, ids=[f"{k}-{c}" for k, c in CASES])
def test_each_starter_plans_burns_and_ensures_on_a_blank_chip(
        kind: str, chip: str, tmp_path: Path, public_keys: dict[str, bytes]) -> None:
    _files_beside(tmp_path, chip, public_keys)
    recipe = tmp_path / "recipe.yaml"
    text = api.new_recipe(kind, chip)
    recipe.write_text(text)
    assert text.startswith("#") and f"chip: {chip}" in text
    loaded = api.load_recipe(recipe)
    planned = api.plan(loaded, api.load_snapshot("blank", chip), 1)
    assert planned.plan.writes, "a starter must burn something"
    with api.connect(api.ConnectOptions(virt=True, chip=chip, efuse_file=tmp_path / "chip.bin")) as session:
        outcome = api.apply(loaded, session, 1)  # raises BurnError if an `ensure` fails on the chip
    assert outcome.burned
    with api.connect(api.ConnectOptions(virt=True, chip=chip, efuse_file=tmp_path / "chip.bin")) as session:
        again = api.apply(loaded, session, 1)
    assert again.plan.empty  # re-running a starter on a finished unit burns nothing


def test_every_kind_fits_most_chips_and_says_why_not() -> None:
    for kind in KINDS:
        fits = api.starter_chips(kind)
        assert len(fits) >= 10, (kind, fits)
        for chip in set(chip_names()) - set(fits):
            with pytest.raises(InputError) as e:
                api.new_recipe(kind, chip)
            assert chip in e.value.message and "does not fit" in e.value.message
            assert fits[0] in (e.value.hint or "")


def test_unfitting_chips_lack_what_the_kind_needs() -> None:
    """The refusals follow the chip data: HMAC needs the purpose, flash encryption a counter."""
    for chip in set(chip_names()) - set(api.starter_chips("hmac")):
        assert not any(kp.name == "HMAC_UP" for kp in load_chip(chip).key_purposes)
    for chip in set(chip_names()) - set(api.starter_chips("flash-encryption")):
        c = load_chip(chip)
        assert not (c.has_field("SPI_BOOT_CRYPT_CNT") and any(kp.name == "XTS_AES_128_KEY" for kp in c.key_purposes))
        assert not c.has_field("FLASH_CRYPT_CNT")


def test_key_material_goes_in_by_file_only() -> None:
    for kind, chip in CASES:
        doc = YAML(typ="safe").load(api.new_recipe(kind, chip))
        for name, spec in (doc.get("inputs") or {}).items():
            if "key" in name:
                assert spec.get("secret") is True, (kind, chip, name)


def test_cli_writes_and_will_not_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "fe.yaml"
    r = fusebook("new", "--chip", "esp32s3", "--template", "flash-encryption", "-o", out)
    assert r.code == 0, r.err
    assert "XTS_AES_128_KEY" in out.read_text()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "flash-encryption.bin").write_bytes(os.urandom(32))
    r = fusebook("validate", out)
    assert r.code == 0, r.err
    out.write_text("mine")
    r = fusebook("new", "--chip", "esp32s3", "--template", "jtag-lockdown", "-o", out)
    assert r.code == 2 and "--force" in r.err and out.read_text() == "mine"
    r = fusebook("new", "--chip", "esp32s3", "--template", "jtag-lockdown", "-o", out, "--force")
    assert r.code == 0 and "DIS_PAD_JTAG" in out.read_text()


def test_cli_refusals_exit_2_without_a_traceback() -> None:
    r = fusebook("new", "--chip", "esp32c2", "--template", "hmac")
    assert r.code == 2 and "HMAC_UP" in r.err and "Traceback" not in r.err
    r = fusebook("new", "--template", "hmac")
    assert r.code == 2 and "--chip" in r.err
    r = fusebook("new", "--chip", "esp32c9", "--template", "hmac")
    assert r.code == 2 and "Traceback" not in r.err


def test_cli_lists_what_fits(tmp_path: Path) -> None:
    r = fusebook("new", "--list", "--format", "json")
    assert r.code == 0
    assert set(r.json["templates"]) == set(KINDS)
    assert "esp32c2" not in r.json["templates"]["hmac"] and "esp32c3" in r.json["templates"]["hmac"]
