"""ECDSA private keys for the ECDSA peripheral's key purposes, laid out as espefuse burns them.

`burn_key` with an ECDSA purpose takes a private key PEM (as `espefuse burn-key` does). What
goes into the key block is the private scalar, big-endian, in the curve's byte length (so a
scalar with leading zero bytes keeps them), fitted to 256-bit key blocks:

- P-192: 24 bytes, prefixed with 8 zero bytes to fill one block (32 bytes).
- P-256: 32 bytes, one block.
- P-384: 48 bytes, prefixed with 16 zero bytes to 64 and split in two: the first half goes
  to the given block as ECDSA_KEY_P384_H, the second to another free key block as
  ECDSA_KEY_P384_L.

The planner then reverses each block's bytes, as the chip data says for these purposes.
Every byte string here is a `Secret`: the scalar is the one thing that must stay on the chip.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fusebook.errors import InputError, SourceLocation
from fusebook.keys.pem import CURVE_NAMES, describe_key, load_pem_key
from fusebook.secret import Secret

BLOCK_BYTES = 32

#: Curve (as Espressif writes it) -> zero bytes espefuse puts before the scalar.
PADDING = {"P-192": 8, "P-256": 0, "P-384": 16}

#: Key purpose -> the curves a key for it may use.
PURPOSE_CURVES = {
    # ECDSA_KEY is P-256 on chips with per-curve purposes; on ESP32-H2/H21/C61/E22 the
    # ECDSA_CURVE_MODE eFuse picks P-192 or P-256 for it.
    "ECDSA_KEY": ("P-192", "P-256"),
    "ECDSA_KEY_P192": ("P-192",),
    "ECDSA_KEY_P256": ("P-256",),
    "ECDSA_KEY_P384": ("P-384",),
}
#: Purposes that take one half of a P-384 key as raw bytes, never a PEM.
P384_HALVES = ("ECDSA_KEY_P384_H", "ECDSA_KEY_P384_L")


class EcdsaPrivateKey(Secret):
    """An ECDSA private scalar (big-endian, curve length) and its curve; redacted like any Secret."""

    __slots__ = ("curve",)

    def __init__(self, data: bytes, curve: str) -> None:
        super().__init__(data)
        self.curve = curve

    def __str__(self) -> str:
        return f"<secret ECDSA {self.curve} private key {len(self)} bytes {self.fingerprint}>"

    __repr__ = __str__


@dataclass(frozen=True)
class KeyBlockData:
    """What one key block receives: its purpose and its bytes, before any byte reversal."""

    purpose: str
    data: Secret


def ecdsa_private_key_bytes(
    pem: bytes,
    *,
    name: str = "the ECDSA key file",
    location: SourceLocation | None = None,
) -> EcdsaPrivateKey:
    """The raw private scalar of an ECDSA P-192/P-256/P-384 private key PEM, as espsecure reads it."""
    loaded = load_pem_key(pem, what=name, location=location)
    if not loaded.private:
        raise InputError(
            f"{name} holds a public key; an ECDSA key block needs the private key",
            location=location,
            hint="a secure boot public key is burned with burn_key_digest, not burn_key",
        )
    key = loaded.key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name not in CURVE_NAMES:
        hint = "the ECDSA peripheral takes P-192, P-256 or P-384 private keys"
        if isinstance(key, rsa.RSAPrivateKey):
            hint = "an RSA key signs secure boot images: burn its digest with burn_key_digest"
        raise InputError(
            f"{name} holds an unsupported ECDSA key type: {describe_key(key)}",
            location=location,
            hint=hint,
        )
    size = (key.curve.key_size + 7) // 8
    scalar = key.private_numbers().private_value.to_bytes(size, "big")
    return EcdsaPrivateKey(scalar, CURVE_NAMES[key.curve.name])


def ecdsa_key_block_data(
    key: EcdsaPrivateKey,
    purpose: str,
    *,
    chip_purposes: Collection[str] = (),
    location: SourceLocation | None = None,
) -> tuple[KeyBlockData, ...]:
    """The per-block data espefuse burns for `key` under `purpose` (one block, or two for P-384).

    `chip_purposes` (the chip's key purpose names) narrows ECDSA_KEY to P-256 on chips that
    have per-curve purposes, where ECDSA_KEY is another name for ECDSA_KEY_P256: espefuse
    would burn a padded P-192 key there, which the peripheral would then use as a P-256 key.
    """
    if purpose in P384_HALVES:
        raise InputError(
            f"{purpose} holds one half of a P-384 key; give the PEM with purpose ECDSA_KEY_P384",
            location=location,
            hint="fusebook splits the key over two key blocks as espefuse does",
        )
    curves = PURPOSE_CURVES.get(purpose)
    if purpose == "ECDSA_KEY" and "ECDSA_KEY_P256" in chip_purposes:
        curves = PURPOSE_CURVES["ECDSA_KEY_P256"]
    if curves is None:
        raise InputError(
            f"{purpose} is not an ECDSA key purpose",
            location=location,
            hint="ECDSA purposes: " + ", ".join(PURPOSE_CURVES),
        )
    if key.curve not in curves:
        raise InputError(
            f"{purpose} takes a {' or '.join(curves)} key, the key file holds a {key.curve} key",
            location=location,
            hint=_purpose_for(key.curve),
        )
    padded = b"\0" * PADDING[key.curve] + key.reveal()
    if len(padded) == BLOCK_BYTES:
        return (KeyBlockData(purpose, Secret(padded)),)
    high, low = padded[:BLOCK_BYTES], padded[BLOCK_BYTES:]
    return (
        KeyBlockData(P384_HALVES[0], Secret(high)),
        KeyBlockData(P384_HALVES[1], Secret(low)),
    )


def _purpose_for(curve: str) -> str:
    own = next(p for p, cs in PURPOSE_CURVES.items() if cs == (curve,))
    if curve in PURPOSE_CURVES["ECDSA_KEY"]:
        return f"a {curve} key goes with purpose {own}, or ECDSA_KEY on chips without per-curve purposes"
    return f"a {curve} key goes with purpose {own}"
