"""Typed chip facts: blocks, fields, key purposes, controller registers and timings.

A chip is data (`chips/data/<chip>.yaml`); these frozen models are what the rest of
fusebook sees of it. Nothing here talks to a chip: the models only answer questions such
as "which bits does KEY_PURPOSE_0 occupy" or "which bit of WR_DIS protects BLOCK_KEY2".

The same dataclasses are the data files' schema: pydantic validates a file straight into
them (`chips/compile.py`), the `Annotated` metadata below says how a file spells a fact
(hex strings, `class:` for `klass`), and schemas/chip.schema.json is generated from them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, WithJsonSchema

from fusebook.errors import InputError, did_you_mean


def _number(v: Any) -> Any:
    """Data files write addresses and masks as `0x..` strings; the model holds ints."""
    return int(v, 0) if isinstance(v, str) else v


#: An integer a data file may write as a `0x..` hex string.
Hex = Annotated[
    int,
    BeforeValidator(_number),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": "^0x[0-9A-Fa-f]+$"},
                              {"type": "integer", "minimum": 0}]}),
]
#: A field, block or register name as the chip tables spell it.
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]
#: Unknown keys in a data file are errors (a misspelt key is never silently ignored); the
#: docstrings under the fields describe them in the generated schema.
_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)

#: Field value types, as espefuse names them; `mac` and `keypurpose` are codec classes.
FIELD_TYPES = ("bool", "uint", "bytes")


@dataclass(frozen=True, slots=True)
class FieldPart:
    """One run of bits of a field whose value is split over several places in its block.

    Parts are listed from the value's least significant bits up; espefuse shows such
    fields as one value (e.g. ESP32-P4 v3's 5-bit KEY_PURPOSE_n, whose fifth bit sits
    in KEY_PURPOSE_n_H, or RECOVERY_BOOTLOADER_FLASH_SECTOR).
    """

    __pydantic_config__ = _STRICT

    word: Annotated[int, Field(ge=0, le=15)]
    pos: Annotated[int, Field(ge=0, le=31)]
    bits: Annotated[int, Field(ge=1, le=32)]

    @property
    def start(self) -> int:
        return self.word * 32 + self.pos


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One named group of eFuse bits inside one block.

    Most fields are one contiguous run (`word`, `pos`, `bits`); a field with `parts` is
    assembled from several runs of the same block, and `bits` is their total. Use
    `gather`/`spread` to move between the field's value and the block's bits.
    """

    __pydantic_config__ = _STRICT

    name: Name
    block: Annotated[int, Field(ge=0, le=15)]
    word: Annotated[int, Field(ge=0, le=15)]
    pos: Annotated[int, Field(ge=0, le=31)]
    bits: Annotated[int, Field(ge=1, le=512)]
    type: Literal["bool", "uint", "bytes"]
    klass: Annotated[str, Field(alias="class")] = ""
    """espefuse's class: mac, keypurpose, keyblock, bitcount, ..."""
    aliases: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    wr_dis: Annotated[int, Field(ge=0, le=31)] | None = None
    rd_dis: tuple[Annotated[int, Field(ge=0, le=31)], ...] = ()
    meanings: Mapping[int, str] = field(default_factory=dict)
    description: str = ""
    category: str = "config"
    burnable: bool = True
    parts: tuple[FieldPart, ...] = ()
    """runs of bits (least significant first) a combined field is made of"""

    @property
    def start(self) -> int:
        """Bit offset of the field's least significant bit in its block."""
        return self.word * 32 + self.pos

    @property
    def mask(self) -> int:
        """The field's bits, as a mask over the whole block taken as one integer."""
        if self.parts:
            m = 0
            for p in self.parts:
                m |= ((1 << p.bits) - 1) << p.start
            return m
        return ((1 << self.bits) - 1) << self.start

    def gather(self, block_value: int) -> int:
        """The field's raw value out of its block's content (the block as one integer)."""
        if not self.parts:
            return (block_value >> self.start) & ((1 << self.bits) - 1)
        raw, shift = 0, 0
        for p in self.parts:
            raw |= ((block_value >> p.start) & ((1 << p.bits) - 1)) << shift
            shift += p.bits
        return raw

    def spread(self, raw: int) -> int:
        """The block bits (as one integer) that hold raw value `raw` of this field."""
        if not self.parts:
            return raw << self.start
        out, shift = 0, 0
        for p in self.parts:
            out |= ((raw >> shift) & ((1 << p.bits) - 1)) << p.start
            shift += p.bits
        return out

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class BlockDef:
    """One eFuse block: where it is read and written, and the bits that protect it."""

    __pydantic_config__ = _STRICT

    id: Annotated[int, Field(ge=0, le=15)]
    name: Name
    aliases: tuple[Name, ...]
    read_addr: Hex
    write_addr: Hex
    words: Annotated[int, Field(ge=1, le=16)]
    """length in 32-bit words of the read registers"""
    wr_dis: Annotated[int, Field(ge=0, le=31)] | None
    rd_dis: tuple[Annotated[int, Field(ge=0, le=31)], ...]
    key_purpose_field: Name | None
    coding: Literal["none", "rs", "esp32"]
    """none | rs | esp32 (ESP32's NONE/3/4, chosen by its CODING_SCHEME field)"""

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class KeyPurpose:
    """A value of a KEY_PURPOSE_n field and what it demands of the key it names.

    Chips without KEY_PURPOSE fields (ESP32-C2) name the purpose by where the key goes:
    `target` is then the field receiving the key (BLOCK_KEY0, BLOCK_KEY0_LOW_128, ...),
    and `digest_bytes` says how much of a longer digest is kept (its leading bytes).
    `sets` are fields burned along with a key of this purpose, as espefuse does
    (ESP32-C2: XTS_KEY_LENGTH_256 for a 256-bit flash key; ESP32-H2 up to v1.1:
    ECDSA_FORCE_USE_HARDWARE_K for an ECDSA key).
    """

    __pydantic_config__ = _STRICT

    name: Name
    value: int
    """KEY_PURPOSE value; negative: a two-block purpose espefuse splits"""
    digest: bool
    """secure-boot digest purposes"""
    reverse: bool
    """byte order reversed before burning (AES-XTS, ECDSA keys)"""
    read_protect: bool
    """read protection applied by default"""
    target: Name | None = None
    digest_bytes: Annotated[int, Field(ge=1)] | None = None
    sets: Mapping[str, Annotated[int, Field(ge=1)]] = field(default_factory=dict)
    split: tuple[Name, Name] | None = None
    """a virtual purpose whose key fills two key blocks: the purposes of its halves, first half first"""


@dataclass(frozen=True, slots=True)
class RegisterUpdate:
    """Replace the `mask` bits of `register` with `value` (shifted to the mask's LSB)."""

    __pydantic_config__ = _STRICT

    register: Name
    mask: Hex
    value: Hex


@dataclass(frozen=True, slots=True)
class BlockErrorLayout:
    """Where the controller reports read errors of one block after a read command.

    `fail_*` names the register and bit of the uncorrectable-error flag (or, with
    `fail_mask`, several bits: the ESP32's four 3/4-coding groups of a block), `count_*`
    the register, mask and shift of the corrected-error count; either may be absent.
    """

    __pydantic_config__ = _STRICT

    fail_register: Name | None = None
    fail_bit: Annotated[int, Field(ge=0, le=31)] | None = None
    count_register: Name | None = None
    count_mask: Annotated[int, Field(ge=1)] | None = None
    count_shift: Annotated[int, Field(ge=0, le=31)] | None = None
    fail_mask: Hex | None = None

    @property
    def fail_bits(self) -> int:
        """The mask of the fail flag(s) in `fail_register` (0: the block has none)."""
        if self.fail_mask is not None:
            return self.fail_mask
        return 1 << self.fail_bit if self.fail_bit is not None else 0


@dataclass(frozen=True, slots=True)
class RevisionPart:
    """A field (or, for ESP32, a constant) contributing bits to the chip revision."""

    __pydantic_config__ = _STRICT

    field: Name
    shift: Annotated[int, Field(ge=0)] = 0


@dataclass(frozen=True, slots=True)
class RevisionRegister:
    """A register outside the eFuse block that adds a bit to the major revision.

    The ESP32 tells v3 from v2 by APB_CTL_DATE bit 31 (esptool's get_major_chip_version):
    `(read(register) >> shift) & mask` lands at bit `major_shift` of the raw major value.
    """

    __pydantic_config__ = _STRICT

    register: Name
    shift: Annotated[int, Field(ge=0, le=31)]
    mask: Hex
    major_shift: Annotated[int, Field(ge=0)]


@dataclass(frozen=True, slots=True)
class RevisionRule:
    """How the chip revision is read: fields (and, for the ESP32, registers) and quirks."""

    __pydantic_config__ = _STRICT

    major: tuple[RevisionPart, ...]
    minor: tuple[RevisionPart, ...]
    zero_if: Mapping[str, Annotated[int, Field(ge=0)]] = field(default_factory=dict)
    """ESP32-S3 v0.0 quirk: the chip is v0.0 when these fields hold these values."""
    registers: tuple[RevisionRegister, ...] = ()
    """Registers outside the eFuse block read with the eFuses for the revision (ESP32 v3)."""
    major_map: Mapping[int, Annotated[int, Field(ge=0)]] = field(default_factory=dict)
    """Raw major value -> major revision, where the bits are not the number (ESP32)."""


@dataclass(frozen=True, slots=True)
class RomIdentity:
    """How espefuse's tables name the chip and its ROM (kept as espefuse has them)."""

    __pydantic_config__ = _STRICT

    chip_name: str
    chip_id: Hex | None = None
    magic_values: tuple[Hex, ...] = ()
    efuse_base: Hex | None = None
    uart_date_reg: Hex | None = None
    uses_magic_value: bool = False


@dataclass(frozen=True, slots=True)
class BaudFix:
    """How a chip's ROM mis-derives its UART clock, so CHANGE_BAUDRATE must be scaled."""

    __pydantic_config__ = _STRICT

    kind: Literal["esp32_rom_calibration", "assumed_crystal", "rom_expected_crystal"]
    params: Mapping[str, Hex] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChipLinkFacts:
    """What the ROM link needs to identify a chip and talk to it (the `link:` section).

    They describe the ROM loader and the clocks around it, not eFuses: how the chip names
    itself on the wire, where its UART clock divider is, which crystal it runs from.
    """

    __pydantic_config__ = _STRICT

    chip_name: str
    """as the ROM and espefuse print it: ESP32-C3"""
    security_info: Literal["none", "short", "long"]
    """none (ESP32: command unknown) | short (ESP32-S2: 12 bytes) | long (20 bytes)"""
    uart_date_reg: Hex
    """register written with mask 0 to make the ROM wait after a write"""
    uart_clkdiv_reg: Hex
    """UART clock divider; with the baud rate it gives the crystal frequency"""
    xtal_clk_divider: int
    """bus clock = crystal * this"""
    crystal_mhz: int | None
    """fixed crystal (null: measured through the UART clock divider)"""
    virtual_crystal_mhz: int
    """crystal the virtual chip reports"""
    baud_fix: BaudFix | None
    """how the ROM's idea of its clock skews CHANGE_BAUDRATE"""
    usb_serial_jtag: bool
    """the chip has the USB-Serial/JTAG peripheral (--before usb-reset)"""
    download_disable_field: Name | None
    """eFuse field after which the ROM offers no download mode at all"""
    secure_download_field: Name | None
    """eFuse field that restricts the ROM to secure download mode"""
    lockout_on_read: bool
    """the ROM re-reads those fields after every eFuse read command (not only at boot)"""
    chip_id: int | None = None
    """GET_SECURITY_INFO chip id (ESP32-S3 and later identify themselves by it)"""
    magic: Hex | None = None
    """value of the register at detect_magic_reg (chips identified that way)"""
    watchdogs: Mapping[str, Hex] | None = None
    """RTC and super watchdog registers: over USB-Serial/JTAG they are not fed in download mode and would reset the chip mid-burn, so the link disables the first and sets the second to feed itself"""
    name: str = ""
    """fusebook's chip name (esp32c3); filled in from the chip, not written in the section"""

    @property
    def lockout_fields(self) -> tuple[str, ...]:
        """Fields whose burn ends the ROM's register access at once (no read-back after)."""
        if not self.lockout_on_read:
            return ()
        return tuple(n for n in (self.download_disable_field, self.secure_download_field) if n)


#: Secure Boot V2 signature schemes, by espsecure's --scheme names.
Scheme = Literal["rsa3072", "ecdsa192", "ecdsa256", "ecdsa384"]


@dataclass(frozen=True, slots=True)
class SecureBootFacts:
    """The Secure Boot V2 signature schemes the chip's ROM verifies (the `secure_boot:` section).

    `schemes` is None where no public source says. `caveats` are the reasons a production
    engineer may still not want a scheme (shown as plan warnings); key `*`: every scheme.
    """

    __pydantic_config__ = _STRICT

    schemes: tuple[Scheme, ...] | None
    caveats: Mapping[str, str] = field(default_factory=dict)

    def caveat(self, scheme: str) -> str | None:
        return self.caveats.get(scheme) or self.caveats.get("*")


@dataclass(frozen=True, slots=True)
class ControllerCommands:
    """How software starts the controller's commands (the `commands:` section).

    `register` is the command register; `program` and `read` name the constants written
    there. `block_shift`: where a program command names its block (the PGM_DATA/CHECK_VALUE
    controller programs one block from its shared write registers); None: one program
    command burns every block's own write registers (the ESP32).
    """

    __pydantic_config__ = _STRICT

    register: Name
    program: Name
    read: Name
    block_shift: Annotated[int, Field(ge=0, le=31)] | None


# -- facts the step kinds read (fusebook/steps/) -------------------------------------------
@dataclass(frozen=True, slots=True)
class FlashVoltage:
    """set_flash_voltage's fields: eFuses decide (not the strapping pin), regulator on, 3.3V."""

    __pydantic_config__ = _STRICT

    force: Name
    regulator: Name
    tieh: Name


@dataclass(frozen=True, slots=True)
class CustomMac:
    """Fields burn_custom_mac burns beside CUSTOM_MAC.

    `used`: a flag the ROM needs set before it uses CUSTOM_MAC (ESP32-C2); `crc`: the
    field holding the MAC's CRC-8 and `version`: the MAC version field, which must be 0 or
    `version_value` and is burned to `version_value` (ESP32).
    """

    __pydantic_config__ = _STRICT

    used: Name | None = None
    crc: Name | None = None
    version: Name | None = None
    version_value: Annotated[int, Field(ge=0)] = 1


@dataclass(frozen=True, slots=True)
class NamedKeyBlock:
    """On a chip without key purposes (ESP32), what a key block's name says of its key."""

    __pydantic_config__ = _STRICT

    reverse: bool
    """byte order reversed before burning"""
    read_protect: bool
    """read protection applied by default"""


@dataclass(frozen=True, slots=True)
class DigestBlock:
    """On a chip without key purposes (ESP32), where a secure boot digest goes.

    `enabled_by` is the field that turns secure boot on (the digest must then stay
    readable); `refused_coding` the coding scheme the digest cannot be burned under.
    """

    __pydantic_config__ = _STRICT

    block: Name
    enabled_by: Name
    refused_coding: str


@dataclass(frozen=True)
class ChipDef:
    """Everything fusebook knows about one chip type (and revision range of its table)."""

    __pydantic_config__ = _STRICT

    name: Annotated[str, Field(alias="chip", pattern=r"^esp32[a-z0-9]*$")]
    """espefuse's chip name"""
    description: str
    family: Literal["esp32", "esp32xx"]
    """controller family: the ESP32's own, or the PGM_DATA/CHECK_VALUE controller"""
    mem_size: Hex
    base: Hex
    registers: Mapping[str, Hex]
    constants: Mapping[str, int]
    blocks: tuple[BlockDef, ...]
    fields: tuple[FieldDef, ...]
    key_purposes: tuple[KeyPurpose, ...]
    postponed: tuple[Name, ...]
    """BLOCK0 fields burned in a final, separate program"""
    block0_error_registers: tuple[Name, ...]
    block_errors: tuple[BlockErrorLayout, ...]
    """per block (by id): where the read-error flag and count are"""
    error_registers: tuple[Name, ...]
    timing: Mapping[int, tuple[RegisterUpdate, ...]]
    """register updates before programming, per crystal frequency in MHz; an empty list: the crystal is checked, nothing written"""
    revision_rule: Annotated[RevisionRule, Field(alias="revision")]
    rom: RomIdentity
    link: ChipLinkFacts
    """ROM loader facts (identification, clocks, lock-outs)"""
    secure_boot: SecureBootFacts
    """Secure Boot V2 schemes the ROM verifies"""
    commands: ControllerCommands
    variant: str = ""
    """revision-specific table name; empty for the chip's default table"""
    host_timing: bool = True
    """whether the host writes timing registers at all"""
    forbidden_purposes: Mapping[str, tuple[Name, ...]] = field(default_factory=dict)
    """KEY_PURPOSE field -> purposes (or name prefixes) a silicon erratum forbids there"""
    incompatible: tuple[Annotated[tuple[Name, ...], Field(min_length=2)], ...] = ()
    """Groups of fields that must never all be set (ESP32-S3: a ROM bug makes DIS_USB_JTAG and DIS_USB_SERIAL_JTAG together fatal); espefuse refuses such burns."""
    secret_blocks: tuple[Name, ...] = ()
    """Blocks that hold keys whatever a plan says, with no KEY_PURPOSE field to tell (ESP32: the flash-encryption and secure-boot key blocks); records and logs never show them."""
    revisions: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] | None = None
    """Range of chip revisions (major*100+minor, inclusive) this table is for; None: the chip's default table."""
    flash_voltage: FlashVoltage | None = None
    """set_flash_voltage's fields; null: the chip has no flash voltage regulator eFuses"""
    custom_mac: CustomMac = field(default_factory=CustomMac)
    """fields burn_custom_mac burns beside CUSTOM_MAC"""
    key_block_names: Mapping[str, NamedKeyBlock] = field(default_factory=dict)
    """chips without key purposes: key block names that say what a key is for"""
    digest_block: DigestBlock | None = None
    """chips without key purposes: where a secure boot digest goes"""

    def __post_init__(self) -> None:
        if self.link.name != self.name:
            object.__setattr__(self, "link", dataclasses.replace(self.link, name=self.name))

    # Look-up tables, not facts: computed once, outside eq, repr and the schema.
    @functools.cached_property
    def _by_name(self) -> dict[str, FieldDef]:
        out: dict[str, FieldDef] = {}
        for f in self.fields:
            for n in f.names:
                out.setdefault(n, f)
        return out

    @functools.cached_property
    def _blocks_by_name(self) -> dict[str, BlockDef]:
        out: dict[str, BlockDef] = {}
        for b in self.blocks:
            for n in b.names:
                out.setdefault(n, b)
        return out

    @functools.cached_property
    def _fields_by_block(self) -> dict[int, tuple[FieldDef, ...]]:
        out: dict[int, list[FieldDef]] = {b.id: [] for b in self.blocks}
        for f in self.fields:
            out.setdefault(f.block, []).append(f)
        return {k: tuple(v) for k, v in out.items()}

    # -- the revision rule, by the names the rest of fusebook uses ----------------------
    @property
    def revision_major(self) -> tuple[RevisionPart, ...]:
        return self.revision_rule.major

    @property
    def revision_minor(self) -> tuple[RevisionPart, ...]:
        return self.revision_rule.minor

    @property
    def revision_zero_if(self) -> Mapping[str, int]:
        return self.revision_rule.zero_if

    @property
    def revision_registers(self) -> tuple[RevisionRegister, ...]:
        return self.revision_rule.registers

    @property
    def revision_major_map(self) -> Mapping[int, int]:
        return self.revision_rule.major_map

    # -- look-ups -------------------------------------------------------------------
    def has_field(self, name: str) -> bool:
        return name in self._by_name

    def field(self, name: str) -> FieldDef:
        """The field called `name` (or one of its aliases); InputError with a hint if none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(
                f"{self.name} has no eFuse field {name!r}",
                hint=did_you_mean(name, list(self._by_name))
                or f"`fusebook fields {self.name}` lists them",
            ) from None

    def has_block(self, name: str) -> bool:
        return name in self._blocks_by_name

    def block(self, name_or_id: str | int) -> BlockDef:
        if isinstance(name_or_id, int):
            return self.blocks[name_or_id]
        try:
            return self._blocks_by_name[name_or_id]
        except KeyError:
            raise InputError(
                f"{self.name} has no eFuse block {name_or_id!r}",
                hint=did_you_mean(name_or_id, list(self._blocks_by_name))
                or f"`fusebook fields {self.name}` lists them",
            ) from None

    def key_purpose(self, name_or_value: str | int) -> KeyPurpose:
        for kp in self.key_purposes:
            if kp.name == name_or_value or kp.value == name_or_value:
                return kp
        names = [kp.name for kp in self.key_purposes]
        raise InputError(
            f"{self.name} has no key purpose {name_or_value!r}",
            hint=did_you_mean(str(name_or_value), names) or "known: " + ", ".join(names),
        )

    def key_purpose_name(self, value: int) -> str:
        for kp in self.key_purposes:
            if kp.value == value:
                return kp.name
        return "FORBIDDEN_STATE"

    def purpose_forbidden(self, purpose_field: str, purpose: str) -> bool:
        """True if a silicon erratum forbids `purpose` in `purpose_field` (e.g. KEY_PURPOSE_5)."""
        return any(
            purpose == p or purpose.startswith(p + "_")
            for p in self.forbidden_purposes.get(purpose_field, ())
        )

    def register(self, name: str) -> int:
        return self.registers[name]

    def revision_of(
        self, raw: Callable[[str], int], registers: Mapping[str, int] | None = None
    ) -> tuple[int, int]:
        """(major, minor) chip revision from the raw values of the revision fields.

        `raw(name)` gives a field's raw value; `registers` the values of the chip's
        `revision_registers` as read (absent: taken as 0, so an ESP32 image without
        APB_CTL_DATE reads as at most v2, its eFuse part).
        """

        def parts(ps: tuple[RevisionPart, ...]) -> int:
            return sum(raw(p.field) << p.shift for p in ps if self.has_field(p.field))

        major, minor = parts(self.revision_major), parts(self.revision_minor)
        regs = registers or {}
        for r in self.revision_registers:
            major |= ((regs.get(r.register, 0) >> r.shift) & r.mask) << r.major_shift
        if self.revision_major_map:
            major = self.revision_major_map.get(major, 0)
        if self.revision_zero_if and all(
            self.has_field(n) and raw(n) == v for n, v in self.revision_zero_if.items()
        ):
            return 0, 0
        return major, minor

    @property
    def key_blocks(self) -> tuple[BlockDef, ...]:
        return tuple(b for b in self.blocks if b.key_purpose_field)

    @property
    def purposes_by_target(self) -> bool:
        """True if key purposes name a target field instead of a KEY_PURPOSE value (C2)."""
        return any(kp.target for kp in self.key_purposes)

    def fields_in_block(self, block: int) -> tuple[FieldDef, ...]:
        return self._fields_by_block.get(block, ())

    def block_field(self, block: BlockDef) -> FieldDef | None:
        """The `keyblock` field spanning a whole block (BLOCK_KEY0, BLOCK_USR_DATA, ...)."""
        for f in self.fields:
            if f.block == block.id and f.klass == "keyblock" and f.start == 0:
                return f
        return None
