"""ECDSA private keys: the raw scalar as espsecure reads it, the blocks as espefuse lays them out."""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Iterator
from typing import Any

import espsecure
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from espefuse import init_commands
from hypothesis import given, settings
from hypothesis import strategies as st

from fusebook.chips.loader import load_chip
from fusebook.errors import InputError
from fusebook.keys.ecdsa import (
    EcdsaPrivateKey,
    KeyBlockData,
    ecdsa_key_block_data,
    ecdsa_private_key_bytes,
)
from fusebook.secret import Secret

from .conftest import (
    CURVES,
    assert_no_leak,
    leak_forms,
    pem_body_lines,
    private_pem,
    public_pem,
    secret_numbers,
)


def espsecure_raw(pem: bytes) -> bytes:
    sk = espsecure.load_ecdsa_signing_key(io.BytesIO(pem))
    return espsecure.get_ecdsa_signing_key_raw_bytes(sk)


@contextlib.contextmanager
def espefuse_commands(chip: str) -> Iterator[Any]:
    with contextlib.redirect_stdout(io.StringIO()), init_commands(chip=chip, virt=True) as cmds:
        yield cmds


@pytest.fixture(scope="module")
def p4() -> Iterator[Any]:
    with espefuse_commands("esp32p4") as cmds:
        yield cmds


@pytest.fixture(scope="module")
def h2() -> Iterator[Any]:
    with espefuse_commands("esp32h2") as cmds:
        yield cmds


def espefuse_layout(cmds: Any, pem: bytes, purpose: str) -> list[tuple[str, str, bytes]]:
    """(block, purpose, data) for each block espefuse would burn, before its byte reversal."""
    blocks, files, purposes = cmds._adjust_key_data_for_blocks(["BLOCK_KEY0"], [io.BytesIO(pem)], [purpose])
    return [(b, p, f.read()) for b, p, f in zip(blocks, purposes, files, strict=True)]


# --- the raw scalar ---------------------------------------------------------------------------


@pytest.mark.parametrize("curve", list(CURVES))
@pytest.mark.parametrize("form", ["pkcs8", "traditional"])
def test_raw_bytes_match_espsecure(ec_keys: dict, curve: str, form: str) -> None:
    pem = private_pem(ec_keys[curve], form)
    key = ecdsa_private_key_bytes(pem)
    assert isinstance(key, Secret) and key.curve == curve
    assert key.reveal() == espsecure_raw(pem)
    assert len(key) == {"P-192": 24, "P-256": 32, "P-384": 48}[curve]


@pytest.mark.parametrize("curve", list(CURVES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_raw_bytes_match_espsecure_for_any_scalar(curve: str, data: st.DataObject) -> None:
    """Small scalars included: the leading zero bytes stay, as espsecure keeps them."""
    bits = CURVES[curve].key_size
    scalar = data.draw(st.one_of(st.integers(1, 2**40), st.integers(1, 2 ** (bits - 1))))
    pem = private_pem(ec.derive_private_key(scalar, CURVES[curve]))
    assert ecdsa_private_key_bytes(pem).reveal() == espsecure_raw(pem)


# --- the per-block layout, against espefuse's own -------------------------------------------


@pytest.mark.parametrize(
    "curve,purpose",
    [("P-192", "ECDSA_KEY_P192"), ("P-256", "ECDSA_KEY_P256"), ("P-256", "ECDSA_KEY"), ("P-384", "ECDSA_KEY_P384")],
)
def test_block_layout_matches_espefuse_on_esp32p4(p4: Any, ec_keys: dict, curve: str, purpose: str) -> None:
    pem = private_pem(ec_keys[curve])
    ours = ecdsa_key_block_data(ecdsa_private_key_bytes(pem), purpose)
    theirs = espefuse_layout(p4, pem, purpose)
    assert [(b.purpose, b.data.reveal()) for b in ours] == [(p, d) for _, p, d in theirs]
    assert all(len(b.data) == 32 for b in ours)


@pytest.mark.parametrize("curve", ["P-192", "P-256"])
def test_block_layout_matches_espefuse_on_esp32h2(h2: Any, ec_keys: dict, curve: str) -> None:
    pem = private_pem(ec_keys[curve])
    ours = ecdsa_key_block_data(ecdsa_private_key_bytes(pem), "ECDSA_KEY")
    assert [(b.purpose, b.data.reveal()) for b in ours] == [(p, d) for _, p, d in espefuse_layout(h2, pem, "ECDSA_KEY")]


@settings(max_examples=25, deadline=None)
@given(scalar=st.one_of(st.integers(1, 2**64), st.integers(1, 2**383)))
def test_p384_split_matches_espefuse_for_any_scalar(p4: Any, scalar: int) -> None:
    pem = private_pem(ec.derive_private_key(scalar, ec.SECP384R1()))
    ours = ecdsa_key_block_data(ecdsa_private_key_bytes(pem), "ECDSA_KEY_P384")
    theirs = espefuse_layout(p4, pem, "ECDSA_KEY_P384")
    assert [b for b, _, _ in theirs] == ["BLOCK_KEY0", "BLOCK_KEY1"]  # H in the given block, L in the next
    assert [(b.purpose, b.data.reveal()) for b in ours] == [(p, d) for _, p, d in theirs]


def test_padding_rules_spelled_out(ec_keys: dict) -> None:
    p192 = ecdsa_private_key_bytes(private_pem(ec_keys["P-192"]))
    (one,) = ecdsa_key_block_data(p192, "ECDSA_KEY_P192")
    assert one.data.reveal() == b"\0" * 8 + p192.reveal()
    p384 = ecdsa_private_key_bytes(private_pem(ec_keys["P-384"]))
    high, low = ecdsa_key_block_data(p384, "ECDSA_KEY_P384")
    assert (high.purpose, low.purpose) == ("ECDSA_KEY_P384_H", "ECDSA_KEY_P384_L")
    assert high.data.reveal() == b"\0" * 16 + p384.reveal()[:16]
    assert low.data.reveal() == p384.reveal()[16:]


def test_every_purpose_used_here_exists_in_the_chip_data() -> None:
    purposes = {kp.name for kp in load_chip("esp32p4").key_purposes}
    assert {"ECDSA_KEY", "ECDSA_KEY_P192", "ECDSA_KEY_P256", "ECDSA_KEY_P384",
            "ECDSA_KEY_P384_H", "ECDSA_KEY_P384_L"} <= purposes


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "curve,purpose,word",
    [
        ("P-256", "ECDSA_KEY_P192", "P-192"),
        ("P-192", "ECDSA_KEY_P256", "P-256"),
        ("P-384", "ECDSA_KEY", "P-192 or P-256"),
        ("P-256", "ECDSA_KEY_P384", "P-384"),
        ("P-384", "ECDSA_KEY_P384_H", "ECDSA_KEY_P384"),
        ("P-384", "ECDSA_KEY_P384_L", "ECDSA_KEY_P384"),
        ("P-256", "XTS_AES_128_KEY", "not an ECDSA key purpose"),
    ],
)
def test_a_key_that_does_not_fit_the_purpose_is_refused(ec_keys: dict, curve: str, purpose: str, word: str) -> None:
    key = ecdsa_private_key_bytes(private_pem(ec_keys[curve]))
    with pytest.raises(InputError) as e:
        ecdsa_key_block_data(key, purpose)
    assert word in e.value.message
    assert_no_leak(e.value, [key.reveal()])


def test_ecdsa_key_means_p256_where_the_chip_has_per_curve_purposes(ec_keys: dict) -> None:
    """On ESP32-P4 ECDSA_KEY is ECDSA_KEY_P256: a padded P-192 key there would be used as P-256."""
    p192 = ecdsa_private_key_bytes(private_pem(ec_keys["P-192"]))
    p4_purposes = [kp.name for kp in load_chip("esp32p4").key_purposes]
    h2_purposes = [kp.name for kp in load_chip("esp32h2").key_purposes]
    with pytest.raises(InputError) as e:
        ecdsa_key_block_data(p192, "ECDSA_KEY", chip_purposes=p4_purposes)
    assert "ECDSA_KEY_P192" in (e.value.hint or "")
    (block,) = ecdsa_key_block_data(p192, "ECDSA_KEY", chip_purposes=h2_purposes)
    assert block.data.reveal() == b"\0" * 8 + p192.reveal()


def test_public_key_rsa_key_and_other_curves_are_refused(ec_keys: dict, rsa_key: rsa.RSAPrivateKey) -> None:
    k521 = ec.generate_private_key(ec.SECP521R1())
    cases = [
        (ec_keys["P-256"], public_pem(ec_keys["P-256"]), "public key"),
        (rsa_key, private_pem(rsa_key), "RSA-3072"),
        (k521, private_pem(k521), "secp521r1"),
    ]
    for key, pem, word in cases:
        with pytest.raises(InputError) as e:
            ecdsa_private_key_bytes(pem)
        assert word in e.value.message
        assert_no_leak(e.value, secret_numbers(key), pem_body_lines(pem))


# --- the key stays secret ---------------------------------------------------------------------


def test_the_key_and_its_blocks_print_redacted(ec_keys: dict) -> None:
    key = ecdsa_private_key_bytes(private_pem(ec_keys["P-384"]))
    blocks = ecdsa_key_block_data(key, "ECDSA_KEY_P384")
    shown = "\n".join([str(key), repr(key), f"{key}", repr(blocks), str(blocks), key.to_json()]).encode()
    assert b"P-384" in shown and b"<secret" in shown
    for secret in [key.reveal(), *(b.data.reveal() for b in blocks)]:
        for form in leak_forms(secret.lstrip(b"\0")):
            assert form not in shown
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps(blocks[0])


def test_the_key_compares_as_a_secret(ec_keys: dict) -> None:
    pem = private_pem(ec_keys["P-256"])
    a, b = ecdsa_private_key_bytes(pem), ecdsa_private_key_bytes(pem)
    assert a == b and isinstance(a, EcdsaPrivateKey)
    assert isinstance(ecdsa_key_block_data(a, "ECDSA_KEY_P256")[0], KeyBlockData)
