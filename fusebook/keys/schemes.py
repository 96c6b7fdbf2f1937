"""Which Secure Boot V2 signature schemes a chip verifies, from its chip data.

The facts are data (the `secure_boot:` section of `chips/data/<chip>.yaml`: ESP-IDF's SoC
capabilities and errata, sources in docs/keys.md), so a new chip or an erratum is a data
change. A digest of a key the chip cannot verify would be burned for nothing and cannot be
taken back, so the check runs before any plan is made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fusebook.chips.loader import chip_names, load_chip
from fusebook.errors import InputError, SourceLocation, did_you_mean

#: Every scheme fusebook (like espsecure) can digest, with the words the docs use for it.
SCHEME_NAMES = {
    "rsa3072": "RSA-3072",
    "ecdsa192": "ECDSA P-192",
    "ecdsa256": "ECDSA P-256",
    "ecdsa384": "ECDSA P-384",
}


@dataclass(frozen=True)
class SchemeSupport:
    """The schemes one chip's ROM verifies; `schemes` is None where no public source says."""

    chip: str
    schemes: tuple[str, ...] | None
    caveats: dict[str, str] = field(default_factory=dict)

    def caveat(self, scheme: str) -> str | None:
        """Why a production engineer may not want `scheme` on this chip, if anything."""
        return self.caveats.get(scheme) or self.caveats.get("*")


def known_chips() -> tuple[str, ...]:
    """The chips with Secure Boot V2 facts (every chip fusebook knows)."""
    return chip_names()


def scheme_support(chip: str, *, location: SourceLocation | None = None) -> SchemeSupport:
    """The Secure Boot V2 schemes `chip` verifies (InputError for a chip fusebook does not know)."""
    if chip not in chip_names():
        raise InputError(
            f"no Secure Boot V2 facts for chip {chip!r}",
            location=location,
            hint=did_you_mean(chip, list(chip_names())),
        )
    facts = load_chip(chip).secure_boot
    return SchemeSupport(chip, facts.schemes, dict(facts.caveats))


def check_scheme(chip: str, scheme: str, *, location: SourceLocation | None = None) -> str | None:
    """Refuse a key scheme `chip` cannot verify; return the caveat to warn about, if any."""
    support = scheme_support(chip, location=location)
    if support.schemes is not None and scheme not in support.schemes:
        accepted = ", ".join(SCHEME_NAMES[s] for s in support.schemes)
        raise InputError(
            f"{chip} cannot verify {SCHEME_NAMES.get(scheme, scheme)} Secure Boot V2 signatures",
            location=location,
            hint=f"{chip} takes {accepted} keys" if accepted else f"{chip} has no Secure Boot V2",
        )
    return support.caveat(scheme)
