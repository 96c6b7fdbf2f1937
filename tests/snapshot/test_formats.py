"""Snapshot formats, read and written, and their agreement with espefuse."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from fusebook.chips.loader import load_chip
from fusebook.errors import InputError
from fusebook.snapshot import formats

from ..differential.espefuse_oracle import espefuse_burn
from ..plan.helpers import plan


def _burned(chip_name: str):
    chip = load_chip(chip_name)
    from fusebook.efuse.image import EfuseImage

    return plan(chip, EfuseImage.blank(chip), {"burn_custom_mac": "02:11:22:33:44:55"},
                {"burn_efuse": {"WR_DIS": 1 << 3}}).after


@pytest.mark.parametrize("chip_name", ["esp32c3", "esp32s3", "esp32"])
def test_token_round_trip(chip_name: str) -> None:
    image = _burned(chip_name)
    token = formats.to_token(image)
    assert token.startswith(f"EFSR:{chip_name}:")
    assert formats.from_token(token).blocks == image.blocks


@pytest.mark.parametrize("chip_name", ["esp32c3", "esp32"])
def test_token_matches_espefuse(chip_name: str, tmp_path: Path) -> None:
    """espefuse's token of an efuse file equals ours of the same file, both ways."""
    from espefuse import init_commands
    from espefuse.efuse.emulate_efuse_controller_base import EfsToken

    f = tmp_path / "chip.bin"
    espefuse_burn(chip_name, f, lambda e: e.burn_efuse({"WR_DIS": "8"}))
    with contextlib.redirect_stdout(io.StringIO()):
        with init_commands(chip=chip_name, virt=True, virt_efuse_file=str(f)) as cmds:
            theirs = EfsToken.build(cmds.esp.CHIP_NAME, cmds.esp.get_chip_revision(),
                                    cmds.efuses.blocks, None, "EFSR")
    ours = formats.to_token(formats.from_efuse_file(f, load_chip(chip_name)))
    assert ours == theirs
    # and espefuse loads our token into its virtual controller
    with contextlib.redirect_stdout(io.StringIO()):
        with init_commands(chip=chip_name, virt=True, token=ours) as cmds:
            assert cmds.efuses["WR_DIS"].get() == 8


def test_token_crc_is_checked() -> None:
    token = formats.to_token(_burned("esp32c3"))
    bad = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(InputError, match="CRC"):
        formats.from_token(bad)


def test_json_snapshot_round_trip(tmp_path: Path) -> None:
    image = _burned("esp32s3")
    data = formats.to_json(image, "test")
    p = tmp_path / "snap.json"
    p.write_text(json.dumps(data))
    assert formats.load_snapshot(str(p)).blocks == image.blocks
    assert data["digest"] == image.digest()


def test_efuse_file_round_trip_and_layout(tmp_path: Path) -> None:
    image = _burned("esp32c3")
    p = tmp_path / "chip.bin"
    formats.to_efuse_file(image, p)
    assert p.stat().st_size == image.chip.mem_size
    assert formats.load_snapshot(str(p), "esp32c3").blocks == image.blocks
    # espefuse reads the file we wrote
    from ..differential.espefuse_oracle import espefuse_fields

    assert espefuse_fields("esp32c3", p)["CUSTOM_MAC"].startswith("02:11:22:33:44:55")


def test_blank_needs_a_chip() -> None:
    with pytest.raises(InputError, match="--chip"):
        formats.load_snapshot("blank")
    assert not any(formats.load_snapshot("blank", "esp32h2").blocks)


def test_efuse_file_of_wrong_size_names_the_chip(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(bytes(10))
    with pytest.raises(InputError, match="ESP32-C3"):
        formats.load_snapshot(str(p), "esp32c3")


def test_redacted_hides_secret_keys_but_not_digests() -> None:
    chip = load_chip("esp32c3")
    from fusebook.efuse.image import EfuseImage

    image = plan(
        chip, EfuseImage.blank(chip),
        {"burn_key": {"block": "BLOCK_KEY0", "purpose": "HMAC_UP", "data": "aa55" * 16,
                      "read_protect": False}},
        {"burn_key": {"block": "BLOCK_KEY1", "purpose": "SECURE_BOOT_DIGEST0", "data": "bb66" * 16}},
    ).after
    red = formats.redacted(image)
    assert image.blocks[4] and red.blocks[4] == 0
    assert red.blocks[5] == image.blocks[5]
