"""A plan a reviewer can audit: protection bits by number and what they protect, block data
with its byte offsets, a key by one fingerprint everywhere, a public digest in full."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fusebook import api

KEY = os.urandom(32)


def _plan(tmp_path: Path) -> api.BurnPlan:
    (tmp_path / "k.bin").write_bytes(KEY)
    pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    (tmp_path / "sb.pem").write_bytes(pub.public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "r.yaml").write_text(
        "fusebook: 1\nname: audit\nchip: esp32c6\nsteps:\n"
        "  - burn_key: {block: BLOCK_KEY0, purpose: HMAC_UP, file: k.bin}\n"
        "  - burn_key_digest: {block: BLOCK_KEY1, purpose: SECURE_BOOT_DIGEST0, file: sb.pem}\n"
        "  - burn_block_data: {block: BLOCK_USR_DATA, offset: 4, data: '0102030405'}\n")
    return api.plan(api.load_recipe(tmp_path / "r.yaml"), api.load_snapshot("blank", "esp32c6")).plan


def test_protection_bits_are_named_by_bit_and_what_they_protect(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    labels = [c.label() for c in plan.changes]
    key0 = api.load_chip("esp32c6").blocks[4]
    assert f"WR_DIS bit {key0.wr_dis} (BLOCK_KEY0)" in labels
    assert f"RD_DIS bit {key0.rd_dis[0]} (BLOCK_KEY0)" in labels
    assert "WR_DIS" not in labels  # never a bare WR_DIS: 00 -> 01
    assert len(labels) == len(set(labels))


def test_block_data_shows_its_byte_offsets(tmp_path: Path) -> None:
    change = next(c for c in _plan(tmp_path).changes if c.field == "BLOCK_USR_DATA")
    assert change.label() == "BLOCK_USR_DATA bytes 4..8" and change.after == "0102030405"


def test_one_fingerprint_per_key_in_changes_writes_and_the_ledger_field(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    fp = plan.key_fingerprints["BLOCK_KEY0"]
    change = next(c for c in plan.changes if c.field == "BLOCK_KEY0")
    write = next(w for w in plan.writes if w.block_name == "BLOCK_KEY0")
    body = plan.to_json()
    assert change.after == f"key {fp}" and write.fingerprint == fp
    assert {c["after"] for c in body["changes"] if c["field"] == "BLOCK_KEY0"} == {f"key {fp}"}
    text = json.dumps(body)
    assert KEY.hex() not in text and KEY[::-1].hex() not in text


def test_a_secure_boot_digest_is_public_and_shown(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    change = next(c for c in plan.changes if c.field == "BLOCK_KEY1")
    write = next(w for w in plan.writes if w.block_name == "BLOCK_KEY1")
    assert not change.secret and not write.secret
    digest = bytes.fromhex(change.after)
    assert len(digest) == 32 and int.from_bytes(digest, "little") == write.expected
