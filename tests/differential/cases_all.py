"""Burns for every chip espefuse knows, expressed once as fusebook recipe steps.

Each case lists the steps a recipe's `steps:` holds after rendering. `espefuse_actions`
turns the same steps into calls of espefuse's batch API, one call per step, so both
tools burn from one description (what differs between them is the code under test, not
the case). Cases are built from each chip's facts: BLOCK0 fields, the custom MAC,
user data with and without an offset, single bits, every key purpose the chip accepts
(two-block purposes included), read/write protection and the flash voltage.

ECDSA purposes take a PEM private key. A step may therefore carry `_pem`: espefuse gets
the PEM, and fusebook's recipe (tests/api_burn.py) a key file holding it, in place of
the raw scalar in `data`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef

ALL_CHIPS = chip_names()

#: Field classes espefuse converts to physical units or computes; never burned here.
_SKIP_CLASSES = {"vref", "adc_tp", "t_sensor", "spipin", "wafer", "pkg", "mac", "keyblock"}


@dataclass(frozen=True)
class ChipCase:
    id: str
    chip: str
    steps: list[dict[str, Any]]
    #: espefuse calls run in a separate batch before the case, on both tools' file.
    setup: Callable[[Any], None] | None = None
    #: the setup as fusebook steps (for documentation and fusebook-only reuse)
    setup_steps: list[dict[str, Any]] = field(default_factory=list)
    #: chip revision (major*100+minor) to give the virtual chip before anything else.
    revision: int | None = None
    marks: tuple[Any, ...] = field(default=())


def key_bytes(seed: int, n: int = 32) -> bytes:
    """Distinct, recognisable key material per block (never all zero)."""
    return bytes(((seed * 53 + i * 7) % 251) + 1 for i in range(n))


# -- ECDSA keys: PEM for espefuse, raw scalar (padded as espefuse pads it) for fusebook --
_CURVES = {"P192": (ec.SECP192R1(), 24), "P256": (ec.SECP256R1(), 32), "P384": (ec.SECP384R1(), 48)}


@cache
def ecdsa_key(curve: str, seed: int) -> tuple[bytes, bytes]:
    """(PEM, raw bytes as burned before reversal) for a deterministic test key."""
    crv, size = _CURVES[curve]
    value = int.from_bytes(key_bytes(seed, size), "big") % (2 ** (8 * size - 2)) + 1
    sk = ec.derive_private_key(value, crv)
    pem = sk.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    raw = value.to_bytes(size, "big")
    if curve == "P192":
        raw = b"\0" * 8 + raw
    elif curve == "P384":
        raw = b"\0" * 16 + raw
    return pem, raw


_ECDSA_CURVE = {"ECDSA_KEY": "P256", "ECDSA_KEY_P256": "P256", "ECDSA_KEY_P192": "P192",
                "ECDSA_KEY_P384": "P384"}
_TWO_BLOCK = ("XTS_AES_256_KEY", "XTS_AES_256_PSRAM_KEY", "ECDSA_KEY_P384")


# -- espefuse side -----------------------------------------------------------------------
def espefuse_actions(chip: ChipDef, steps: list[dict[str, Any]]) -> Callable[[Any], None]:
    """The espefuse batch calls that burn the same as `steps`."""

    def run(e: Any) -> None:
        for step in steps:
            for kind, args in step.items():
                _espefuse_step(chip, e, kind, args)

    return run


def _espefuse_step(chip: ChipDef, e: Any, kind: str, args: Any) -> None:
    if kind == "burn_efuse":
        # espefuse's combined fields take numbers; everything else the CLI's strings
        e.burn_efuse({k: v if chip.field(k).parts else str(v) for k, v in args.items()})
    elif kind == "burn_custom_mac":
        e.burn_custom_mac(bytes.fromhex(args.replace(":", "")))
    elif kind == "burn_block_data":
        e.burn_block_data([args["block"]], [io.BytesIO(bytes.fromhex(args["data"]))],
                          offset=args.get("offset", 0))
    elif kind == "burn_bit":
        e.burn_bit(args["block"], args["bits"])
    elif kind == "write_protect_efuse":
        e.write_protect_efuse(args)
    elif kind == "read_protect_efuse":
        e.read_protect_efuse(args)
    elif kind == "set_flash_voltage":
        e.set_flash_voltage(args)
    elif kind == "burn_key":
        data = args["_pem"] if "_pem" in args else bytes.fromhex(args["data"])
        if chip.family == "esp32":
            e.burn_key([args["block"]], [io.BytesIO(data)],
                       no_protect_key=not args.get("write_protect", True))
            return
        e.burn_key([args.get("block", "BLOCK_KEY0")], [io.BytesIO(data)], [args["purpose"]],
                   no_write_protect=not args.get("write_protect", True),
                   no_read_protect=not args.get("read_protect", True))
    else:  # pragma: no cover - a case-table typo
        raise AssertionError(kind)


# -- case building ---------------------------------------------------------------------
def _block0_fields(chip: ChipDef, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    skip = {"WR_DIS", "RD_DIS", *chip.postponed}
    for group in chip.incompatible:
        skip.update(group[1:])  # fields that must not all be set (ESP32-S3's USB JTAG pair)
    for f in chip.fields_in_block(0):
        if not f.burnable or f.name in skip or f.klass in _SKIP_CLASSES or f.parts:
            continue
        if kind == "bool" and f.type == "bool":
            out[f.name] = 1
        elif kind == "uint" and f.type == "uint" and f.klass in ("", "bitcount"):
            out[f.name] = 1 if f.klass == "bitcount" else (1 << f.bits) - 1
    return out


def _data_blocks(chip: ChipDef) -> tuple[str, str, str]:
    """(user block, a second data block, a block for single bits) of the chip."""
    if chip.name == "esp32":
        return "BLOCK3", "BLOCK2", "BLOCK1"
    if chip.name == "esp32c2":
        return "BLOCK2", "BLOCK_KEY0", "BLOCK1"
    last_key = chip.key_blocks[-1].name
    return "BLOCK_USR_DATA", last_key, "BLOCK_SYS_DATA2"


def _purposes(chip: ChipDef) -> list[str]:
    """Every purpose burn_key accepts on the chip (custom ones sampled)."""
    names = []
    width = chip.field(chip.key_blocks[0].key_purpose_field or "").bits
    customs = [kp.name for kp in chip.key_purposes if kp.name.startswith("CUSTOM_")]
    sampled = set(customs[:2] + customs[-2:])
    for kp in chip.key_purposes:
        if kp.name.startswith("CUSTOM_") and kp.name not in sampled:
            continue
        if kp.value < 0 and kp.name not in _TWO_BLOCK:
            continue
        if kp.value >> width:
            continue  # not on this revision (ESP32-P4 before v3.0 has 4-bit purposes)
        names.append(kp.name)
    return names


def _key_step(chip: ChipDef, block: str, purpose: str, seed: int, **protect: bool) -> dict[str, Any]:
    args: dict[str, Any] = {"block": block, "purpose": purpose, **protect}
    curve = _ECDSA_CURVE.get(purpose)
    if curve:
        pem, raw = ecdsa_key(curve, seed)
        args["data"], args["_pem"] = raw.hex(), pem
    else:
        args["data"] = key_bytes(seed, 64 if purpose in _TWO_BLOCK else 32).hex()
    return {"burn_key": args}


def _key_cases(chip: ChipDef) -> list[ChipCase]:
    """Every purpose, packed into as few blank chips as the key blocks allow."""
    keys = [b for b in chip.key_blocks]
    pending = _purposes(chip)
    cases: list[ChipCase] = []
    n = 0
    while pending:
        free = list(keys)
        steps: list[dict[str, Any]] = []
        for purpose in list(pending):
            need = 2 if purpose in _TWO_BLOCK else 1
            if len(free) < need:
                continue
            # the first block must not be one an erratum forbids for this purpose; the
            # second half of a two-block key goes to the next free block, as espefuse picks.
            allowed = [b for b in free if not chip.purpose_forbidden(b.key_purpose_field or "", purpose)]
            if not allowed:
                continue
            blk = allowed[0]
            if need == 2:
                idx = free.index(blk)
                later = free[idx + 1:]
                if not later:
                    continue
                second = later[0]
                half2 = {"XTS_AES_256_KEY": "XTS_AES_256_KEY_2",
                         "XTS_AES_256_PSRAM_KEY": "XTS_AES_256_PSRAM_KEY_2",
                         "ECDSA_KEY_P384": "ECDSA_KEY_P384_L"}[purpose]
                if chip.purpose_forbidden(second.key_purpose_field or "", half2):
                    continue
                free.remove(second)
            free.remove(blk)
            n += 1
            steps.append(_key_step(chip, blk.name, purpose, n))
            pending.remove(purpose)
        assert steps, f"{chip.name}: cannot place {pending}"
        cases.append(ChipCase(f"{chip.name}-keys-{len(cases) + 1}", chip.name, steps))
    return cases


def _protect_case(chip: ChipDef) -> ChipCase:
    wp = [f.name for f in chip.fields_in_block(0)
          if f.wr_dis is not None and f.name not in ("RD_DIS",) and f.burnable][:3]
    steps: list[dict[str, Any]] = [{"write_protect_efuse": wp}]
    setup: list[dict[str, Any]] = []
    # espefuse read-protects by field name: blocks without a field of their name are fusebook-only
    rd_blocks = [b.name for b in chip.blocks
                 if b.rd_dis and not b.key_purpose_field and chip.has_field(b.name)]
    if chip.name == "esp32c2":
        # BLOCK_KEY0 may be read-protected once it holds a 256-bit flash key (espefuse's rule)
        steps.insert(0, {"burn_efuse": {"XTS_KEY_LENGTH_256": 1}})
        steps.append({"read_protect_efuse": ["BLOCK_KEY0_LOW_128"]})
    elif rd_blocks:
        steps.append({"read_protect_efuse": [rd_blocks[-1]]})
    if chip.key_blocks:
        # a key block whose purpose needs read protection may be read-protected later
        kb = chip.key_blocks[0]
        purpose = next(kp.name for kp in chip.key_purposes
                       if kp.read_protect and kp.value > 0 and not kp.reverse) if any(
            kp.read_protect and kp.value > 0 and not kp.reverse for kp in chip.key_purposes
        ) else "XTS_AES_128_KEY"
        setup.append(_key_step(chip, kb.name, purpose, 90, read_protect=False, write_protect=False))
        steps.append({"read_protect_efuse": [kb.name]})
    return ChipCase(f"{chip.name}-protect", chip.name, steps,
                    setup=espefuse_actions(chip, setup) if setup else None, setup_steps=setup)


def cases_for(name: str) -> list[ChipCase]:
    chip = load_chip(name)
    usr, second, bits_block = _data_blocks(chip)
    cases = [
        ChipCase(f"{name}-block0-bools", name, [{"burn_efuse": _block0_fields(chip, "bool")}]),
        ChipCase(f"{name}-block0-uints", name, [{"burn_efuse": _block0_fields(chip, "uint")}]),
    ]
    first: list[dict[str, Any]] = []
    if chip.has_field("CUSTOM_MAC"):
        first.append({"burn_custom_mac": "02:11:22:33:44:5e"})
    first.append({"burn_block_data": {"block": usr, "offset": 8, "data": key_bytes(70, 8).hex()}})
    cases.append(ChipCase(f"{name}-mac-and-user-data", name, first))
    cases.append(ChipCase(f"{name}-block-data-and-bits", name, [
        {"burn_block_data": {"block": second, "data": key_bytes(71, 32).hex()}},
        {"burn_bit": {"block": bits_block, "bits": [0, 1, 17, 63, 95]}},
    ]))
    if chip.key_blocks:
        cases.extend(_key_cases(chip))
        cases.append(ChipCase(f"{name}-key-unprotected", name, [
            _key_step(chip, chip.key_blocks[0].name if chip.key_blocks else "BLOCK_KEY0",
                      "XTS_AES_128_KEY", 80, read_protect=False, write_protect=False),
        ]))
    cases.append(_protect_case(chip))
    if any(chip.has_field(f) for f in ("XPD_SDIO_FORCE", "VDD_SPI_FORCE")):
        for v in ("1.8V", "3.3V", "OFF"):
            cases.append(ChipCase(f"{name}-flash-voltage-{v}", name, [{"set_flash_voltage": v}]))
    return cases




def _c2_key_cases() -> list[ChipCase]:
    """ESP32-C2: one key block, the purpose picks which part of it the key takes."""
    c = "esp32c2"
    return [
        ChipCase("esp32c2-key-xts-256-bits", c, [
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": key_bytes(1).hex()}},
        ]),
        ChipCase("esp32c2-key-derived-and-digest", c, steps=[
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS",
                          "data": key_bytes(2, 16).hex()}},
            # a 32-byte digest: espefuse keeps its first 16 bytes
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST",
                          "data": key_bytes(3, 32).hex()}},
        ]),
        ChipCase("esp32c2-key-digest-16", c, [
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "SECURE_BOOT_DIGEST",
                          "data": key_bytes(4, 16).hex()}},
        ]),
        ChipCase("esp32c2-key-user", c, [
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "USER", "data": key_bytes(5).hex()}},
        ]),
        ChipCase("esp32c2-key-unprotected", c, [
            {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS",
                          "data": key_bytes(6, 16).hex(), "read_protect": False, "write_protect": False}},
        ]),
    ]


def _esp32_cases() -> list[ChipCase]:
    c = "esp32"
    return [
        ChipCase("esp32-keys", c, [
            {"burn_key": {"block": "flash_encryption", "data": key_bytes(1).hex()}},
            {"burn_key": {"block": "secure_boot_v2", "data": key_bytes(2).hex()}},
            {"burn_key": {"block": "BLOCK3", "data": key_bytes(3).hex()}},
        ]),
        ChipCase("esp32-keys-34-coding", c, [
            {"burn_key": {"block": "flash_encryption", "data": key_bytes(4, 24).hex()}},
            {"burn_key": {"block": "secure_boot_v1", "data": key_bytes(5, 24).hex()}},
            {"burn_block_data": {"block": "BLOCK3", "offset": 6, "data": key_bytes(6, 6).hex()}},
        ], setup=lambda e: e.burn_efuse({"CODING_SCHEME": "1"})),
    ]


def _revision_cases() -> list[ChipCase]:
    """Chips whose eFuse table depends on the silicon revision."""
    out = [
        # ESP32-P4 v3.0: a new BLOCK0 layout, 5-bit key purposes (fifth bit in KEY_PURPOSE_n_H)
        ChipCase("esp32p4-v3-keys", "esp32p4", [
            _key_step(load_chip("esp32p4", 300), "BLOCK_KEY0", "ECDSA_KEY_P192", 11),
            _key_step(load_chip("esp32p4", 300), "BLOCK_KEY1", "ECDSA_KEY_P384", 12),
            _key_step(load_chip("esp32p4", 300), "BLOCK_KEY3", "XTS_AES_256_KEY", 13),
            _key_step(load_chip("esp32p4", 300), "BLOCK_KEY5", "HMAC_UP", 14),
        ], revision=300),
        ChipCase("esp32p4-v3-block0", "esp32p4", [
            # espefuse's burn_efuse cannot log purposes above 15 on v3.0: burn_key covers those
            {"burn_efuse": {"RECOVERY_BOOTLOADER_FLASH_SECTOR": 0xA5C, "KEY_PURPOSE_2": 8,
                            "DOWNLOAD_MODE_XPD_ON": 1, "KM_XTS_KEY_LENGTH_256": 1}},
            {"burn_custom_mac": "02:11:22:33:44:5e"},
        ], revision=300),
        # ESP32-H2 up to v1.1: an ECDSA key also forces the hardware k; from v1.2 it does not
        ChipCase("esp32h2-v0-ecdsa", "esp32h2", [
            _key_step(load_chip("esp32h2", 0), "BLOCK_KEY1", "ECDSA_KEY", 21)]),
        ChipCase("esp32h2-v1.2-ecdsa", "esp32h2", [
            _key_step(load_chip("esp32h2", 102), "BLOCK_KEY1", "ECDSA_KEY", 22)], revision=102),
        ChipCase("esp32h2-v1.1-ecdsa", "esp32h2", [
            _key_step(load_chip("esp32h2", 101), "BLOCK_KEY2", "ECDSA_KEY", 23)], revision=101),
    ]
    return out


EXTRA_CASES = _c2_key_cases() + _esp32_cases() + _revision_cases()

EXTRA_CASES.append(
    # ESP32-C5: fields espefuse shows as one value made of two runs of bits. (espefuse
    # drops bit 11 of RECOVERY_BOOTLOADER_FLASH_SECTOR when burning it; fusebook keeps
    # all 12 bits, so the shared case stays below 0x800.)
    ChipCase("esp32c5-combined-fields", "esp32c5", [
        {"burn_efuse": {"RECOVERY_BOOTLOADER_FLASH_SECTOR": 0x635, "BOOTLOADER_ANTI_ROLLBACK_SECURE_VERSION": 0xB}},
    ]),
)
