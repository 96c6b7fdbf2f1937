"""Reading one key out of a PEM file, with errors that say what is wrong and never quote it.

Key files reach fusebook from many tools (espsecure, openssl, HSM exports), so the common
mistakes get their own message: a certificate instead of a key, a passphrase-protected key,
two keys in one file, a DER or raw binary file. Every error is raised `from None`: the
cryptography library's own exception is not chained, so nothing of the file can ride along in
a traceback, and messages only ever name the file, the PEM labels and the key's type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from fusebook.errors import InputError, SourceLocation

PRIVATE_LABELS = ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")
#: Other blocks beside the key (openssl ecparam -genkey writes EC PARAMETERS) are ignored.
PUBLIC_LABELS = ("PUBLIC KEY", "RSA PUBLIC KEY")

_BLOCK = re.compile(
    rb"-----BEGIN (?P<label>[A-Z0-9 ]+)-----(?P<body>.*?)-----END (?P=label)-----",
    re.DOTALL,
)

AnyKey = PrivateKeyTypes | PublicKeyTypes

#: Curve names as Espressif's documents write them, by the cryptography library's names.
CURVE_NAMES = {"secp192r1": "P-192", "secp256r1": "P-256", "secp384r1": "P-384"}


@dataclass(frozen=True)
class PemKey:
    """A loaded key and whether it was the private half (both yield the same public key)."""

    key: AnyKey
    private: bool

    def public_key(self) -> PublicKeyTypes:
        return self.key.public_key() if self.private else self.key  # type: ignore[union-attr,return-value]


def looks_like_pem(data: bytes) -> bool:
    """True when the data holds a PEM armour line; used to pick PEM over raw binary keys."""
    return b"-----BEGIN " in data[:4096]


def describe_key(key: AnyKey) -> str:
    """The key's type in the user's words ("RSA-2048", "ECDSA P-256", "Ed25519"): safe to print."""
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA-{key.key_size}"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return f"ECDSA {CURVE_NAMES.get(key.curve.name, key.curve.name)}"
    name = type(key).__name__
    for suffix in ("PrivateKey", "PublicKey"):
        name = name.removesuffix(suffix)
    return name.lstrip("_") or "unknown"


def load_pem_key(
    data: bytes,
    *,
    what: str = "the key file",
    location: SourceLocation | None = None,
) -> PemKey:
    """The one private or public key in a PEM file; an InputError naming the problem otherwise."""

    def fail(message: str, hint: str | None = None) -> InputError:
        return InputError(f"{what} {message}", location=location, hint=hint)

    blocks = [(m.group("label").decode("ascii"), m.group(0)) for m in _BLOCK.finditer(data)]
    labels = [label for label, _ in blocks]
    keys = [(label, text) for label, text in blocks if label in PRIVATE_LABELS + PUBLIC_LABELS]
    if not blocks:
        hint = "give the key in PEM form (a text file starting with -----BEGIN ...-----)"
        if data[:1] == b"\x30":
            hint = "this looks like a DER (binary) key; convert it with `openssl pkey -in KEY.der -inform DER -out KEY.pem`"
        raise fail("is not a PEM key: it has no -----BEGIN ...----- / -----END ...----- block", hint)
    if not keys:
        if "ENCRYPTED PRIVATE KEY" in labels:
            raise _encrypted(fail)
        if "CERTIFICATE" in labels:
            raise fail(
                "holds a certificate, not a key",
                "extract the public key with `openssl x509 -in CERT.pem -pubkey -noout > KEY.pub.pem`",
            )
        found = ", ".join(sorted(set(labels)))
        raise fail(f"holds no key (PEM blocks found: {found})")
    if len(keys) > 1:
        found = ", ".join(label for label, _ in keys)
        raise fail(f"holds {len(keys)} keys ({found}); give exactly one key per file")
    label, text = keys[0]
    if label in PUBLIC_LABELS:
        try:
            return PemKey(serialization.load_pem_public_key(text), private=False)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise fail(f"has a {label} block that cannot be read (damaged or of an unsupported type)") from None
    try:
        return PemKey(serialization.load_pem_private_key(text, password=None), private=True)
    except TypeError:
        raise _encrypted(fail) from None
    except (ValueError, UnsupportedAlgorithm):
        raise fail(f"has a {label} block that cannot be read (damaged or of an unsupported type)") from None


def _encrypted(fail: Callable[[str, str | None], InputError]) -> InputError:
    return fail(
        "holds a passphrase-protected private key; fusebook reads only unencrypted keys",
        "for burn_key_digest give the public key instead (`espsecure extract-public-key` or "
        "`openssl pkey -in KEY.pem -pubout`); a private key to burn must be decrypted on the "
        "provisioning host",
    )
