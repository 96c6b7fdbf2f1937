"""A value read from a secret JSON, YAML or CSV input, redacted wherever it is printed.

Binary secret inputs are key bytes and become a `Secret` directly. A secret *table*
holds text (usually hex); each of its values is wrapped here so that it never shows in
a rendered string, a plan, a log or an error. The only way to burn one is to turn its
hex text into key bytes with the `unhex` (or `hex`) filter, which gives a `Secret`.
"""

from __future__ import annotations

import hashlib

from fusebook.secret import Secret


class SecretValue:
    """One scalar of a secret input; str/repr show a fingerprint, never the value."""

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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

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


def wrap_secret_leaves(value: object) -> object:
    """`value` with every scalar inside lists and mappings wrapped (keys stay readable)."""
    if isinstance(value, dict):
        return {k: wrap_secret_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_secret_leaves(v) for v in value]
    if value is None:
        return None
    return SecretValue(value)
