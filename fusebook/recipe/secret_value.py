"""Values read from a secret JSON, YAML or CSV input, redacted wherever they are printed.

Binary secret inputs are key bytes and become a `Secret` directly. A secret *table*
holds text (usually hex); each of its values is wrapped here so that it never shows in
a rendered string, a plan, a log or an error. The only way to burn one is to turn its
hex text into key bytes with the `unhex` (or `hex`) filter, which gives a `Secret`.
"""

from __future__ import annotations

from fusebook.secret import Secret, SecretValue

__all__ = ["Secret", "SecretValue", "wrap_secret_leaves"]


def wrap_secret_leaves(value: object) -> object:
    """`value` with every scalar inside lists and mappings wrapped (keys stay readable)."""
    if isinstance(value, dict):
        return {k: wrap_secret_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [wrap_secret_leaves(v) for v in value]
    if value is None:
        return None
    return SecretValue(value)
