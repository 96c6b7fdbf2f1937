"""The Secure Boot V2 public-key digest that `burn_key_digest` burns into a key block.

The ROM hashes the public key exactly as it sits in an image's signature block, so the
digest is SHA-256 over that encoding, not over the PEM or DER of the key:

- RSA-3072 (signature block version 2): modulus n (384 bytes, little-endian), exponent e
  (uint32 LE), R = 2^6144 mod n (384 bytes LE), M' = -n^-1 mod 2^32 (uint32 LE): 776 bytes,
  the Montgomery constants the RSA peripheral needs.
- ECDSA (version 3): curve id (1 = P-192, 2 = P-256, 3 = P-384), then X and Y, each
  little-endian in the curve's byte length. P-192 and P-256 keys sit in a 64-byte field
  (a P-192 point is zero-padded at the end): 65 bytes. A P-384 point fills 96 bytes: 97 bytes.

The digest is SHA-256 (32 bytes) for every scheme, P-384 included: only the *image* digest
of a P-384 signature is SHA-384. ESP32-C2 burns the first 16 bytes (its chip data says so).
A private key gives the same digest as its public key: only the public half is used.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fusebook.errors import InputError, SourceLocation
from fusebook.keys.pem import describe_key, load_pem_key
from fusebook.keys.schemes import SCHEME_NAMES, check_scheme

RSA_BITS = 3072
#: Curve name -> (scheme, signature-block curve id, coordinate bytes, point field bytes).
EC_CURVES = {
    "secp192r1": ("ecdsa192", 1, 24, 64),
    "secp256r1": ("ecdsa256", 2, 32, 64),
    "secp384r1": ("ecdsa384", 3, 48, 96),
}
DIGEST_BYTES = 32

_SUPPORTED = "Secure Boot V2 takes RSA-3072 or ECDSA P-192, P-256 or P-384 keys"


@dataclass(frozen=True)
class SecureBootKeyDigest:
    """A key's Secure Boot V2 digest with its scheme and, for a chip, the caveat to warn about."""

    scheme: str
    digest: bytes
    caveat: str | None = None

    @property
    def scheme_name(self) -> str:
        return SCHEME_NAMES[self.scheme]


def signature_block_key(
    pem: bytes, *, location: SourceLocation | None = None
) -> tuple[str, bytes]:
    """(scheme, the public key as the signature block encodes it) from a public or private PEM."""
    loaded = load_pem_key(pem, what="the secure boot key file", location=location)
    public = loaded.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        return "rsa3072", _rsa_key_material(public, location)
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name in EC_CURVES:
        scheme, curve_id, size, width = EC_CURVES[public.curve.name]
        numbers = public.public_numbers()
        point = numbers.x.to_bytes(size, "little") + numbers.y.to_bytes(size, "little")
        return scheme, bytes([curve_id]) + point.ljust(width, b"\0")
    raise InputError(
        f"unsupported secure boot key type: {describe_key(public)}",
        location=location,
        hint=_SUPPORTED,
    )


def _rsa_key_material(public: rsa.RSAPublicKey, location: SourceLocation | None) -> bytes:
    """n, e, R and M' as the RSA signature block lays them out (776 bytes)."""
    if public.key_size != RSA_BITS:
        raise InputError(
            f"unsupported secure boot key type: RSA-{public.key_size}",
            location=location,
            hint=_SUPPORTED,
        )
    numbers = public.public_numbers()
    n, e = numbers.n, numbers.e
    if not 0 < e < 1 << 32 or n % 2 == 0:
        raise InputError(
            "the secure boot key is not a usable RSA key (its exponent must fit 32 bits and "
            "its modulus must be odd)",
            location=location,
            hint=_SUPPORTED,
        )
    size = RSA_BITS // 8
    r = pow(2, 2 * RSA_BITS, n)
    m_prime = -pow(n, -1, 1 << 32) & 0xFFFFFFFF
    return struct.pack(
        "<384sI384sI",
        n.to_bytes(size, "little"),
        e,
        r.to_bytes(size, "little"),
        m_prime,
    )


def secure_boot_v2_key(
    pem: bytes, *, chip: str | None = None, location: SourceLocation | None = None
) -> SecureBootKeyDigest:
    """The digest and scheme of a key; with `chip`, refuse a scheme the chip cannot verify."""
    scheme, material = signature_block_key(pem, location=location)
    caveat = check_scheme(chip, scheme, location=location) if chip else None
    return SecureBootKeyDigest(scheme, hashlib.sha256(material).digest(), caveat)


def secure_boot_v2_digest(
    pem: bytes, *, chip: str | None = None, location: SourceLocation | None = None
) -> bytes:
    """The 32-byte SHA-256 public-key digest espsecure computes, from a public or private PEM."""
    return secure_boot_v2_key(pem, chip=chip, location=location).digest
