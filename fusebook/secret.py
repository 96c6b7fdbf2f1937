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


class SecretValue:
    """A value derived from a secret (a secret input's scalar, an eFuse that holds key data).

    Its str, repr and JSON show a fingerprint, never the value, so a template that prints
    one (a `require` message, a step name) prints the redacted form. Comparisons see the
    value, so an expression such as `efuses.BLOCK_KEY0 != '00' * 32` keeps its meaning:
    only printing is taken away, and a bool leaks nothing a recipe did not ask for.
    """

    __slots__ = ("_value",)

    def __init__(self, value: object) -> None:
        self._value = value

    def reveal(self) -> object:
        return self._value

    @property
    def fingerprint(self) -> str:
        return "sha256:" + hashlib.sha256(b"fusebook-value\0" + str(self._value).encode()).hexdigest()[:16]

    def __str__(self) -> str:
        return f"<secret value {self.fingerprint}>"

    __repr__ = __str__

    @staticmethod
    def _plain(other: object) -> object:
        return other._value if isinstance(other, SecretValue) else other

    def __eq__(self, other: object) -> bool:
        return bool(self._value == self._plain(other))

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: object) -> bool:
        return bool(self._value < self._plain(other))  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        return bool(self._value <= self._plain(other))  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        return bool(self._value > self._plain(other))  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        return bool(self._value >= self._plain(other))  # type: ignore[operator]

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("secrets are not serialised")

    def to_json(self) -> str:
        return str(self)

    def as_key_bytes(self) -> Secret:
        """The hex text as key bytes (memory order); ValueError if it is not hex."""
        text = self._value
        if not isinstance(text, str):
            raise ValueError("the secret value is not hex text")
        digits = "".join(text.split()).replace(":", "")
        try:
            return Secret(bytes.fromhex(digits))
        except ValueError:
            raise ValueError("the secret value is not hex text") from None
