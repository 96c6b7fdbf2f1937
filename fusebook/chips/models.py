"""Typed chip facts: blocks, fields, key purposes, controller registers and timings.

A chip is data (`chips/data/<chip>.yaml`); these frozen models are what the rest of
fusebook sees of it. Nothing here talks to a chip: the models only answer questions such
as "which bits does KEY_PURPOSE_0 occupy" or "which bit of WR_DIS protects BLOCK_KEY2".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fusebook.errors import InputError, did_you_mean

#: Field value types, as espefuse names them; `mac` and `keypurpose` are codec classes.
FIELD_TYPES = ("bool", "uint", "bytes")


@dataclass(frozen=True, slots=True)
class FieldPart:
    """One run of bits of a field whose value is split over several places in its block.

    Parts are listed from the value's least significant bits up; espefuse shows such
    fields as one value (e.g. ESP32-P4 v3's 5-bit KEY_PURPOSE_n, whose fifth bit sits
    in KEY_PURPOSE_n_H, or RECOVERY_BOOTLOADER_FLASH_SECTOR).
    """

    word: int
    pos: int
    bits: int

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

    name: str
    block: int
    word: int
    pos: int
    bits: int
    type: str  # bool | uint | bytes
    klass: str = ""  # espefuse class: mac, keypurpose, keyblock, bitcount, ...
    aliases: tuple[str, ...] = ()
    wr_dis: int | None = None
    rd_dis: tuple[int, ...] = ()
    meanings: Mapping[int, str] = field(default_factory=dict)
    description: str = ""
    category: str = "config"
    burnable: bool = True
    parts: tuple[FieldPart, ...] = ()

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

    id: int
    name: str
    aliases: tuple[str, ...]
    read_addr: int
    write_addr: int
    words: int  # length in 32-bit words of the read registers
    wr_dis: int | None
    rd_dis: tuple[int, ...]
    key_purpose_field: str | None
    coding: str  # none | rs | esp32 (ESP32's NONE/3/4 chosen by its CODING_SCHEME field)

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

    name: str
    value: int
    digest: bool  # secure-boot digest purposes
    reverse: bool  # byte order reversed before burning (AES-XTS, ECDSA keys)
    read_protect: bool  # read protection applied by default
    target: str | None = None
    digest_bytes: int | None = None
    sets: Mapping[str, int] = field(default_factory=dict)
    #: a virtual purpose whose key fills two key blocks: the purposes of its halves, first half first
    split: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RegisterUpdate:
    """Replace the `mask` bits of `register` with `value` (shifted to the mask's LSB)."""

    register: str
    mask: int
    value: int


@dataclass(frozen=True, slots=True)
class BlockErrorLayout:
    """Where the controller reports read errors of one block after a read command.

    `fail_*` names the register and bit of the uncorrectable-error flag (or, with
    `fail_mask`, several bits: the ESP32's four 3/4-coding groups of a block), `count_*`
    the register, mask and shift of the corrected-error count; either may be absent.
    """

    fail_register: str | None = None
    fail_bit: int | None = None
    count_register: str | None = None
    count_mask: int | None = None
    count_shift: int | None = None
    fail_mask: int | None = None

    @property
    def fail_bits(self) -> int:
        """The mask of the fail flag(s) in `fail_register` (0: the block has none)."""
        if self.fail_mask is not None:
            return self.fail_mask
        return 1 << self.fail_bit if self.fail_bit is not None else 0


@dataclass(frozen=True, slots=True)
class RevisionPart:
    """A field (or, for ESP32, a constant) contributing bits to the chip revision."""

    field: str
    shift: int = 0


@dataclass(frozen=True, slots=True)
class RevisionRegister:
    """A register outside the eFuse block that adds a bit to the major revision.

    The ESP32 tells v3 from v2 by APB_CTL_DATE bit 31 (esptool's get_major_chip_version):
    `(read(register) >> shift) & mask` lands at bit `major_shift` of the raw major value.
    """

    register: str
    shift: int
    mask: int
    major_shift: int


# -- facts the step kinds read (fusebook/steps/) -------------------------------------------
@dataclass(frozen=True, slots=True)
class FlashVoltage:
    """set_flash_voltage's fields: eFuses decide (not the strapping pin), regulator on, 3.3V."""

    force: str
    regulator: str
    tieh: str


@dataclass(frozen=True, slots=True)
class CustomMac:
    """Fields burn_custom_mac burns beside CUSTOM_MAC.

    `used`: a flag the ROM needs set before it uses CUSTOM_MAC (ESP32-C2); `crc`: the
    field holding the MAC's CRC-8 and `version`: the MAC version field, which must be 0 or
    `version_value` and is burned to `version_value` (ESP32).
    """

    used: str | None = None
    crc: str | None = None
    version: str | None = None
    version_value: int = 1


@dataclass(frozen=True, slots=True)
class NamedKeyBlock:
    """On a chip without key purposes (ESP32), what a key block's name says of its key."""

    reverse: bool  # byte order reversed before burning
    read_protect: bool  # read protection applied by default


@dataclass(frozen=True, slots=True)
class DigestBlock:
    """On a chip without key purposes (ESP32), where a secure boot digest goes.

    `enabled_by` is the field that turns secure boot on (the digest must then stay
    readable); `refused_coding` the coding scheme the digest cannot be burned under.
    """

    block: str
    enabled_by: str
    refused_coding: str


@dataclass(frozen=True)
class ChipDef:
    """Everything fusebook knows about one chip type (and revision range of its table)."""

    name: str
    description: str
    family: str  # esp32 | esp32xx (the PGM_DATA/CHECK_VALUE controller)
    mem_size: int
    base: int
    registers: Mapping[str, int]
    constants: Mapping[str, int]
    blocks: tuple[BlockDef, ...]
    fields: tuple[FieldDef, ...]
    key_purposes: tuple[KeyPurpose, ...]
    postponed: tuple[str, ...]
    block0_error_registers: tuple[str, ...]
    block_errors: tuple[BlockErrorLayout, ...]
    error_registers: tuple[str, ...]
    timing: Mapping[int, tuple[RegisterUpdate, ...]]
    revision_major: tuple[RevisionPart, ...]
    revision_minor: tuple[RevisionPart, ...]
    rom: Mapping[str, object]
    variant: str = ""
    forbidden_purposes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: ESP32-S3 v0.0 quirk: the chip is v0.0 when these fields hold these values.
    revision_zero_if: Mapping[str, int] = field(default_factory=dict)
    #: Registers outside the eFuse block read with the eFuses for the revision (ESP32 v3).
    revision_registers: tuple[RevisionRegister, ...] = ()
    #: Raw major value -> major revision, where the bits are not the number (ESP32).
    revision_major_map: Mapping[int, int] = field(default_factory=dict)
    #: Groups of fields that must never all be set (ESP32-S3: a ROM bug makes DIS_USB_JTAG
    #: and DIS_USB_SERIAL_JTAG together fatal); espefuse refuses such burns.
    incompatible: tuple[tuple[str, ...], ...] = ()
    #: Range of chip revisions (major*100+minor) this table is for; None: the default table.
    revisions: tuple[int, int] | None = None
    #: set_flash_voltage's fields; None: the chip has no flash voltage regulator eFuses
    flash_voltage: FlashVoltage | None = None
    custom_mac: CustomMac = field(default_factory=CustomMac)
    #: chips without key purposes: key block names that say what a key is for (else empty)
    key_block_names: Mapping[str, NamedKeyBlock] = field(default_factory=dict)
    digest_block: DigestBlock | None = None
    _by_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    _blocks_by_name: dict[str, BlockDef] = field(default_factory=dict, compare=False, repr=False)
    _fields_by_block: dict[int, tuple[FieldDef, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for f in self.fields:
            for n in f.names:
                self._by_name.setdefault(n, f)
        for b in self.blocks:
            for n in b.names:
                self._blocks_by_name.setdefault(n, b)
            self._fields_by_block[b.id] = tuple(f for f in self.fields if f.block == b.id)

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
