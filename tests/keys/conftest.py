"""Keys made in the tests (never checked in) and the scanner that proves errors leak none."""

from __future__ import annotations

import base64
import json
import re
import traceback
from collections.abc import Iterable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fusebook.errors import FusebookError

CURVES = {"P-192": ec.SECP192R1(), "P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
PRIVATE_FORMATS = {
    "pkcs8": serialization.PrivateFormat.PKCS8,
    "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
}


def private_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, fmt: str = "pkcs8") -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, PRIVATE_FORMATS[fmt], serialization.NoEncryption()
    )


def public_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | rsa.RSAPublicKey) -> bytes:
    public = key if isinstance(key, rsa.RSAPublicKey) else key.public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def secret_numbers(key: object) -> list[bytes]:
    """The private numbers of a key, big-endian, minimal length: what must never be printed."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        return [key.private_numbers().private_value.to_bytes(size, "big")]
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return [v.to_bytes((v.bit_length() + 7) // 8, "big") for v in (n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp)]
    return []


def pem_body_lines(pem: bytes) -> list[bytes]:
    """The base64 lines of a PEM: a leak of the file would show them."""
    return [line for line in pem.splitlines() if line and not line.startswith(b"-----") and b":" not in line]


def leak_forms(secret: bytes) -> list[bytes]:
    """Raw, hex (both cases), reversed, base64, and 8-byte pieces of hex of a secret."""
    out: list[bytes] = []
    for k in (secret, secret[::-1]):
        if len(k) < 4:
            continue
        out += [k, k.hex().encode(), k.hex().upper().encode(), base64.b64encode(k).rstrip(b"=")]
        out.append(" ".join(f"{b:02x}" for b in k).encode())
        out += [k[i : i + 8].hex().encode() for i in range(0, len(k) - 7, 8)]
    return out


def error_texts(exc: BaseException) -> bytes:
    """Everything a user or a log could see of an error."""
    parts = [str(exc), repr(exc), repr(exc.args), "".join(traceback.format_exception(exc))]
    if isinstance(exc, FusebookError):
        parts += [exc.render(), json.dumps(exc.to_json())]
    return "\n".join(parts).encode("utf-8", "backslashreplace")


def assert_no_leak(exc: BaseException, secrets: Iterable[bytes], lines: Iterable[bytes] = ()) -> None:
    """The error shows none of `secrets` in any form, no PEM body line, and chains nothing."""
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    blob = error_texts(exc)
    for secret in secrets:
        for form in leak_forms(secret):
            assert form not in blob, "key material in an error"
    for line in lines:
        assert line not in blob, "a line of the key file in an error"
    # no run of 16+ hex digits at all: the messages have no reason to print one
    assert not re.search(rb"[0-9a-fA-F]{16}", re.sub(rb"sha256:[0-9a-f]+", b"", blob)), blob


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


@pytest.fixture(scope="session")
def rsa_key_e3() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=3, key_size=3072)


@pytest.fixture(scope="session")
def ec_keys() -> dict[str, ec.EllipticCurvePrivateKey]:
    return {name: ec.generate_private_key(curve) for name, curve in CURVES.items()}
