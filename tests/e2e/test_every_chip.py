"""Every chip through the command line: fields, summary, a generic burn; custom tables and
secure-boot digests through recipes, checked against espefuse."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fusebook.chips.loader import chip_names

from ..api_burn import same_start
from ..differential.espefuse_oracle import espefuse_blocks, espefuse_burn
from .conftest import fusebook


@pytest.mark.parametrize("chip", chip_names())
def test_fields_summary_and_a_generic_burn(chip: str, tmp_path: Path) -> None:
    fields = fusebook("fields", chip, "--format", "json")
    assert fields.code == 0, fields.err
    names = {f["name"] for f in fields.json["fields"]}
    efuse = tmp_path / "chip.efuse"
    wr = next(f for f in fields.json["fields"] if f["name"] == "WR_DIS")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"fusebook: 1\nname: generic\nchip: {chip}\nsteps:\n"
        "  - write_protect_efuse: [RD_DIS]\n"
        + ("  - burn_custom_mac: '02:12:34:56:78:9a'\n" if "CUSTOM_MAC" in names else "")
    )
    r = fusebook("apply", recipe, "--virt", "--chip", chip, "--efuse-file", efuse, "--yes", "--no-ledger")
    assert r.code == 0, r.err
    summary = fusebook("summary", "--virt", "--chip", chip, "--efuse-file", efuse, "--format", "json")
    assert summary.code == 0, summary.err
    values = {f["name"]: f for f in summary.json["fields"]}
    assert values["RD_DIS"]["writeable"] is False
    assert values["WR_DIS"]["value"] != 0 and wr["bits"] >= 1
    if "CUSTOM_MAC" in names:
        assert values["CUSTOM_MAC"]["value"] == "02:12:34:56:78:9a"
    text = fusebook("summary", "--virt", "--chip", chip, "--efuse-file", efuse)
    assert text.code == 0 and "RD_DIS" in text.out


CUSTOM_CSV = """\
# field_name, efuse_block, bit_start, bit_count, comment
MODULE_VERSION, EFUSE_BLK3, 0, 8, module hardware version
FACTORY_TEST_PASSED, EFUSE_BLK3, 8, 1, end-of-line test passed
UNIT_SERIAL, EFUSE_BLK3, 32, 64, serial number
"""


@pytest.mark.parametrize("via", ["recipe-key", "cli-option"])
def test_custom_table_fields_burn_by_name_like_espefuse(tmp_path: Path, via: str) -> None:
    table = tmp_path / "custom.csv"
    table.write_text(CUSTOM_CSV)
    key = "extend_efuse_table: custom.csv\n" if via == "recipe-key" else ""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        f"fusebook: 1\nname: custom\nchip: esp32c3\n{key}steps:\n"
        "  - burn_efuse: {MODULE_VERSION: 3, FACTORY_TEST_PASSED: 1, UNIT_SERIAL: '0102030405060708'}\n"
    )
    extra = [] if via == "recipe-key" else ["--extend-efuse-table", table]
    ours, theirs = tmp_path / "ours.efuse", tmp_path / "theirs.efuse"
    same_start("esp32c3", ours, theirs)
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", ours, "--yes",
                 "--no-ledger", *extra)
    assert r.code == 0, r.err
    import contextlib

    from espefuse import init_commands

    with contextlib.redirect_stdout(io.StringIO()), open(table) as f, init_commands(
        chip="esp32c3", virt=True, virt_efuse_file=str(theirs), do_not_confirm=True,
        extend_efuse_table=f,
    ) as e:
        e.use_batch_mode()
        e.burn_efuse({"MODULE_VERSION": "3", "FACTORY_TEST_PASSED": "1",
                      "UNIT_SERIAL": bytes.fromhex("0102030405060708")})
        e.burn_all()
    assert espefuse_blocks("esp32c3", ours) == espefuse_blocks("esp32c3", theirs)


def test_secure_boot_digest_through_a_recipe_matches_espefuse(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "sb.pem"
    pem.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "fusebook: 1\nname: sb\nchip: esp32c6\nsteps:\n"
        "  - burn_key_digest: {block: BLOCK_KEY2, purpose: SECURE_BOOT_DIGEST0, file: sb.pem}\n"
    )
    ours, theirs = tmp_path / "ours.efuse", tmp_path / "theirs.efuse"
    same_start("esp32c6", ours, theirs)
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32c6", "--efuse-file", ours, "--yes", "--no-ledger")
    assert r.code == 0, r.err
    espefuse_burn("esp32c6", theirs, lambda e: e.burn_key_digest(["BLOCK_KEY2"], [open(pem, "rb")],
                                                                 ["SECURE_BOOT_DIGEST0"]))
    assert espefuse_blocks("esp32c6", ours) == espefuse_blocks("esp32c6", theirs)
