"""Requests that would damage a chip, refused through the command line before anything is sent:
the exit code, a located message, and the chip file byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import fusebook

KEY = bytes(range(1, 33))


def apply(tmp_path: Path, chip: str, steps: str, chip_file: Path, inputs: str = ""):
    (tmp_path / "k.bin").write_bytes(KEY)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(f"fusebook: 1\nname: t\nchip: {chip}\n" + (f"inputs:\n{inputs}" if inputs else "")
                      + "steps:\n" + steps)
    return fusebook("apply", recipe, "--virt", "--chip", chip, "--efuse-file", chip_file, "--yes", "--no-ledger")


def prepared(tmp_path: Path, chip: str, steps: str) -> Path:
    f = tmp_path / "chip.efuse"
    d = tmp_path / "prep"
    d.mkdir()
    assert apply(d, chip, steps, f).code == 0
    return f


CASES = [
    ("secret-into-read-protected-key", "esp32c3",
     f"  - burn_key: {{block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: '{KEY[::-1].hex()}', "
     "write_protect: false}\n",
     "  - burn_efuse: {BLOCK_KEY0: '{{ inputs.k | hex }}'}\n", 3, "read-protected"),
    ("secret-block-data-into-read-protected", "esp32s3",
     "  - read_protect_efuse: [BLOCK_SYS_DATA2]\n",
     "  - burn_block_data: {block: BLOCK_SYS_DATA2, data: '{{ inputs.k | hex }}'}\n", 3, "read-protected"),
    ("burn-bit-into-write-protected-field", "esp32c3",
     "  - write_protect_efuse: [SOFT_DIS_JTAG]\n",
     "  - burn_bit: {block: BLOCK0, bits: [48]}\n", 3, "write-protected"),
    ("esp32-coding-scheme-with-block-data", "esp32", "",
     "  - burn_efuse: {CODING_SCHEME: 1}\n  - burn_block_data: {block: BLOCK3, data: '0102'}\n", 3,
     "run of its own"),
    ("placeholder-key-file", "esp32c6", "",
     "  - burn_key: {block: BLOCK_KEY2, purpose: XTS_AES_128_KEY, file: p.bin}\n", 2, "placeholder"),
    ("templated-keys-one-field", "esp32c3", "",
     "  - burn_efuse: {SOFT_DIS_JTAG: 1, \"{{ 'SOFT_DIS_JTAG' }}\": 4}\n", 3, "render to"),
    ("burn-key-protections-differ", "esp32c3", "",
     f"  - burn_key: {{block: BLOCK_KEY1, purpose: XTS_AES_128_KEY, data: '{KEY.hex()}', read_protect: false}}\n"
     f"  - burn_key: {{block: BLOCK_KEY1, purpose: XTS_AES_128_KEY, data: '{KEY.hex()}'}}\n", 3, "read_protect"),
]


@pytest.mark.parametrize("name,chip,prep,steps,code,message", CASES, ids=[c[0] for c in CASES])
def test_damaging_requests_are_refused_and_nothing_is_sent(tmp_path: Path, name: str, chip: str, prep: str,
                                                          steps: str, code: int, message: str) -> None:
    if not prep:  # a chip file that exists and holds something
        prep = "  - burn_efuse: {DISABLE_BT: 1}\n" if chip == "esp32" else "  - burn_efuse: {SECURE_VERSION: 1}\n"
    chip_file = prepared(tmp_path, chip, prep)
    (tmp_path / "p.bin").write_bytes(b"\xff" * 32)
    before = chip_file.read_bytes()
    r = apply(tmp_path, chip, steps, chip_file, "  k: {file: k.bin, format: binary, secret: true}\n")
    assert chip_file.read_bytes() == before, "the chip changed"
    assert r.code == code, r.err
    assert message in r.err and "recipe.yaml:" in r.err
    assert "Traceback" not in r.err
