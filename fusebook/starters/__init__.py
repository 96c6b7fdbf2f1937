"""Starter recipes for `fusebook new`: one template per kind of burn, filled in from chip data.

A template is data (a Jinja text beside this module), not code, and there is one per kind,
not one per chip: it asks the chip's facts (which fields, key purposes and blocks it has)
through `ChipFacts` and writes what that chip needs. A chip that lacks what a kind needs
(no HMAC purposes, no flash-encryption counter) is refused with the reason, so every
starter that is written validates and plans on a blank chip of that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, NoReturn

from fusebook.chips.models import ChipDef
from fusebook.errors import InputError

if TYPE_CHECKING:  # jinja2 is imported when a starter is rendered: `--help` and the parser only need KINDS
    import jinja2

#: The kinds, in the order `fusebook new --help` lists them; each is `<kind>.yaml.j2` here.
KINDS = ("production", "flash-encryption", "secure-boot-v2", "jtag-lockdown", "hmac")


class Unsupported(Exception):
    """The chip lacks what the template needs (the message says what)."""


@dataclass(frozen=True)
class ChipFacts:
    """What a template may ask of a chip: only facts from its chip data."""

    chip: ChipDef

    @property
    def name(self) -> str:
        return self.chip.name

    @property
    def description(self) -> str:
        return self.chip.description

    def has(self, field: str) -> bool:
        return self.chip.has_field(field)

    def present(self, *fields: str) -> list[str]:
        """The named fields this chip has, in the order given."""
        return [f for f in fields if self.chip.has_field(f)]

    def purpose(self, name: str) -> bool:
        return any(kp.name == name for kp in self.chip.key_purposes)

    @property
    def key_blocks(self) -> list[str]:
        """Blocks that take a key with a purpose (BLOCK_KEY0...), in order."""
        return [b.name for b in self.chip.blocks if b.key_purpose_field]

    def key_block(self, n: int) -> str:
        blocks = self.key_blocks
        if n >= len(blocks):
            self.unsupported(f"{self.name} has {len(blocks)} key block(s), the template needs {n + 1}")
        return blocks[n]

    def block_for(self, alias: str) -> str | None:
        """The block a name such as `flash_encryption` stands for on this chip, if any."""
        for b in self.chip.blocks:
            if alias in b.names:
                return b.name
        return None

    def key_place(self, purpose: str, n: int) -> str:
        """The block a key of `purpose` goes to: its fixed place where the chip has one
        (ESP32-C2 keys live in parts of BLOCK_KEY0), else the `n`th key block."""
        kp = next((k for k in self.chip.key_purposes if k.name == purpose), None)
        if kp is None:
            self.unsupported(f"{self.name} has no {purpose} key purpose")
        if kp.target:
            if self.chip.has_field(kp.target):
                return self.chip.blocks[self.chip.field(kp.target).block].name
            return self.chip.block(kp.target).name
        return self.key_block(n)

    def purpose_field(self, block: str) -> str | None:
        """The KEY_PURPOSE_n field that says what `block` holds, where the chip has one."""
        return self.chip.block(block).key_purpose_field

    def digest(self) -> tuple[str, str]:
        """(purpose, block) for the first secure boot digest, in the second key block
        unless the chip gives it a fixed place."""
        for kp in self.chip.key_purposes:
            if kp.digest:
                return kp.name, self.key_place(kp.name, 1)
        self.unsupported(f"{self.name} has no secure boot digest purpose")

    @property
    def signing_schemes(self) -> list[str]:
        """The Secure Boot V2 schemes the ROM verifies, by espsecure's --scheme names."""
        from fusebook.keys.schemes import scheme_support

        schemes = scheme_support(self.name).schemes
        return list(schemes) if schemes is not None else ["rsa3072", "ecdsa256", "ecdsa384"]

    def unsupported(self, why: str) -> NoReturn:
        raise Unsupported(why)


def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_source), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False,
    )


def _source(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"no starter template {kind!r}", hint="templates: " + ", ".join(KINDS))


def render_starter(kind: str, chip: ChipDef) -> str:
    """The starter recipe of `kind` for `chip`; InputError (exit 2) if the chip cannot take it."""
    _check_kind(kind)
    try:
        return _environment().get_template(f"{kind}.yaml.j2").render(c=ChipFacts(chip), kind=kind)
    except Unsupported as e:
        raise InputError(f"the {kind} template does not fit {chip.name}: {e}",
                         hint=f"chips it fits: {', '.join(supported_chips(kind))}") from None


def supported_chips(kind: str) -> list[str]:
    """Every chip (default revision) the template fits."""
    from fusebook.chips.loader import chip_names, load_chip

    _check_kind(kind)
    template = _environment().get_template(f"{kind}.yaml.j2")
    out = []
    for name in chip_names():
        try:
            template.render(c=ChipFacts(load_chip(name)), kind=kind)
        except Unsupported:
            continue
        out.append(name)
    return out

