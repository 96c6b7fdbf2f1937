"""Key material never leaves the chip: every output of a key-burning flow is scanned."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from .conftest import RECIPES, fusebook
from .terminal import Prompted


def forms(key: bytes) -> list[bytes]:
    """Every way the key could show up: raw, hex, base64, either byte order, 8-byte pieces."""
    out = []
    for k in (key, key[::-1]):
        out += [k, k.hex().encode(), k.hex().upper().encode(), base64.b64encode(k),
                base64.urlsafe_b64encode(k).rstrip(b"=")]
        out += [k[i : i + 8].hex().encode() for i in range(0, len(k), 8)]
        out.append(" ".join(f"{b:02x}" for b in k).encode())
    return out


def assert_clean(blob: bytes, key: bytes, what: str) -> None:
    for form in forms(key):
        assert form not in blob, f"key material in {what}"


@pytest.mark.parametrize(
    "recipe,chip,keyfile",
    [
        ("flash-encryption-esp32c3.yaml", "esp32c3", "keys/demo-fe-128.bin"),
        ("flash-encryption-esp32s3.yaml", "esp32s3", "keys/demo-fe-256.bin"),
        ("flash-encryption-esp32.yaml", "esp32", "keys/demo-esp32-fe.bin"),
    ],
)
def test_no_output_of_a_key_burn_holds_the_key(tmp_path: Path, recipe: str, chip: str, keyfile: str) -> None:
    key = (RECIPES / keyfile).read_bytes()
    work = tmp_path / "recipes"
    shutil.copytree(RECIPES, work)
    efuse = tmp_path / "chip.efuse"
    ledger = tmp_path / "ledger.sqlite"
    plan_file = tmp_path / "plan.json"
    conn = ["--virt", "--chip", chip, "--efuse-file", efuse]
    outputs: list[tuple[str, bytes]] = []
    for fmt in ("text", "json"):
        r = fusebook("plan", work / recipe, *conn, "-o", plan_file, "--format", fmt)
        assert r.code == 0, r.err
        outputs += [(f"plan {fmt} stdout", r.out.encode()), (f"plan {fmt} stderr", r.err.encode())]
    outputs.append(("saved plan", plan_file.read_bytes()))
    prompted = Prompted(["apply", str(work / recipe), *map(str, conn), "--ledger", str(ledger)])
    prompted.wait_for_prompt()
    prompted.type(b"BURN\n")
    code, out, err = prompted.finish()
    assert code == 0, err
    outputs += [("apply stdout", out.encode()), ("apply stderr", err.encode())]
    r = fusebook("apply", work / recipe, *conn, "--ledger", ledger, "--yes", "--format", "json")
    assert r.code == 0, r.err
    outputs += [("re-apply", r.out.encode() + r.err.encode())]
    for cmd in (("summary", *conn), ("snapshot", *conn), ("ledger", "list", "--ledger", ledger),
                ("ledger", "export", "--csv", "--ledger", ledger)):
        r = fusebook(*cmd, "--format", "json")
        assert r.code == 0, (cmd, r.err)
        outputs.append((" ".join(map(str, cmd[:2])), r.out.encode() + r.err.encode()))
    for path in tmp_path.glob("ledger.sqlite*"):
        outputs.append((path.name, path.read_bytes()))
    for what, blob in outputs:
        assert_clean(blob, key, what)
    # the burn did happen: the recipe's `ensure` checked purpose and protections on read-back
    assert efuse.exists()


def test_secret_input_burned_as_block_data_stays_out_of_plans(tmp_path: Path) -> None:
    secret = bytes(range(0xA0, 0xB0))
    (tmp_path / "token.bin").write_bytes(secret)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "fusebook: 1\nname: s\nchip: esp32c3\n"
        "inputs:\n  token: {file: token.bin, format: binary, secret: true}\n"
        "steps:\n  - burn_block_data: {block: BLOCK_USR_DATA, offset: 0, data: '{{ inputs.token | hex }}'}\n"
    )
    conn = ["--virt", "--chip", "esp32c3", "--efuse-file", tmp_path / "c.efuse"]
    outputs = []
    for fmt in ("text", "json"):
        r = fusebook("plan", recipe, *conn, "-o", tmp_path / "p.json", "--format", fmt)
        assert r.code == 0, r.err
        outputs.append(r.out + r.err + (tmp_path / "p.json").read_text())
    r = fusebook("apply", recipe, *conn, "--yes", "--no-ledger", "--format", "json")
    assert r.code == 0, r.err
    outputs.append(r.out + r.err)
    for blob in outputs:
        assert_clean(blob.encode(), secret, "plan of secret block data")
