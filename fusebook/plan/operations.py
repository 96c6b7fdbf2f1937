"""Recipe steps compiled into bit requests, with espefuse's semantics per command.

An `Operation` is one rendered step (kind + concrete arguments + where it came from).
`requests_for` turns it into `Request`s: "these bits of this block must end up with these
values" (exact) or "these bits must be set" (or-mode, for protection bits and burn_bit).
Reading the image is allowed here (burn_key looks at the current key purpose); nothing is
written: that is the planner's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fusebook.chips.models import BlockDef, ChipDef, FieldDef, KeyPurpose
from fusebook.efuse import codecs
from fusebook.efuse.image import CODING_34, CODING_REPEAT, EfuseImage
from fusebook.errors import InputError, PlanError, SourceLocation
from fusebook.plan.model import Origin, PlanWarning
from fusebook.secret import Secret

STEP_KINDS = (
    "burn_efuse",
    "burn_custom_mac",
    "burn_key",
    "burn_key_digest",
    "burn_block_data",
    "burn_bit",
    "write_protect_efuse",
    "read_protect_efuse",
    "set_flash_voltage",
)

#: Key purposes that take two key blocks: (first half purpose, second half purpose).
SPLIT_PURPOSES = {
    "XTS_AES_256_KEY": ("XTS_AES_256_KEY_1", "XTS_AES_256_KEY_2"),
    "XTS_AES_256_PSRAM_KEY": ("XTS_AES_256_PSRAM_KEY_1", "XTS_AES_256_PSRAM_KEY_2"),
    "ECDSA_KEY_P384": ("ECDSA_KEY_P384_H", "ECDSA_KEY_P384_L"),
}

#: Flash voltage regulator fields per chip family naming (ESP32: SDIO, others: SPI).
FLASH_VOLTAGE_FIELDS = (
    ("XPD_SDIO_FORCE", "XPD_SDIO_REG", "XPD_SDIO_TIEH"),
    ("VDD_SPI_FORCE", "VDD_SPI_XPD", "VDD_SPI_TIEH"),
)


@dataclass(frozen=True)
class Operation:
    """One rendered recipe step."""

    kind: str
    args: Any
    label: str = ""
    location: SourceLocation | None = None

    @property
    def origin(self) -> Origin:
        return Origin(self.label or self.kind, self.location)


@dataclass(frozen=True, slots=True)
class Request:
    """Bits one step wants in one block."""

    block: int
    mask: int
    value: int
    exact: bool
    name: str
    origin: Origin
    secret: bool = False
    guard: str | None = None  # field or block whose write protection forbids this change


@dataclass
class Compiled:
    """What the operations of one recipe ask of one chip."""

    requests: list[Request] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    key_fingerprints: dict[str, str] = field(default_factory=dict)


def _err(op: Operation, message: str, hint: str | None = None, cls: type = InputError) -> Exception:
    return cls(f"{op.origin.step}: {message}", location=op.location, hint=hint)


def _wrap(op: Operation, e: InputError) -> InputError:
    """Attach the step's location to an error raised by a value codec."""
    if e.location is None:
        e.location = op.location
    return e


class _Compiler:
    def __init__(self, chip: ChipDef, image: EfuseImage) -> None:
        self.chip = chip
        self.image = image
        self.out = Compiled()
        self.key_blocks_used: set[int] = set()
        #: where a key goes -> (purpose, key bytes, read_protect, write_protect) and its step
        self.key_claims: dict[str, tuple[tuple[str, bytes, bool, bool], Operation]] = {}

    # -- helpers -------------------------------------------------------------------
    def field(self, op: Operation, name: str) -> FieldDef:
        try:
            return self.chip.field(str(name))
        except InputError as e:
            raise _wrap(op, e) from None

    def block(self, op: Operation, name: Any) -> BlockDef:
        try:
            if isinstance(name, int) or (isinstance(name, str) and name.isdigit()):
                idx = int(name)
                if not 0 <= idx < len(self.chip.blocks):
                    raise InputError(f"{self.chip.name} has no block {idx}")
                return self.chip.blocks[idx]
            return self.chip.block(str(name))
        except InputError as e:
            raise _wrap(op, e) from None

    def set_field(self, op: Operation, f: FieldDef, raw: int, *, secret: bool = False) -> None:
        if raw < 0 or raw >> f.bits:
            # e.g. a 5-bit key purpose on an ESP32-P4 before v3.0, whose KEY_PURPOSE_n has 4 bits
            raise _err(op, f"{f.name} has {f.bits} bits; it cannot hold {raw}",
                       hint="this value is not available on this chip (or chip revision)",
                       cls=PlanError)
        if f.name in ("WR_DIS", "RD_DIS"):
            self.or_bits(op, f.block, f.spread(raw), f.name, guard=f.name)
            return
        self._check_fits_coding(op, f, raw)
        self.out.requests.append(
            Request(f.block, f.mask, f.spread(raw), True, f.name, op.origin, secret, guard=f.name)
        )

    def _check_fits_coding(self, op: Operation, f: FieldDef, raw: int) -> None:
        """Refuse a value whose bits lie past its block's data under the chip's coding scheme.

        An ESP32 block under 3/4 coding holds 24 data bytes (bits 0..191) of its 32; a
        custom table can still name bits above them, which no program can set.
        """
        bits = f.spread(raw)
        if self.image.bits_fit(f.block, bits):
            return
        size = self.image.data_bytes(f.block) * 8
        blk = self.chip.blocks[f.block]
        scheme = {CODING_34: "3/4", CODING_REPEAT: "REPEAT"}.get(self.image.coding(blk), "its")
        raise _err(
            op,
            f"{f.name} (bits {f.start}..{f.mask.bit_length() - 1} of {blk.name}) does not fit: under "
            f"{scheme} coding {blk.name} holds {size} data bits (0..{size - 1}), and the value sets "
            f"bit {bits.bit_length() - 1}",
            hint=f"move {f.name} below bit {size} in the custom eFuse table, or burn it on a chip "
                 "whose coding scheme holds the whole block",
            cls=PlanError,
        )

    def raw(self, name: str) -> int:
        """A field's raw value on the chip (fields split over several places included)."""
        f = self.chip.field(name)
        return f.gather(self.image.blocks[f.block])

    def or_bits(self, op: Operation, block: int, bits: int, name: str, guard: str | None) -> None:
        if bits:
            self.out.requests.append(Request(block, bits, bits, False, name, op.origin, guard=guard))

    def wr_dis(self, op: Operation, bit: int) -> None:
        self.or_bits(op, 0, bit_of(self.chip, "WR_DIS", bit), "WR_DIS", guard="WR_DIS")

    def rd_dis(self, op: Operation, bits: tuple[int, ...]) -> None:
        v = 0
        for b in bits:
            v |= 1 << b
        f = self.chip.field("RD_DIS")
        self.or_bits(op, 0, v << f.start, "RD_DIS", guard="RD_DIS")

    # -- steps ---------------------------------------------------------------------
    def compile(self, op: Operation) -> None:
        handler = getattr(self, "_" + op.kind, None)
        if handler is None:
            raise _err(op, f"unknown step {op.kind!r}")
        handler(op)

    def _burn_efuse(self, op: Operation) -> None:
        if not isinstance(op.args, dict) or not op.args:
            raise _err(op, "burn_efuse takes a mapping of field names to values")
        at: dict[Any, SourceLocation] = getattr(op.args, "key_locations", {})
        seen: dict[str, tuple[Any, int]] = {}
        for name, value in op.args.items():
            f = self.field(op, name)
            if not f.burnable:
                raise _err(op, f"{f.name} is computed or read-only and cannot be burned")
            try:
                raw = codecs.encode_value(self.chip, f, value)
            except InputError as e:
                raise _wrap(op, e) from None
            if raw == 0:
                raise _err(
                    op,
                    f"burning {f.name} to 0 changes nothing (eFuse bits only go 0 -> 1)",
                    hint="leave the field out, or skip the step with `when:`",
                )
            if f.name in seen:
                first, first_raw = seen[f.name]
                if first_raw == raw:
                    continue
                # a field and its alias (or a templated name) in one mapping: which value is meant?
                raise PlanError(
                    f"{op.origin.step}: {first} and {name} are both {f.name}, with different values",
                    location=at.get(first, op.location),
                    related=tuple(x for x in (at.get(name, op.location),) if x is not None),
                    hint="keep one of them",
                )
            seen[f.name] = (name, raw)
            if f.klass == "keypurpose":
                self._check_purpose_quirks(op, f, raw)
            self.set_field(op, f, raw, secret=isinstance(value, Secret))

    def _check_purpose_quirks(self, op: Operation, f: FieldDef, raw: int) -> None:
        name = self.chip.key_purpose_name(raw)
        if self.chip.purpose_forbidden(f.name, name):
            raise _err(
                op,
                f"{f.name} cannot hold {name} on {self.chip.description} (a silicon erratum)",
                hint="use another key block",
                cls=PlanError,
            )

    def _burn_custom_mac(self, op: Operation) -> None:
        if not self.chip.has_field("CUSTOM_MAC"):
            raise _err(op, f"{self.chip.description} has no custom MAC field")
        f = self.chip.field("CUSTOM_MAC")
        mac = op.args
        try:
            data = codecs.parse_mac(mac)
            raw = codecs.mac_bytes_to_raw(f, data)
        except InputError as e:
            raise _wrap(op, e) from None
        self.set_field(op, f, raw)
        # Chip quirk (ESP32-C2): the ROM uses CUSTOM_MAC only once CUSTOM_MAC_USED is set.
        if self.chip.has_field("CUSTOM_MAC_USED"):
            self.set_field(op, self.chip.field("CUSTOM_MAC_USED"), 1)
        if self.chip.family == "esp32":
            version = self.chip.field("MAC_VERSION")
            current = self.image.raw(version)
            if current == 0:
                self.set_field(op, version, 1)
            elif current != 1:
                raise _err(op, f"MAC_VERSION is {current}; a custom MAC needs 0 or 1", cls=PlanError)
            self.set_field(op, self.chip.field("CUSTOM_MAC_CRC"), codecs.crc8_custom_mac(data))

    def _burn_bit(self, op: Operation) -> None:
        args = op.args if isinstance(op.args, dict) else {}
        blk = self.block(op, args.get("block"))
        bits = args.get("bits")
        if not isinstance(bits, list) or not bits:
            raise _err(op, "burn_bit needs `bits: [n, ...]`")
        size = self.image.data_bytes(blk) * 8
        v = 0
        for b in bits:
            if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b < size:
                raise _err(op, f"bit {b!r} is outside {blk.name} (0..{size - 1})")
            v |= 1 << b
        self.or_bits(op, blk.id, v, blk.name, guard=blk.name)

    def _data_of(self, op: Operation, args: dict[str, Any], what: str) -> bytes:
        if "data" in args and args["data"] is not None:
            value = args["data"]
        elif "file" in args and args["file"] is not None:
            value = args["file"]
            if not isinstance(value, (bytes, Secret)):
                raise _err(op, f"{what} file {value!r} was not loaded")
        else:
            raise _err(op, f"{what} needs `data:` (hex) or `file:`")
        try:
            return codecs.parse_hex_bytes(value, what)
        except InputError as e:
            raise _wrap(op, e) from None

    def _burn_block_data(self, op: Operation) -> None:
        args = op.args if isinstance(op.args, dict) else {}
        blk = self.block(op, args.get("block"))
        data = self._data_of(op, args, "burn_block_data")
        offset = args.get("offset", 0) or 0
        size = self.image.data_bytes(blk)
        if not isinstance(offset, int) or offset < 0 or offset >= size:
            raise _err(op, f"offset {offset!r} is outside {blk.name} ({size} bytes)")
        if offset + len(data) > size:
            raise _err(
                op,
                f"{len(data)} bytes at offset {offset} do not fit {blk.name} ({size} bytes)",
            )
        mask = ((1 << (8 * len(data))) - 1) << (8 * offset)
        value = int.from_bytes(data, "little") << (8 * offset)
        # data from a secret input (or a key file) stays out of plans and logs like a key
        secret = isinstance(args.get("data"), Secret) or isinstance(args.get("file"), Secret)
        self.out.requests.append(
            Request(blk.id, mask, value, True, blk.name, op.origin, secret, guard=blk.name)
        )

    def _burn_key_digest(self, op: Operation) -> None:
        args = dict(op.args) if isinstance(op.args, dict) else {}
        if "digest" not in args:
            raise _err(op, "the key's digest was not computed")
        args["data"] = args["digest"]
        if args.get("caveat"):
            self.out.warnings.append(PlanWarning(str(args["caveat"]), op.origin))
        if self.chip.family == "esp32":
            if self.image.coding(1) == CODING_34:
                raise _err(op, "burn_key_digest needs the NONE coding scheme on ESP32", cls=PlanError)
            args.setdefault("block", "BLOCK2")
            args["read_protect"] = False
            self._burn_key(Operation("burn_key", args, op.label or op.kind, op.location))
            return
        if not args.get("purpose") and self.chip.purposes_by_target:
            # Chip quirk (ESP32-C2): one digest purpose, one place for it.
            args["purpose"] = next(kp.name for kp in self.chip.key_purposes if kp.digest)
        if not args.get("purpose"):
            raise _err(op, "burn_key_digest needs `purpose:` (SECURE_BOOT_DIGEST0/1/2)")
        kp = self._purpose(op, args["purpose"])
        if not kp.digest:
            raise _err(op, f"{kp.name} is not a secure boot digest purpose")
        self._burn_key(Operation("burn_key", args, op.label or op.kind, op.location))

    def _refuse_placeholder(self, op: Operation, args: dict, data: bytes, where: str) -> None:
        """A key given as `data:` or `file:` whose bytes are all equal is a placeholder (docs/keys.md).

        A secure-boot digest computed from a public key PEM is not a key the user typed,
        so it is not checked.
        """
        if "digest" in args:
            return
        from fusebook.keys.files import refuse_placeholder

        try:
            refuse_placeholder(data, f"the key for {where}", op.location)
        except InputError as e:
            raise _err(op, e.message, hint=e.hint) from None

    def _claim(self, op: Operation, where: str, ask: tuple[str, bytes, bool, bool]) -> bool:
        """Record that `op` burns key `ask` (purpose, bytes, protections) into `where`.

        True if an earlier step asks for exactly the same (this one adds nothing). Any
        difference is a conflict naming both steps: protection requests are or-ed bits, so
        without this one step's `read_protect: false` would silently lose to another's default.
        """
        earlier = self.key_claims.get(where)
        if earlier is None:
            self.key_claims[where] = (ask, op)
            return False
        theirs, other = earlier
        if theirs == ask:
            return True
        what = [n for n, a, b in zip(("purpose", "key", "read_protect", "write_protect"), theirs, ask,
                                     strict=True) if a != b]
        raise PlanError(
            f"steps '{other.origin.step}' and '{op.origin.step}' both burn a key into {where}, "
            f"with a different {' and '.join(what)}",
            location=other.location,
            related=tuple(x for x in (op.location,) if x is not None),
            hint="keep one of them, or guard them with `when:` so only one applies",
        )

    @staticmethod
    def _protections(kp: KeyPurpose, args: dict) -> tuple[bool, bool]:
        """(read_protect, write_protect) a key step asks for, defaults as espefuse."""
        return kp.read_protect and bool(args.get("read_protect", True)), bool(args.get("write_protect", True))

    def _purpose(self, op: Operation, name: Any):
        try:
            return self.chip.key_purpose(str(name))
        except InputError as e:
            raise _wrap(op, e) from None

    def _burn_key(self, op: Operation) -> None:
        args = op.args if isinstance(op.args, dict) else {}
        if self.chip.family == "esp32":
            self._burn_key_esp32(op, args)
            return
        if self.chip.purposes_by_target:
            self._burn_key_by_target(op, args)
            return
        blk = self.block(op, args.get("block"))
        if not blk.key_purpose_field:
            keys = ", ".join(b.name for b in self.chip.key_blocks)
            raise _err(op, f"{blk.name} is not a key block", hint=f"key blocks: {keys}")
        if not args.get("purpose"):
            raise _err(op, "burn_key needs `purpose:`")
        purpose = str(args["purpose"])
        data = self._data_of(op, args, "burn_key")
        kfield = self.chip.block_field(blk)
        nbytes = (kfield.bits // 8) if kfield else blk.words * 4
        if purpose in SPLIT_PURPOSES:
            first, second = SPLIT_PURPOSES[purpose]
            if len(data) != 2 * nbytes:
                raise _err(op, f"{purpose} takes {2 * nbytes} bytes of key, got {len(data)}")
            half = (first, data[:nbytes], *self._protections(self._purpose(op, first), args))
            if self.key_claims.get(blk.name, (None, op))[0] == half:
                return  # the same key as an earlier step: its two blocks are planned already
            kp2 = self._purpose(op, second)
            stored = data[nbytes:][::-1] if kp2.reverse else data[nbytes:]
            other = self._holding(second) or self._next_free_key_block(
                op, blk, int.from_bytes(stored, "little"))
            self._one_key(op, blk, first, data[:nbytes], args)
            self._one_key(op, other, second, data[nbytes:], args)
            return
        if len(data) != nbytes:
            raise _err(op, f"{blk.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                       hint=_size_hint(data, nbytes))
        self._one_key(op, blk, purpose, data, args)

    def _holding(self, purpose: str) -> BlockDef | None:
        """The key block already holding `purpose`, so a re-run finds its earlier half."""
        value = self.chip.key_purpose(purpose).value
        for b in self.chip.key_blocks:
            if b.id not in self.key_blocks_used and self.raw(b.key_purpose_field or "") == value:
                return b
        return None

    def _next_free_key_block(self, op: Operation, blk: BlockDef, stored: int) -> BlockDef:
        """The block for a two-block key's second half.

        Blocks are programmed highest first, so a burn stopped after the second half's data
        (and before BLOCK0's purposes) leaves it in a block with no purpose yet: a re-run
        must find it there, not take the next empty block.
        """
        keys = list(self.chip.key_blocks)
        start = keys.index(blk)
        candidates = []
        for cand in keys[start + 1 :] + keys[:start]:
            if cand.id in self.key_blocks_used or cand.id == blk.id:
                continue
            pf = self.chip.field(cand.key_purpose_field or "")
            if (
                self.image.block_readable(cand)
                and self.image.block_writeable(cand)
                and self.raw(pf.name) == 0
                and self.image.field_writeable(pf)
            ):
                candidates.append(cand)
        for content in (stored, 0):
            for cand in candidates:
                if self.image.blocks[cand.id] == content:
                    return cand
        raise _err(op, "this key takes two free key blocks; only one is free", cls=PlanError)

    def _one_key(self, op: Operation, blk: BlockDef, purpose: str, data: bytes, args: dict) -> None:
        kp = self._purpose(op, purpose)
        if kp.value < 0:
            raise _err(op, f"{purpose} is not a purpose a key block can hold")
        pf = self.chip.field(blk.key_purpose_field or "")
        self._check_purpose_quirks(op, pf, kp.value)
        self._refuse_placeholder(op, args, data, blk.name)
        read_protect, write_protect = self._protections(kp, args)
        if self._claim(op, blk.name, (kp.name, data, read_protect, write_protect)):
            return
        secret = Secret(data)
        self.out.key_fingerprints[blk.name] = secret.fingerprint
        self.key_blocks_used.add(blk.id)
        if kp.reverse:
            data = data[::-1]

        current_purpose = self.raw(pf.name)
        if not self.image.block_readable(blk):
            # Content cannot be compared: accept only if everything visible matches.
            if (
                current_purpose == kp.value
                and (not write_protect or not self.image.block_writeable(blk))
            ):
                self.out.skipped.append(blk.name)
                self.out.warnings.append(
                    PlanWarning(
                        f"{blk.name} is already burned with purpose {kp.name} and is read-protected: "
                        "skipped, content unverifiable",
                        op.origin,
                    )
                )
                return
            raise _err(
                op,
                f"{blk.name} is read-protected and holds purpose "
                f"{self.chip.key_purpose_name(current_purpose)} (wanted {kp.name}) or other protections",
                hint="a read-protected key block can never be changed; use another block",
                cls=PlanError,
            )
        self.out.requests.append(
            Request(blk.id, (1 << (8 * len(data))) - 1, int.from_bytes(data, "little"), True,
                    blk.name, op.origin, not kp.digest, guard=blk.name)  # a digest is public
        )
        if current_purpose != kp.value:
            if not self.image.field_writeable(pf):
                raise _err(
                    op,
                    f"{pf.name} is write-protected and holds "
                    f"{self.chip.key_purpose_name(current_purpose)}; cannot set {kp.name}",
                    cls=PlanError,
                )
            self.set_field(op, pf, kp.value)
            lock_purpose = True
        else:
            lock_purpose = self.image.field_writeable(pf)
        if lock_purpose and pf.wr_dis is not None:
            self.wr_dis(op, pf.wr_dis)
        self._purpose_extras(op, kp)
        if read_protect and blk.rd_dis:
            self.rd_dis(op, blk.rd_dis)
        if write_protect and blk.wr_dis is not None:
            self.wr_dis(op, blk.wr_dis)

    def _purpose_extras(self, op: Operation, kp: KeyPurpose) -> None:
        """Fields a key purpose burns along with its key (chip data `sets`)."""
        for name, value in kp.sets.items():
            if self.chip.has_field(name):
                self.set_field(op, self.chip.field(name), value)

    def _burn_key_by_target(self, op: Operation, args: dict) -> None:
        """Chip quirk (ESP32-C2): no KEY_PURPOSE fields; the purpose names where the key goes.

        XTS_AES_128_KEY takes all of BLOCK_KEY0 (and burns XTS_KEY_LENGTH_256),
        XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS its low 128 bits, SECURE_BOOT_DIGEST its
        high 128 bits (the first 16 bytes of a 32-byte digest), as espefuse does.
        """
        if not args.get("purpose"):
            names = ", ".join(kp.name for kp in self.chip.key_purposes)
            raise _err(op, "burn_key needs `purpose:`", hint=f"one of: {names}")
        kp = self._purpose(op, args["purpose"])
        if not kp.target:
            raise _err(op, f"{kp.name} is not a purpose a key can be burned with")
        target = self.chip.field(kp.target)
        if args.get("block") is not None:
            blk = self.block(op, args["block"])
            if blk.id != target.block:
                raise _err(op, f"{kp.name} keys go to {self.chip.blocks[target.block].name}, "
                               f"not {blk.name}")
        data = self._data_of(op, args, "burn_key")
        nbytes = target.bits // 8
        if kp.digest_bytes and len(data) == 32 and nbytes == kp.digest_bytes:
            data = data[: kp.digest_bytes]
        if len(data) != nbytes:
            raise _err(op, f"{kp.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                       hint=_size_hint(data, nbytes))
        self._refuse_placeholder(op, args, data, target.name)
        read_protect, write_protect = self._protections(kp, args)
        if self._claim(op, target.name, (kp.name, data, read_protect, write_protect)):
            return
        self.out.key_fingerprints[target.name] = Secret(data).fingerprint
        if kp.reverse:
            data = data[::-1]
        if not self.image.field_readable(target):
            rd_on = all((self.image.rd_dis >> b) & 1 for b in target.rd_dis)
            if read_protect and rd_on and (not write_protect or not self.image.field_writeable(target)):
                self.out.skipped.append(target.name)
                self.out.warnings.append(PlanWarning(
                    f"{target.name} is already read-protected: skipped, content unverifiable",
                    op.origin))
                return
            raise _err(op, f"{target.name} is read-protected; its content cannot be changed",
                       cls=PlanError)
        self.out.requests.append(
            Request(target.block, target.mask, target.spread(int.from_bytes(data, "little")), True,
                    target.name, op.origin, not kp.digest, guard=target.name)  # a digest is public
        )
        self._purpose_extras(op, kp)
        if read_protect and target.rd_dis:
            self.rd_dis(op, target.rd_dis)
        if write_protect and target.wr_dis is not None:
            self.wr_dis(op, target.wr_dis)

    def _requested_or_burned(self, name: str) -> bool:
        f = self.chip.field(name)
        if f.gather(self.image.blocks[f.block]):
            return True
        return any(r.block == f.block and r.value & f.mask for r in self.out.requests)

    def _check_target_stays_readable(self, op: Operation, name: str) -> None:
        """Chip quirk (ESP32-C2), as espefuse: a secure boot digest must stay readable.

        Read-protecting all of BLOCK_KEY0 is allowed only for a 256-bit flash key
        (XTS_KEY_LENGTH_256 set); once SECURE_BOOT_EN is set the digest half must stay
        readable as well.
        """
        f = self.chip.field(name) if self.chip.has_field(name) else self.chip.block_field(self.chip.block(name))
        if f is None:
            return
        for kp in self.chip.key_purposes:
            if not kp.digest or not kp.target:
                continue
            digest = self.chip.field(kp.target)
            if digest.block != f.block or not digest.mask & f.mask:
                continue
            whole = next((k for k in self.chip.key_purposes if k.target == f.name and k.sets), None)
            if whole is not None and not all(self._requested_or_burned(n) for n in whole.sets):
                raise _err(op, f"{f.name} holds the secure boot digest in {digest.name}, which must "
                               "stay readable", cls=PlanError,
                           hint="read-protect only the half that holds a key")
            if self.chip.has_field("SECURE_BOOT_EN") and self._requested_or_burned("SECURE_BOOT_EN"):
                raise _err(op, f"secure boot is on: {digest.name} must stay readable", cls=PlanError)

    def _burn_key_esp32(self, op: Operation, args: dict) -> None:
        name = str(args.get("block", ""))
        blk = self.block(op, name)
        if blk.id == 0:
            raise _err(op, "BLOCK0 is not a key block", hint="key blocks: BLOCK1, BLOCK2, BLOCK3")
        data = self._data_of(op, args, "burn_key")
        nbytes = self.image.data_bytes(blk)
        if len(data) != nbytes:
            raise _err(op, f"{blk.name} takes a {nbytes}-byte key, got {len(data)} bytes",
                       hint=_size_hint(data, nbytes))
        self._refuse_placeholder(op, args, data, blk.name)
        read_protect = bool(args.get("read_protect", name in ("flash_encryption", "secure_boot_v1")))
        write_protect = bool(args.get("write_protect", True))
        if self._claim(op, blk.name, (name, data, read_protect, write_protect)):
            return
        secret = Secret(data)
        self.out.key_fingerprints[blk.name] = secret.fingerprint
        if name in ("flash_encryption", "secure_boot_v1"):
            data = data[::-1]
        if not self.image.block_readable(blk):
            if not write_protect or not self.image.block_writeable(blk):
                self.out.skipped.append(blk.name)
                self.out.warnings.append(
                    PlanWarning(f"{blk.name} is already read-protected: skipped, content unverifiable",
                                op.origin)
                )
                return
            raise _err(op, f"{blk.name} is read-protected; its content cannot be changed",
                       cls=PlanError)
        self.out.requests.append(
            Request(blk.id, (1 << (8 * len(data))) - 1, int.from_bytes(data, "little"), True,
                    blk.name, op.origin, "digest" not in args, guard=blk.name)  # a digest is public
        )
        if read_protect and blk.rd_dis:
            self.rd_dis(op, blk.rd_dis)
        if write_protect and blk.wr_dis is not None:
            self.wr_dis(op, blk.wr_dis)

    def _protect_targets(self, op: Operation) -> list[str]:
        names = op.args
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, list) or not names:
            raise _err(op, f"{op.kind} takes a list of field or block names")
        return [str(n) for n in names]

    def _bits_for(self, op: Operation, name: str, which: str) -> tuple[int | None, tuple[int, ...], str]:
        if self.chip.has_field(name):
            f = self.chip.field(name)
            return f.wr_dis, f.rd_dis, f.name
        if self.chip.has_block(name):
            b = self.chip.block(name)
            return b.wr_dis, b.rd_dis, b.name
        self.field(op, name)  # raises with did-you-mean
        raise AssertionError

    def _write_protect_efuse(self, op: Operation) -> None:
        for name in self._protect_targets(op):
            wr, _, canonical = self._bits_for(op, name, "write")
            if wr is None:
                raise _err(op, f"{canonical} has no write-disable bit")
            sharing = sorted(
                {f.name for f in self.chip.fields if f.wr_dis == wr}
                | {b.name for b in self.chip.blocks if b.wr_dis == wr}
            )
            if len(sharing) > 1:
                self.out.warnings.append(
                    PlanWarning(
                        f"WR_DIS bit {wr} protects {canonical} together with: "
                        + ", ".join(n for n in sharing if n != canonical),
                        op.origin,
                    )
                )
            self.wr_dis(op, wr)

    def _read_protect_efuse(self, op: Operation) -> None:
        for name in self._protect_targets(op):
            _, rd, canonical = self._bits_for(op, name, "read")
            if not rd:
                raise _err(op, f"{canonical} has no read-disable bit")
            if self.chip.purposes_by_target:
                self._check_target_stays_readable(op, canonical)
            if self.chip.has_block(name):
                blk = self.chip.block(name)
                if blk.key_purpose_field and self.chip.has_field(blk.key_purpose_field):
                    raw = self.raw(blk.key_purpose_field)
                    kp_name = self.chip.key_purpose_name(raw)
                    kps = [k for k in self.chip.key_purposes if k.value == raw]
                    if kps and not kps[0].read_protect:
                        raise _err(
                            op,
                            f"{canonical} holds a {kp_name} key, which must stay readable",
                            cls=PlanError,
                        )
                if self.chip.family == "esp32" and blk.id == 2:
                    if self.image.raw("ABS_DONE_1"):
                        raise _err(op, "secure boot v2 is on: BLOCK2 must stay readable",
                                   cls=PlanError)
                    self.out.warnings.append(
                        PlanWarning("if BLOCK2 holds a secure boot v2 digest it must stay readable",
                                    op.origin)
                    )
            self.rd_dis(op, rd)

    def _set_flash_voltage(self, op: Operation) -> None:
        voltage = str(op.args).upper()
        if voltage not in ("1.8V", "3.3V", "OFF"):
            raise _err(op, f"flash voltage {op.args!r} is not one of 1.8V, 3.3V, OFF")
        for force, reg, tieh in FLASH_VOLTAGE_FIELDS:
            if self.chip.has_field(force) and self.chip.has_field(reg) and self.chip.has_field(tieh):
                break
        else:
            raise _err(op, f"{self.chip.description} has no flash voltage regulator eFuses")
        if voltage == "OFF" and self.image.raw(reg):
            raise _err(op, f"cannot turn the regulator OFF: {reg} is already burned", cls=PlanError)
        if voltage == "1.8V" and self.image.raw(tieh):
            raise _err(op, f"cannot set 1.8V: {tieh} is already burned", cls=PlanError)
        self.set_field(op, self.chip.field(force), 1)
        if voltage != "OFF":
            self.set_field(op, self.chip.field(reg), 1)
        if voltage == "3.3V":
            self.set_field(op, self.chip.field(tieh), 1)


def bit_of(chip: ChipDef, field_name: str, bit: int) -> int:
    """The block-integer mask of bit `bit` inside field `field_name`."""
    return 1 << (chip.field(field_name).start + bit)


def compile_operations(chip: ChipDef, image: EfuseImage, ops: list[Operation]) -> Compiled:
    """All requests of `ops` against `image` (errors carry the step's location)."""
    c = _Compiler(chip, image)
    for op in ops:
        c.compile(op)
    _check_incompatible(chip, image, c.out)
    return c.out


def _check_incompatible(chip: ChipDef, image: EfuseImage, compiled: Compiled) -> None:
    """Chip quirk: refuse plans that would set every field of an incompatible group."""
    for group in chip.incompatible:
        asked: dict[str, Request] = {}
        for name in group:
            f = chip.field(name)
            if f.gather(image.blocks[f.block]):
                continue
            req = next((r for r in compiled.requests
                        if r.block == f.block and r.value & f.mask), None)
            if req is None:
                break
            asked[name] = req
        else:
            if asked:
                first = next(iter(asked.values()))
                raise PlanError(
                    f"{' and '.join(group)} cannot all be set on {chip.description} "
                    "(the ROM bootloader fails with them together)",
                    location=first.origin.location,
                    hint="burn only one of them",
                )


def _size_hint(data: bytes, nbytes: int) -> str:
    from fusebook.keys.files import size_hint

    return size_hint(data, (nbytes,))
