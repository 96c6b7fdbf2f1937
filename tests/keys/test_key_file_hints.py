"""A key file of the wrong size is refused with the likely cause (never its bytes), and hex
key files are read through an input with `format: hex`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fusebook import api
from fusebook.errors import FusebookError

from .conftest import public_pem

#: a key whose last byte is itself a line feed: only the line break after it is extra
KEY = os.urandom(31) + b"\n"


def _recipe(folder: Path, step: str, inputs: str = "") -> Path:
    path = folder / "r.yaml"
    path.write_text(f"fusebook: 1\nname: k\nchip: esp32c3\n{inputs}steps:\n  - {step}\n")
    return path


def _plan(recipe: Path) -> api.PlanResult:
    return api.plan(api.load_recipe(recipe), api.load_snapshot("blank", "esp32c3"))


@pytest.mark.parametrize("content, cause", [
    (KEY + b"\n", "ends with a line break"),
    (KEY.hex().encode() + b"\n", "looks like hex text"),
    (KEY.hex().upper().encode(), "looks like hex text"),
    (b"0x" + KEY.hex().encode(), "looks like hex text"),
], ids=["newline", "hex", "HEX", "0x-hex"])
def test_the_hint_names_the_likely_cause(tmp_path: Path, content: bytes, cause: str) -> None:
    (tmp_path / "k.bin").write_bytes(content)
    with pytest.raises(FusebookError) as e:
        _plan(_recipe(tmp_path, "burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: k.bin}"))
    assert e.value.exit_code == 2
    assert cause in (e.value.hint or ""), e.value.hint
    text = e.value.render()
    assert KEY.hex() not in text.lower() and KEY.hex()[:16] not in text.lower()


def test_a_public_pem_given_as_a_key_says_where_it_belongs(tmp_path: Path, rsa_key) -> None:
    (tmp_path / "pub.pem").write_bytes(public_pem(rsa_key))
    with pytest.raises(FusebookError) as e:
        _plan(_recipe(tmp_path, "burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: pub.pem}"))
    assert "public key PEM" in (e.value.hint or "") and "burn_key_digest" in (e.value.hint or "")


@pytest.mark.parametrize("name, spec", [("k.hex", "{file: k.hex, secret: true}"),
                                        ("k.txt", "{file: k.txt, format: hex, secret: true}")])
def test_a_hex_input_burns_the_bytes_it_spells(tmp_path: Path, name: str, spec: str) -> None:
    (tmp_path / name).write_text("0x" + KEY.hex()[:32] + "\n" + KEY.hex()[32:] + "\n")
    (tmp_path / "k.bin").write_bytes(KEY)
    from_hex = _plan(_recipe(tmp_path, 'burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, data: "{{ inputs.k | hex }}"}',
                             f"inputs:\n  k: {spec}\n"))
    from_bin = _plan(_recipe(tmp_path, "burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: k.bin}"))
    assert from_hex.plan.after.blocks == from_bin.plan.after.blocks
    assert from_hex.plan.key_fingerprints == from_bin.plan.key_fingerprints


def test_a_bad_hex_input_says_where_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "k.hex").write_text(KEY.hex()[:20] + "zz" + KEY.hex()[22:])
    with pytest.raises(FusebookError) as e:
        _plan(_recipe(tmp_path, 'burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, data: "{{ inputs.k | hex }}"}',
                      "inputs:\n  k: {file: k.hex, secret: true}\n"))
    assert e.value.exit_code == 2 and "offset 20" in e.value.message
    assert KEY.hex()[:20] not in e.value.render()
