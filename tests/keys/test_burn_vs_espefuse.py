"""Key files all the way to the chip: a recipe naming a PEM file, applied through
`fusebook.api`, must leave the same blocks as `espefuse burn-key-digest` / `burn-key`
given the same PEM. fusebook computes the digest and splits ECDSA keys itself, as users run it."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from espefuse import init_commands

from ..api_burn import apply_recipe, write_recipe
from .conftest import CURVES, private_pem, public_pem


def espefuse_blocks_after(chip: str, path: Path, action: Callable[[Any], None]) -> list[bytes]:
    """Burn with espefuse's own commands on a virtual efuse file; return every block's bytes."""
    with contextlib.redirect_stdout(io.StringIO()):
        with init_commands(chip=chip, virt=True, virt_efuse_file=str(path), do_not_confirm=True) as cmds:
            cmds.use_batch_mode()
            action(cmds)
            cmds.burn_all()
        with init_commands(chip=chip, virt=True, virt_efuse_file=str(path)) as cmds:
            return [
                b"".join(cmds.efuses.read_reg(b.rd_addr + 4 * i).to_bytes(4, "little") for i in range(b.len))
                for b in cmds.efuses.blocks
            ]


def both(tmp_path: Path, chip: str, kind: str, args: dict[str, Any], pem: bytes,
         action: Callable[[Any], None]) -> None:
    """`kind` with `args` and `file: key.pem` in a recipe through the API, and `action` in espefuse."""
    ours, theirs = tmp_path / "fusebook.bin", tmp_path / "espefuse.bin"
    (tmp_path / "key.pem").write_bytes(pem)
    espefuse_blocks_after(chip, theirs, lambda cmds: None)  # espefuse's new blank chip, for both
    ours.write_bytes(theirs.read_bytes())
    outcome = apply_recipe(write_recipe(tmp_path, chip, [{kind: {**args, "file": "key.pem"}}]), chip, ours)
    assert outcome.burned
    noop: Callable[[Any], None] = lambda cmds: None  # noqa: E731
    assert espefuse_blocks_after(chip, ours, noop) == espefuse_blocks_after(chip, theirs, action)


@pytest.mark.parametrize("chip,which", [("esp32s3", "rsa"), ("esp32c5", "P-384"), ("esp32c6", "P-192")])
def test_secure_boot_digest_burns_like_espefuse(
    tmp_path: Path, rsa_key: Any, ec_keys: dict, chip: str, which: str
) -> None:
    pem = public_pem(rsa_key if which == "rsa" else ec_keys[which])
    both(
        tmp_path, chip, "burn_key_digest", {"block": "BLOCK_KEY1", "purpose": "SECURE_BOOT_DIGEST0"}, pem,
        lambda cmds: cmds.burn_key_digest(["BLOCK_KEY1"], [io.BytesIO(pem)], ["SECURE_BOOT_DIGEST0"]),
    )


def test_esp32c2_burns_the_first_half_of_the_digest_like_espefuse(tmp_path: Path, ec_keys: dict) -> None:
    pem = public_pem(ec_keys["P-256"])
    both(
        tmp_path, "esp32c2", "burn_key_digest", {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST"}, pem,
        lambda cmds: cmds.burn_key_digest(io.BytesIO(pem)),
    )


@pytest.mark.parametrize(
    "chip,curve,purpose",
    [("esp32c5", "P-384", "ECDSA_KEY_P384"), ("esp32c5", "P-192", "ECDSA_KEY_P192"), ("esp32h2", "P-256", "ECDSA_KEY")],
)
def test_ecdsa_key_burns_like_espefuse(tmp_path: Path, chip: str, curve: str, purpose: str) -> None:
    key = ec.generate_private_key(CURVES[curve])
    pem = private_pem(key)
    both(
        tmp_path, chip, "burn_key", {"block": "BLOCK_KEY2", "purpose": purpose}, pem,
        lambda cmds: cmds.burn_key(["BLOCK_KEY2"], [io.BytesIO(pem)], [purpose]),
    )


def test_esp32_burns_the_digest_into_block2_like_espefuse(tmp_path: Path, rsa_key: Any) -> None:
    pem = public_pem(rsa_key)

    def espefuse(cmds: Any) -> None:
        cmds.esp.get_chip_revision = lambda: 300  # espefuse's virtual ESP32 is v0.0; SBv2 needs v3.0
        cmds.burn_key_digest(io.BytesIO(pem))

    both(tmp_path, "esp32", "burn_key_digest", {"block": "BLOCK2"}, pem, espefuse)
