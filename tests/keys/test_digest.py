"""Secure Boot V2 key digests, byte for byte against espsecure and against signed images."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import espsecure
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from fusebook.errors import InputError, SourceLocation
from fusebook.keys.digest import secure_boot_v2_digest, secure_boot_v2_key, signature_block_key

from .conftest import CURVES, assert_no_leak, pem_body_lines, private_pem, public_pem, secret_numbers


def espsecure_digest(pem: bytes) -> bytes:
    return espsecure._digest_sbv2_public_key(io.BytesIO(pem))


def pem_file(tmp_path: Path, name: str, pem: bytes) -> bytes:
    """Write the PEM as a user would have it, and read it back as fusebook does."""
    path = tmp_path / name
    path.write_bytes(pem)
    return path.read_bytes()


# --- the digest equals espsecure's ---------------------------------------------------------


@pytest.mark.parametrize("curve", list(CURVES))
@pytest.mark.parametrize("form", ["public", "pkcs8", "traditional"])
def test_ecdsa_digest_matches_espsecure(tmp_path: Path, ec_keys: dict, curve: str, form: str) -> None:
    key = ec_keys[curve]
    pem = public_pem(key) if form == "public" else private_pem(key, form)
    pem = pem_file(tmp_path, f"{curve}.pem", pem)
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


@pytest.mark.parametrize("form", ["public", "pkcs8", "traditional"])
def test_rsa3072_digest_matches_espsecure(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, form: str) -> None:
    pem = public_pem(rsa_key) if form == "public" else private_pem(rsa_key, form)
    pem = pem_file(tmp_path, "rsa.pem", pem)
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


def test_rsa_with_a_small_exponent_matches_espsecure(rsa_key_e3: rsa.RSAPrivateKey) -> None:
    pem = public_pem(rsa_key_e3)
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


@pytest.mark.parametrize("curve", list(CURVES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_ecdsa_digest_matches_espsecure_for_any_key(curve: str, data: st.DataObject) -> None:
    order_bits = CURVES[curve].key_size
    scalar = data.draw(
        st.one_of(st.integers(1, 2**32), st.integers(1, 2 ** (order_bits - 1)))
    )
    key = ec.derive_private_key(scalar, CURVES[curve])
    for pem in (public_pem(key), private_pem(key)):
        assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


@pytest.mark.parametrize("curve", list(CURVES))
@pytest.mark.parametrize("coordinate", ["x", "y"])
def test_a_coordinate_with_a_leading_zero_byte_keeps_its_width(curve: str, coordinate: str) -> None:
    size = (CURVES[curve].key_size + 7) // 8
    scalar = 1
    while True:
        scalar += 1
        key = ec.derive_private_key(scalar, CURVES[curve])
        value = getattr(key.public_key().public_numbers(), coordinate)
        if value < 1 << (8 * (size - 1)):
            break
    pem = public_pem(key)
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


def test_rsa_precomputed_r_with_a_leading_zero_byte_keeps_its_width() -> None:
    """R = 2^6144 mod n is short now and then; it must still fill 384 bytes, as espsecure packs it."""
    rng = random.Random(1)
    while True:
        n = rng.getrandbits(3072) | (1 << 3071) | 1
        if pow(2, 6144, n) < 1 << (3072 - 8):
            break
    pem = public_pem(rsa.RSAPublicNumbers(65537, n).public_key())
    _, material = signature_block_key(pem)
    assert len(material) == 776
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


def test_public_and_private_pem_give_the_same_digest(ec_keys: dict, rsa_key: rsa.RSAPrivateKey) -> None:
    for key in [*ec_keys.values(), rsa_key]:
        digests = {secure_boot_v2_digest(p) for p in (public_pem(key), private_pem(key), private_pem(key, "traditional"))}
        assert len(digests) == 1


def test_the_digest_is_sha256_for_every_scheme_p384_included(ec_keys: dict, rsa_key: rsa.RSAPrivateKey) -> None:
    for key in [*ec_keys.values(), rsa_key]:
        pem = public_pem(key)
        _, material = signature_block_key(pem)
        assert secure_boot_v2_digest(pem) == hashlib.sha256(material).digest()
        assert len(secure_boot_v2_digest(pem)) == 32


@pytest.mark.parametrize(
    "curve,size,curve_id", [("P-192", 65, 1), ("P-256", 65, 2), ("P-384", 97, 3)]
)
def test_ecdsa_key_material_layout(ec_keys: dict, curve: str, size: int, curve_id: int) -> None:
    key = ec_keys[curve]
    scheme, material = signature_block_key(public_pem(key))
    numbers = key.public_key().public_numbers()
    width = (CURVES[curve].key_size + 7) // 8
    assert scheme == {"P-192": "ecdsa192", "P-256": "ecdsa256", "P-384": "ecdsa384"}[curve]
    assert len(material) == size and material[0] == curve_id
    assert material[1 : 1 + width] == numbers.x.to_bytes(width, "little")
    assert material[1 + width : 1 + 2 * width] == numbers.y.to_bytes(width, "little")
    assert set(material[1 + 2 * width :]) <= {0}


# --- the key material is exactly what a signed image carries --------------------------------


@pytest.mark.parametrize("which", ["P-192", "P-256", "P-384", "RSA-3072"])
def test_key_material_equals_the_signature_block_espsecure_writes(
    tmp_path: Path, ec_keys: dict, rsa_key: rsa.RSAPrivateKey, which: str
) -> None:
    """The ROM hashes the key as the image's signature block holds it: sign one and compare."""
    key = rsa_key if which == "RSA-3072" else ec_keys[which]
    (tmp_path / "k.pem").write_bytes(private_pem(key))
    (tmp_path / "image.bin").write_bytes(bytes(range(256)) * 16)
    with open(tmp_path / "k.pem", "rb") as keyfile, open(tmp_path / "image.bin", "rb") as image:
        espsecure.sign_data("2", [keyfile], str(tmp_path / "signed.bin"), False, False, None, None, None, image)
    block = (tmp_path / "signed.bin").read_bytes()[-4096:][:1216]
    version, sha_version = block[1], block[2]
    if version == 2:
        in_block = block[36:812]
    elif sha_version == 1:  # P-384 blocks carry a 48-byte SHA-384 image digest first
        in_block = block[52:149]
    else:
        in_block = block[36:101]
    _, material = signature_block_key(public_pem(key))
    assert material == in_block
    assert secure_boot_v2_digest(public_pem(key)) == hashlib.sha256(in_block).digest()


# --- other PEM spellings ----------------------------------------------------------------------


def test_pkcs1_rsa_public_key_gives_the_spki_digest(rsa_key: rsa.RSAPrivateKey) -> None:
    pkcs1 = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
    )
    assert b"BEGIN RSA PUBLIC KEY" in pkcs1
    assert secure_boot_v2_digest(pkcs1) == espsecure_digest(public_pem(rsa_key))


def test_ec_parameters_block_before_the_key_is_ignored(ec_keys: dict) -> None:
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    pem = params + private_pem(ec_keys["P-256"], "traditional")
    assert secure_boot_v2_digest(pem) == espsecure_digest(pem)


def test_crlf_line_ends_and_surrounding_text_are_accepted(ec_keys: dict) -> None:
    pem = public_pem(ec_keys["P-256"])
    noisy = b"key for line 3\r\n" + pem.replace(b"\n", b"\r\n") + b"\r\n"
    assert secure_boot_v2_digest(noisy) == espsecure_digest(pem)


# --- schemes per chip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "chip,which,ok",
    [
        ("esp32", "RSA-3072", True),
        ("esp32", "P-256", False),
        ("esp32s3", "P-384", False),
        ("esp32c2", "P-256", True),
        ("esp32c2", "P-192", True),
        ("esp32c2", "RSA-3072", False),
        ("esp32c2", "P-384", False),
        ("esp32c5", "P-384", True),
        ("esp32c6", "P-384", False),
        ("esp32c61", "RSA-3072", False),
        ("esp32p4", "P-384", True),
        ("esp32s31", "P-256", False),
        ("esp32e22", "P-384", True),
    ],
)
def test_a_scheme_the_chip_cannot_verify_is_refused(
    ec_keys: dict, rsa_key: rsa.RSAPrivateKey, chip: str, which: str, ok: bool
) -> None:
    key = rsa_key if which == "RSA-3072" else ec_keys[which]
    pem = public_pem(key)
    if ok:
        assert secure_boot_v2_digest(pem, chip=chip) == espsecure_digest(pem)
    else:
        with pytest.raises(InputError) as e:
            secure_boot_v2_digest(pem, chip=chip)
        assert chip in e.value.message and e.value.hint
        assert_no_leak(e.value, secret_numbers(key))


def test_the_caveat_for_the_chip_comes_with_the_digest(ec_keys: dict, rsa_key: rsa.RSAPrivateKey) -> None:
    p384 = secure_boot_v2_key(public_pem(ec_keys["P-384"]), chip="esp32p4")
    assert p384.scheme == "ecdsa384" and p384.scheme_name == "ECDSA P-384"
    assert p384.caveat and "v3.0" in p384.caveat
    assert secure_boot_v2_key(public_pem(rsa_key), chip="esp32s3").caveat is None
    assert secure_boot_v2_key(public_pem(rsa_key), chip="esp32").caveat  # revision v3.0
    assert secure_boot_v2_key(public_pem(rsa_key)).caveat is None  # no chip: no check


# --- wrong inputs: clear InputErrors that leak nothing ---------------------------------------


def _self_signed_cert(key: ec.EllipticCurvePrivateKey) -> bytes:
    import datetime

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fusebook test")])
    now = datetime.datetime(2024, 1, 1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _wrong_keys() -> dict[str, tuple[object, bytes, str]]:
    """name -> (key, PEM, a word the message must contain)."""
    out: dict[str, tuple[object, bytes, str]] = {}
    rsa2048 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    out["rsa2048 private"] = (rsa2048, private_pem(rsa2048), "RSA-2048")
    out["rsa2048 public"] = (rsa2048, public_pem(rsa2048), "RSA-2048")
    for curve, word in ((ec.SECP521R1(), "secp521r1"), (ec.SECP256K1(), "secp256k1")):
        k = ec.generate_private_key(curve)
        out[word] = (k, private_pem(k), word)
    ed = ed25519.Ed25519PrivateKey.generate()
    out["ed25519"] = (ed, ed.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), "Ed25519")
    d = dsa.generate_private_key(2048)
    out["dsa"] = (d, private_pem(d), "DSA")
    p256 = ec.generate_private_key(ec.SECP256R1())
    out["encrypted pkcs8"] = (p256, p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw")), "passphrase")
    out["encrypted traditional"] = (p256, p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw")), "passphrase")
    out["certificate"] = (p256, _self_signed_cert(p256), "certificate")
    out["two keys"] = (p256, private_pem(p256) + public_pem(p256), "2 keys")
    der = p256.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    out["der"] = (p256, der, "not a PEM")
    damaged = private_pem(p256).replace(b"M", b"*", 3)
    out["damaged"] = (p256, damaged, "cannot be read")
    out["empty"] = (None, b"", "not a PEM")
    out["raw 32 bytes"] = (p256, secret_numbers(p256)[0], "not a PEM")
    return out


WRONG = _wrong_keys()


@pytest.mark.parametrize("name", list(WRONG))
def test_wrong_keys_give_an_input_error_that_quotes_no_key(name: str) -> None:
    key, pem, word = WRONG[name]
    where = SourceLocation("recipe.yaml", 7, 5)
    with pytest.raises(InputError) as e:
        secure_boot_v2_digest(pem, location=where)
    assert word in e.value.message
    assert e.value.location == where
    assert e.value.exit_code == 2
    # raw bytes are no PEM: their 'lines' are random fragments that may match any text
    lines = pem_body_lines(pem) if pem.startswith(b"-----") else []
    assert_no_leak(e.value, secret_numbers(key), lines)
