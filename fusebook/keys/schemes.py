"""Which Secure Boot V2 signature schemes a chip verifies, read from `schemes.yaml`.

The facts are data (ESP-IDF's SoC capabilities and errata, with sources in the file), so a
new chip or an erratum is a data change. A digest of a key the chip cannot verify would be
burned for nothing and cannot be taken back, so the check runs before any plan is made.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from fusebook.errors import InputError, SourceLocation, did_you_mean

SCHEMES_FILE = Path(__file__).resolve().parent / "schemes.yaml"

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


@functools.cache
def _table() -> dict[str, Any]:
    data = YAML(typ="safe").load(SCHEMES_FILE.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("schemes"), dict):
        raise ValueError(f"{SCHEMES_FILE}: expected a `schemes:` mapping")
    for chip, schemes in data["schemes"].items():
        unknown = set(schemes or ()) - set(SCHEME_NAMES)
        if unknown:
            raise ValueError(f"{SCHEMES_FILE}: {chip}: unknown schemes {sorted(unknown)}")
    return data


def known_chips() -> tuple[str, ...]:
    """The chips `schemes.yaml` has an entry for."""
    return tuple(_table()["schemes"])


def scheme_support(chip: str, *, location: SourceLocation | None = None) -> SchemeSupport:
    """The Secure Boot V2 schemes `chip` verifies (InputError for a chip not in the table)."""
    table = _table()
    if chip not in table["schemes"]:
        raise InputError(
            f"no Secure Boot V2 facts for chip {chip!r}",
            location=location,
            hint=did_you_mean(chip, list(table["schemes"])),
        )
    schemes = table["schemes"][chip]
    caveats = dict((table.get("caveats") or {}).get(chip) or {})
    return SchemeSupport(chip, None if schemes is None else tuple(schemes), caveats)


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
