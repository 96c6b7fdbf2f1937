"""Key material as a type whose every printable form is redacted.

A `Secret` holds bytes that must never reach output, plans, logs or the ledger: its
str, repr and JSON forms show only a short fingerprint, so leaking the bytes takes a
deliberate `.reveal()`.
"""

from __future__ import annotations

import hashlib


class Secret:
    """Secret bytes; `reveal()` is the only way to the content."""

    __slots__ = ("_data",)

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def reveal(self) -> bytes:
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def fingerprint(self) -> str:
        """A salted-free SHA-256 prefix: identifies a key across runs without revealing it."""
        return "sha256:" + hashlib.sha256(b"fusebook-key\0" + self._data).hexdigest()[:16]

    def __str__(self) -> str:
        return f"<secret {len(self._data)} bytes {self.fingerprint}>"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._data == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not serialised")

    def to_json(self) -> str:
        return str(self)
