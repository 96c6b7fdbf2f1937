"""Generate fusebook's chip data files from Espressif's published eFuse tables.

The facts (register addresses, block layouts, field positions, key purposes) are
Espressif's, as published in ESP-IDF's eFuse tables and esptool's espefuse package; this
generator reads them from an installed `esptool==5.6.0` and writes them in fusebook's own
format, `fusebook/chips/data/<chip>.yaml`. Facts that espefuse keeps in code rather than in
tables (programming timings, revision bit layout, the BLOCK0 bits burned last) are listed
below as data. fusebook never imports this file; run it with `make chipdata`.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

OUT = Path(__file__).resolve().parent.parent / "fusebook" / "chips" / "data"

CHIPS = [
    "esp32", "esp32s2", "esp32s3", "esp32c2", "esp32c3", "esp32c5", "esp32c6",
    "esp32c61", "esp32h2", "esp32p4", "esp32h21", "esp32h4", "esp32s31", "esp32e22",
]

#: Revision tables that differ from a chip's default table: (variant file stem, revision
#: range it applies to). The loader picks the variant by the chip's revision. Each table
#: is read from espefuse as it loads for a virtual chip of that revision, so what a table
#: adds (ESP32-H2 up to v1.1: one BLOCK0 field on top of the current table) or replaces
#: (ESP32-P4 v3.0: a new BLOCK0 layout) comes out exactly as espefuse sees it.
VARIANTS = {
    "esp32h2": [("esp32h2_v0.0_v1.1", 0, 101)],
    "esp32p4": [("esp32p4_v3.0", 300, 9999)],
}

#: The revision whose table is a chip's default file (used when the revision is unknown):
#: the newest silicon. ESP32-P4's default stays the pre-v3.0 table espefuse itself picks
#: below v3.0; the v3.0 table is its variant.
DEFAULT_TABLE_REVISION = {"esp32h2": 102, "esp32p4": 0}

#: How software starts a program or read command, per controller family (the names are
#: registers and constants of the chip's own table): the ESP32's one program command burns
#: every block's WDATA registers; the later controller's names its block at bit 2 of CMD.
COMMANDS = {
    "esp32": {"register": "EFUSE_REG_CMD", "program": "EFUSE_CMD_WRITE", "read": "EFUSE_CMD_READ",
              "block_shift": None},
    "esp32xx": {"register": "EFUSE_CMD_REG", "program": "EFUSE_PGM_CMD", "read": "EFUSE_READ_CMD",
                "block_shift": 2},
}

#: Key blocks with no KEY_PURPOSE field to say what they hold (ESP32: flash encryption and
#: secure boot): always treated as secret.
SECRET_BLOCKS = {"esp32": ["BLOCK1", "BLOCK2"]}

#: The line after which a chip file is kept by hand (ROM link and Secure Boot facts); the
#: generator writes the part above it and carries the rest over unchanged.
HAND_KEPT = "# ---- kept by hand below this line; tools/gen_chip_data.py carries it over unchanged ----"
VARIANT_REVISION = {"esp32h2_v0.0_v1.1": 0, "esp32p4_v3.0": 300}

#: eFuse programming timings per crystal frequency (MHz), as (register, mask name, value)
#: settings applied before a program command. From the TRMs' "eFuse Controller" chapters
#: as espefuse applies them.
_COMMON_40 = [
    ("EFUSE_DAC_CONF_REG", "EFUSE_DAC_NUM_M", 0xFF),
    ("EFUSE_DAC_CONF_REG", "EFUSE_DAC_CLK_DIV_M", 0x28),
    ("EFUSE_WR_TIM_CONF1_REG", "EFUSE_PWR_ON_NUM_M", 0x3000),
    ("EFUSE_WR_TIM_CONF2_REG", "EFUSE_PWR_OFF_NUM_M", 0x190),
]
TIMING: dict[str, dict[int, list[tuple[str, str, int]]]] = {
    "esp32c3": {40: _COMMON_40},
    "esp32s3": {40: _COMMON_40},
    "esp32c6": {40: _COMMON_40},
    "esp32c61": {40: _COMMON_40},
    "esp32c5": {40: _COMMON_40, 48: _COMMON_40},
    "esp32h2": {32: _COMMON_40},
    # espefuse checks the crystal but keeps the controller's reset timings:
    "esp32p4": {40: []},
    "esp32h21": {32: []},
    "esp32h4": {32: []},
    "esp32c2": {
        40: _COMMON_40 + [("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_INACTIVE_M", 200)],
        26: _COMMON_40 + [("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_INACTIVE_M", 130)],
    },
    "esp32s2": {
        f: [
            ("EFUSE_WR_TIM_CONF1_REG", "EFUSE_TSUP_A_M", tsup),
            ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_M", tpgm),
            ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_THP_A_M", thp),
            ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_INACTIVE_M", tinact),
            ("EFUSE_DAC_CONF_REG", "EFUSE_DAC_CLK_DIV_M", div),
            ("EFUSE_WR_TIM_CONF1_REG", "EFUSE_PWR_ON_NUM_M", on),
            ("EFUSE_WR_TIM_CONF2_REG", "EFUSE_PWR_OFF_NUM_M", off),
            # read timing (espefuse leaves TSUR_A at its reset value)
            ("EFUSE_RD_TIM_CONF_REG", "EFUSE_TRD_M", trd),
            ("EFUSE_RD_TIM_CONF_REG", "EFUSE_THR_A_M", thr),
        ]
        for f, (tsup, tpgm, thp, tinact), (div, on, off), (trd, thr) in [
            (80, (0x2, 0x320, 0x2, 0x4), (0xA0, 0xA200, 0x100), (0x4, 0x2)),
            (40, (0x1, 0x190, 0x1, 0x2), (0x50, 0x5100, 0x80), (0x2, 0x1)),
            (20, (0x1, 0xC8, 0x1, 0x1), (0x28, 0x2880, 0x40), (0x1, 0x1)),
        ]
    },
    # ESP32: EFUSE_CLK_SETTINGS (clk_sel0, clk_sel1, dac_clk_div) per APB frequency.
    "esp32": {
        f: [
            ("EFUSE_DAC_CONF_REG", "EFUSE_DAC_CLK_DIV_MASK", div),
            ("EFUSE_CLK_REG", "EFUSE_CLK_SEL0_MASK", sel0),
            ("EFUSE_CLK_REG", "EFUSE_CLK_SEL1_MASK", sel1),
        ]
        for f, (sel0, sel1, div) in [(26, (250, 255, 52)), (40, (160, 255, 80)), (80, (80, 128, 100))]
    },
}

#: Chips whose eFuse programming needs no register set-up from the host: espefuse keeps
#: the controller's reset timings (ESP32-P4, -H21 and -H4 still require their crystal).
NO_TIMING = {"esp32p4", "esp32h21", "esp32h4", "esp32s31", "esp32e22"}

#: BLOCK0 fields burned in a final, separate program (espefuse's postponed list).
POSTPONED_ESP32 = ["WR_DIS", "RD_DIS", "UART_DOWNLOAD_DIS", "ABS_DONE_1", "FLASH_CRYPT_CNT"]
POSTPONED_OTHERS = ["WR_DIS", "RD_DIS", "ENABLE_SECURITY_DOWNLOAD", "DIS_DOWNLOAD_MODE",
                    "SPI_BOOT_CRYPT_CNT", "SECURE_BOOT_EN"]

#: Key purposes a KEY_PURPOSE field must never take (SOC_EFUSE_BLOCK9_KEY_PURPOSE_QUIRK:
#: a silicon erratum of BLOCK9 / BLOCK_KEY5), as prefixes of purpose names.
FORBIDDEN_PURPOSES = {
    "esp32c3": {"KEY_PURPOSE_5": ["XTS_AES"]},
    "esp32c6": {"KEY_PURPOSE_5": ["XTS_AES"]},
    "esp32s3": {"KEY_PURPOSE_5": ["XTS_AES"]},
    "esp32h4": {"KEY_PURPOSE_5": ["XTS_AES"]},
    "esp32h2": {"KEY_PURPOSE_5": ["XTS_AES_128_KEY", "ECDSA_KEY"]},
}

#: How the chip revision is assembled: (field, shift) parts of major and minor.
REVISION: dict[str, tuple[list[tuple[str, int]], list[tuple[str, int]]]] = {
    "esp32": ([("CHIP_VER_REV1", 0), ("CHIP_VER_REV2", 1)], [("WAFER_VERSION_MINOR", 0)]),
    "esp32s2": ([("WAFER_VERSION_MAJOR", 0)], [("WAFER_VERSION_MINOR_LO", 0), ("WAFER_VERSION_MINOR_HI", 3)]),
    "esp32s3": ([("WAFER_VERSION_MAJOR", 0)], [("WAFER_VERSION_MINOR_LO", 0), ("WAFER_VERSION_MINOR_HI", 3)]),
    "esp32c3": ([("WAFER_VERSION_MAJOR", 0)], [("WAFER_VERSION_MINOR_LO", 0), ("WAFER_VERSION_MINOR_HI", 3)]),
    "esp32p4": ([("WAFER_VERSION_MAJOR_LO", 0), ("WAFER_VERSION_MAJOR_HI", 2)], [("WAFER_VERSION_MINOR", 0)]),
    "esp32e22": ([], []),
}
DEFAULT_REVISION = ([("WAFER_VERSION_MAJOR", 0)], [("WAFER_VERSION_MINOR", 0)])


#: Key purposes' burn rules beyond espefuse's purpose table, per chip (or table stem).
#: ESP32-C2 has no KEY_PURPOSE field: the purpose says which part of BLOCK_KEY0 the key
#: takes, a 256-bit flash key also burns XTS_KEY_LENGTH_256, and a secure boot digest
#: keeps the first 16 bytes of the SHA-256 (espefuse/efuse/esp32c2/operations.py).
#: ESP32-H2 up to v1.1: an ECDSA key also forces the hardware k (ECDSA_FORCE_USE_HARDWARE_K).
KEY_PURPOSE_RULES: dict[str, dict[str, dict[str, Any]]] = {
    "esp32c2": {
        "USER": {"target": "BLOCK_KEY0"},
        "XTS_AES_128_KEY": {"target": "BLOCK_KEY0", "sets": {"XTS_KEY_LENGTH_256": 1}},
        "XTS_AES_128_KEY_DERIVED_FROM_128_EFUSE_BITS": {"target": "BLOCK_KEY0_LOW_128"},
        "SECURE_BOOT_DIGEST": {"target": "BLOCK_KEY0_HI_128", "digest_bytes": 16},
    },
    "esp32h2_v0.0_v1.1": {
        "ECDSA_KEY": {"sets": {"ECDSA_FORCE_USE_HARDWARE_K": 1}},
    },
}

#: Fields espefuse shows as one value made of several runs of bits of one block:
#: name -> (parts from least significant up, burnable, field whose attributes it keeps).
_P4_RECOVERY = [f"RECOVERY_BOOTLOADER_FLASH_SECTOR_{r}" for r in
                ("0_1", "2_2", "3_6", "7_7", "8_10", "11_11")]
COMPOSITES: dict[str, dict[str, tuple[list[str], bool, str | None]]] = {
    "esp32": {"PKG_VERSION": (["CHIP_PACKAGE", "CHIP_PACKAGE_4BIT"], False, None)},
    "esp32c3": {"WAFER_VERSION_MINOR": (["WAFER_VERSION_MINOR_LO", "WAFER_VERSION_MINOR_HI"], False, None)},
    "esp32s2": {"WAFER_VERSION_MINOR": (["WAFER_VERSION_MINOR_LO", "WAFER_VERSION_MINOR_HI"], False, None)},
    "esp32s3": {
        "WAFER_VERSION_MINOR": (["WAFER_VERSION_MINOR_LO", "WAFER_VERSION_MINOR_HI"], False, None),
        "PSRAM_CAPACITY": (["PSRAM_CAP", "PSRAM_CAP_3"], False, None),
    },
    "esp32c5": {
        "RECOVERY_BOOTLOADER_FLASH_SECTOR": (
            ["RECOVERY_BOOTLOADER_FLASH_SECTOR_LO", "RECOVERY_BOOTLOADER_FLASH_SECTOR_HI"], True, None),
        "BOOTLOADER_ANTI_ROLLBACK_SECURE_VERSION": (
            ["BOOTLOADER_ANTI_ROLLBACK_SECURE_VERSION_LO", "BOOTLOADER_ANTI_ROLLBACK_SECURE_VERSION_HI"],
            True, None),
    },
    "esp32p4": {
        "WAFER_VERSION_MAJOR": (["WAFER_VERSION_MAJOR_LO", "WAFER_VERSION_MAJOR_HI"], False, None),
        "RECOVERY_BOOTLOADER_FLASH_SECTOR": (_P4_RECOVERY, True, None),
        # v3.0: 5-bit key purposes whose fifth bit is KEY_PURPOSE_n_H
        **{f"KEY_PURPOSE_{i}": ([f"KEY_PURPOSE_{i}", f"KEY_PURPOSE_{i}_H"], True, f"KEY_PURPOSE_{i}")
           for i in range(6)},
    },
}

#: Fields that must never all be set, as espefuse's is_efuses_incompatible_for_burn says.
INCOMPATIBLE: dict[str, list[list[str]]] = {
    "esp32s3": [["DIS_USB_JTAG", "DIS_USB_SERIAL_JTAG"]],  # a ROM bootloader bug
}

#: Revision rules beyond (field, shift) parts. ESP32-S3 v0.0 chips with block version
#: v1.1 used the wafer-version bits for something else: such a chip reads as v0.0.
REVISION_QUIRKS: dict[str, dict[str, Any]] = {
    "esp32s3": {"zero_if": {"WAFER_VERSION_MINOR_LO": 0, "BLK_VERSION_MAJOR": 1,
                                  "BLK_VERSION_MINOR": 1}},
    # ESP32: CHIP_VER_REV1 (bit 0), CHIP_VER_REV2 (bit 1) and APB_CTL_DATE bit 31 (bit 2),
    # mapped as esptool's get_major_chip_version does: 0 -> v0, 1 -> v1, 3 -> v2, 7 -> v3.
    "esp32": {"registers": [{"register": "APB_CTL_DATE_ADDR", "shift": 31, "mask": "0x1", "major_shift": 2}],
              "major_map": {0: 0, 1: 1, 3: 2, 7: 3}},
}

#: Block error layouts espefuse's tables do not spell out per block. ESP32:
#: EFUSE_REG_DEC_STATUS bits 0..11 are the 3/4-coding warnings of the twelve 6-byte groups
#: of BLOCK1..3 (ESP32 TRM, eFuse chapter), four per block from BLOCK1 up.
ERROR_QUIRKS: dict[str, list[dict[str, Any]]] = {
    "esp32": [{}] + [{"fail_register": "EFUSE_REG_DEC_STATUS", "fail_mask": _hex_mask}
                     for _hex_mask in ("0xF", "0xF0", "0xF00")],
}


# -- facts the step kinds read (fusebook/steps/), from espefuse's per-chip operations ------------
#: Virtual key purposes whose key fills two key blocks: the purposes of its halves, first half first.
SPLIT_PURPOSES: dict[str, list[str]] = {
    "XTS_AES_256_KEY": ["XTS_AES_256_KEY_1", "XTS_AES_256_KEY_2"],
    "XTS_AES_256_PSRAM_KEY": ["XTS_AES_256_PSRAM_KEY_1", "XTS_AES_256_PSRAM_KEY_2"],
    "ECDSA_KEY_P384": ["ECDSA_KEY_P384_H", "ECDSA_KEY_P384_L"],
}
#: set_flash_voltage: the field that makes the eFuses (not the strapping pin) decide, the one that
#: turns the regulator on, and the one that selects 3.3V.
FLASH_VOLTAGE: dict[str, dict[str, str]] = {
    "esp32": {"force": "XPD_SDIO_FORCE", "regulator": "XPD_SDIO_REG", "tieh": "XPD_SDIO_TIEH"},
    "esp32s2": {"force": "VDD_SPI_FORCE", "regulator": "VDD_SPI_XPD", "tieh": "VDD_SPI_TIEH"},
    "esp32s3": {"force": "VDD_SPI_FORCE", "regulator": "VDD_SPI_XPD", "tieh": "VDD_SPI_TIEH"},
}
#: burn_custom_mac: what is burned beside CUSTOM_MAC. ESP32: the MAC's CRC-8 and its version
#: (MAC_VERSION, 0 or 1 before, 1 after); ESP32-C2: the flag that makes the ROM use it.
CUSTOM_MAC: dict[str, dict[str, Any]] = {
    "esp32": {"crc": "CUSTOM_MAC_CRC", "version": "MAC_VERSION", "version_value": 1},
    "esp32c2": {"used": "CUSTOM_MAC_USED"},
}
#: ESP32: no key purposes; a key block's name says what its key is for. The names whose keys are
#: burned byte-reversed and read-protected by default (burn_key).
KEY_BLOCK_NAMES: dict[str, dict[str, dict[str, bool]]] = {
    "esp32": {"flash_encryption": {"reverse": True, "read_protect": True},
              "secure_boot_v1": {"reverse": True, "read_protect": True}},
}
#: ESP32: the block a secure boot v2 digest goes to (burn_key_digest: not under 3/4 coding), and
#: the field that, once burned, means secure boot v2 is on (the digest must then stay readable).
DIGEST_BLOCK: dict[str, dict[str, str]] = {
    "esp32": {"block": "BLOCK2", "enabled_by": "ABS_DONE_1", "refused_coding": "3/4"},
}


#: Registers some chips name differently; the controller code uses the canonical name.
REGISTER_ALIASES = {"EFUSE_PGM_CHECK_VALUE0_REG": "EFUSE_CHECK_VALUE0_REG"}


def _hex(v: int) -> str:
    return f"0x{v:X}"


def _block_records(blocks_cls: Any, chip: str) -> list[dict[str, Any]]:
    out = []
    for t in blocks_cls.BLOCKS:
        b = blocks_cls.get(t)
        rd = b.read_disable_bit
        rd_list = [] if rd is None else (list(rd) if isinstance(rd, list) else [rd])
        if chip == "esp32":
            coding = "none" if b.id == 0 else "esp32"
        else:
            coding = "none" if b.id == 0 else "rs"
        out.append({
            "id": b.id, "name": b.name, "aliases": list(b.alias),
            "read_addr": _hex(b.rd_addr), "write_addr": _hex(b.wr_addr), "words": b.len,
            "wr_dis": b.write_disable_bit, "rd_dis": rd_list,
            "key_purpose_field": b.key_purpose, "coding": coding,
        })
    return out


def _field_records(efuses: Any) -> list[dict[str, Any]]:
    out = []
    for e in efuses.efuses:
        if e.word is None or e.pos is None:
            continue  # computed by espefuse, not stored bits
        t = e.efuse_type.split(":")[0]
        rd = e.read_disable_bit
        rd_list = [] if rd is None else (list(rd) if isinstance(rd, list) else [rd])
        rec: dict[str, Any] = {
            "name": e.name, "block": e.block, "word": e.word, "pos": e.pos, "bits": e.bit_len,
            "type": t,
        }
        if e.efuse_class:
            rec["class"] = e.efuse_class
        aliases = [a for a in e.alt_names if a]
        if aliases:
            rec["aliases"] = aliases
        if e.write_disable_bit is not None:
            rec["wr_dis"] = e.write_disable_bit
        if rd_list:
            rec["rd_dis"] = rd_list
        if e.dict_value:
            rec["meanings"] = {int(k): str(v) for k, v in e.dict_value.items()}
        if e.efuse_class in ("wafer", "pkg", "vref", "adc_tp", "t_sensor"):
            rec["burnable"] = e.efuse_class in ("adc_tp", "t_sensor")
        rec["category"] = e.category
        rec["description"] = str(e.description)
        out.append(rec)
    return out


def _key_purposes(chip: str, stem: str, fields_mod: Any) -> list[dict[str, Any]]:
    """Every key purpose of the chip's table, with the burn rules that go with it."""
    if not hasattr(fields_mod, "EfuseKeyPurposeField"):
        return []  # ESP32: keys go to blocks by name (flash_encryption, secure_boot_v1, ...)
    kps = fields_mod.EfuseKeyPurposeField.KEY_PURPOSES
    extra = KEY_PURPOSE_RULES.get(stem, KEY_PURPOSE_RULES.get(chip, {}))
    out = []
    for (n, v, d, r, p) in kps:
        rec: dict[str, Any] = {"name": n, "value": v, "digest": d == "DIGEST", "reverse": r == "Reverse",
                               "read_protect": p == "need_rd_protect"}
        rec.update(extra.get(n, {}))
        halves = SPLIT_PURPOSES.get(n)
        if halves and all(any(k[0] == h for k in kps) for h in halves):
            rec["split"] = halves
            rec = _one_line(rec)
        out.append(rec)
    return out


def _one_line(rec: dict[str, Any]) -> dict[str, Any]:
    """`rec` written on one line like its neighbours, though it holds a list."""
    from ruamel.yaml.comments import CommentedMap

    out = CommentedMap(rec)
    out.fa.set_flow_style()
    return out


def _registers(regs: Any) -> tuple[dict[str, str], dict[str, int]]:
    registers: dict[str, str] = {}
    constants: dict[str, int] = {}
    for name in dir(regs):
        if name.startswith("_") or not name.isupper():
            continue
        v = getattr(regs, name)
        if not isinstance(v, int) or isinstance(v, bool):
            continue
        if name.endswith("_REG") or name.startswith("DR_REG") or name.endswith("_ADDR") \
                or name.startswith("EFUSE_REG_"):
            registers[name] = _hex(v)
        else:
            constants[name] = v
    for name, canonical in REGISTER_ALIASES.items():
        if name in registers and canonical not in registers:
            registers[canonical] = registers[name]
    return registers, constants


def _reg_name(regs: Any, addr: int) -> str:
    for name in dir(regs):
        if name.isupper() and (name.endswith("_REG") or name.startswith("EFUSE_REG_")) \
                and getattr(regs, name) == addr:
            return name
    raise KeyError(hex(addr))


def _errors(regs: Any, nblocks: int) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    block0 = [_reg_name(regs, a) for a in getattr(regs, "BLOCK0_ERRORS", [])]
    all_errors = [_reg_name(regs, a) for a in getattr(regs, "ERRORS", [])]
    layouts: list[dict[str, Any]] = []
    fail = getattr(regs, "BLOCK_FAIL_BIT", None)
    nums = getattr(regs, "BLOCK_NUM_ERRORS", None)
    errs = getattr(regs, "BLOCK_ERRORS", None)
    for i in range(nblocks):
        rec: dict[str, Any] = {}
        if fail is not None and i < len(fail):
            reg, bit = fail[i]
            if bit is not None:
                rec.update(fail_register=_reg_name(regs, reg), fail_bit=bit)
        if nums is not None and i < len(nums):
            reg, mask, shift = nums[i]
            if mask is not None:
                rec.update(count_register=_reg_name(regs, reg), count_mask=mask, count_shift=shift)
        if errs is not None and i < len(errs):
            # newer chips: (register, err_num_mask, err_num_offs, fail_bit) per block
            reg, mask, shift, bit = errs[i]
            if mask is not None and bit is not None:
                rec.update(count_register=_reg_name(regs, reg), count_mask=mask,
                           count_shift=shift, fail_register=_reg_name(regs, reg), fail_bit=bit)
        layouts.append(rec)
    return block0, layouts, all_errors


def _rom_facts(chip: str) -> dict[str, Any]:
    from esptool import targets

    cls = targets.CHIP_DEFS[chip]
    facts: dict[str, Any] = {"chip_name": cls.CHIP_NAME}
    for attr, key in [("IMAGE_CHIP_ID", "chip_id"), ("CHIP_DETECT_MAGIC_VALUE", "magic_values"),
                      ("EFUSE_BASE", "efuse_base"), ("UART_DATE_REG_ADDR", "uart_date_reg"),
                      ("USES_MAGIC_VALUE", "uses_magic_value")]:
        if hasattr(cls, attr):
            v = getattr(cls, attr)
            if isinstance(v, list):
                facts[key] = [_hex(x) for x in v]
            elif isinstance(v, bool):
                facts[key] = v
            elif isinstance(v, int):
                facts[key] = _hex(v)
    return facts


def _espefuse_for_revision(chip: str, revision: int | None) -> Any:
    """espefuse's field set for a virtual `chip` of `revision` (as it loads on silicon)."""
    import contextlib
    import importlib
    import tempfile

    from espefuse import init_commands

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "efuse.bin"
        if revision:
            emu_mod = importlib.import_module(f"espefuse.efuse.{chip}.emulate_efuse_controller")
            with contextlib.redirect_stdout(io.StringIO()):
                emu = emu_mod.EmulateEfuseController(str(path))
                emu.set_chip_revision(revision)
                emu.save_to_file()
        with contextlib.redirect_stdout(io.StringIO()):
            efuses = init_commands(chip=chip, virt=True, virt_efuse_file=str(path)).efuses
            # Some fields are listed only on chips in a given state (calibration once its
            # block version is burned; ESP32's custom MAC once MAC_VERSION is 1): take them all.
            present = {e.name for e in efuses.efuses}
            for group in ("KEYBLOCKS_256", "CUSTOM_MAC", "ADC_CALIBRATION", "CALIBRATION_EFUSES"):
                for e in efuses._convert_efuse_defs(getattr(efuses.Fields, group, [])):
                    if e.name not in present:
                        efuses.efuses.append(e)
                        present.add(e.name)
    return efuses


def _composites(chip: str, stem: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fields espefuse shows as one value assembled from several runs of bits."""
    by_name = {f["name"]: f for f in fields}
    out = []
    for name, (part_names, burnable, base) in COMPOSITES.get(chip, {}).items():
        if not all(n in by_name for n in part_names):
            continue  # this table has no such split (e.g. ESP32-P4 before v3.0)
        parts = [by_name[n] for n in part_names]
        blocks = {pf["block"] for pf in parts}
        wr = {pf.get("wr_dis") for pf in parts}
        assert len(blocks) == 1 and len(wr) == 1, (stem, name)
        template = dict(by_name[base]) if base else {}
        rec: dict[str, Any] = {
            "name": name, "block": parts[0]["block"], "word": parts[0]["word"], "pos": parts[0]["pos"],
            "bits": sum(pf["bits"] for pf in parts), "type": "uint",
        }
        for key in ("class", "aliases", "meanings"):
            if key in template:
                rec[key] = template[key]
        if parts[0].get("wr_dis") is not None:
            rec["wr_dis"] = parts[0]["wr_dis"]
        if not burnable:
            rec["burnable"] = False
        rec["category"] = template.get("category", parts[0]["category"])
        rec["description"] = template.get("description") or (
            "Combined value of " + ", ".join(part_names) + " (least significant first)")
        rec["parts"] = [{"word": pf["word"], "pos": pf["pos"], "bits": pf["bits"]} for pf in parts]
        out.append(rec)
    return out


def _timing(chip: str, regs: Any) -> dict[int, list[dict[str, str]]]:
    steps_by_freq = dict(TIMING.get(chip, {}))
    if chip == "esp32s2":
        # keep the table honest against espefuse's own parameter tables
        for f, (tsup, tpgm, thp, tinact) in regs.EFUSE_PROGRAMMING_TIMING_PARAMETERS.items():
            div, on, off = regs.VDDQ_TIMING_PARAMETERS[f]
            assert steps_by_freq[f] == [
                ("EFUSE_WR_TIM_CONF1_REG", "EFUSE_TSUP_A_M", tsup),
                ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_M", tpgm),
                ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_THP_A_M", thp),
                ("EFUSE_WR_TIM_CONF0_REG", "EFUSE_TPGM_INACTIVE_M", tinact),
                ("EFUSE_DAC_CONF_REG", "EFUSE_DAC_CLK_DIV_M", div),
                ("EFUSE_WR_TIM_CONF1_REG", "EFUSE_PWR_ON_NUM_M", on),
                ("EFUSE_WR_TIM_CONF2_REG", "EFUSE_PWR_OFF_NUM_M", off),
                ("EFUSE_RD_TIM_CONF_REG", "EFUSE_TRD_M", regs.EFUSE_READING_PARAMETERS[f][1]),
                ("EFUSE_RD_TIM_CONF_REG", "EFUSE_THR_A_M", regs.EFUSE_READING_PARAMETERS[f][2]),
            ], f
    if chip == "esp32":
        for f, (sel0, sel1, div) in regs.EFUSE_CLK_SETTINGS.items():
            assert [v for (_, _, v) in steps_by_freq[f]] == [div, sel0, sel1], f
    return {
        freq: [{"register": r, "mask": _hex(getattr(regs, m)), "value": _hex(v)} for (r, m, v) in steps]
        for freq, steps in steps_by_freq.items()
    }


def build(chip: str, stem: str | None = None, revision: int | None = None) -> dict[str, Any]:
    import importlib

    stem = stem or chip
    mod = importlib.import_module(f"espefuse.efuse.{chip}.mem_definition")
    fields_mod = importlib.import_module(f"espefuse.efuse.{chip}.fields")
    if revision is None:
        revision = DEFAULT_TABLE_REVISION.get(chip)
    efuses = _espefuse_for_revision(chip, revision)
    regs = mod.EfuseDefineRegisters
    registers, constants = _registers(regs)
    blocks = _block_records(mod.EfuseDefineBlocks, chip)
    block0_err, layouts, all_err = _errors(regs, len(blocks))
    layouts = ERROR_QUIRKS.get(chip, layouts)
    major, minor = REVISION.get(chip, DEFAULT_REVISION)
    field_recs = _field_records(efuses)
    for f in field_recs:
        if f.get("class") == "keypurpose" and f["name"].endswith("_H"):
            del f["class"]  # ESP32-P4 v3.0's fifth purpose bit reads as a plain bit
    composites = {c["name"]: c for c in _composites(chip, stem, field_recs)}
    field_recs = [composites.pop(f["name"], f) for f in field_recs] + list(composites.values())
    names = {f["name"] for f in field_recs}
    postponed = [n for n in (POSTPONED_ESP32 if chip == "esp32" else POSTPONED_OTHERS) if n in names]
    data: dict[str, Any] = {
        "chip": chip,
        "variant": "" if stem == chip else stem,
        "description": _rom_facts(chip)["chip_name"],
        "family": "esp32" if chip == "esp32" else "esp32xx",
        "mem_size": _hex(regs.EFUSE_MEM_SIZE),
        "base": _hex(regs.DR_REG_EFUSE_BASE),
        "registers": registers,
        "constants": {k: v for k, v in constants.items() if not k.startswith("CODING_SCHEME")},
        "timing": _timing(chip, regs),
        "host_timing": chip not in NO_TIMING,
        "block0_error_registers": block0_err,
        "error_registers": all_err,
        "block_errors": layouts,
        "revision": {"major": [{"field": f, "shift": s} for f, s in major],
                     "minor": [{"field": f, "shift": s} for f, s in minor]},
        "postponed": postponed,
        "forbidden_purposes": FORBIDDEN_PURPOSES.get(chip, {}),
        "rom": _rom_facts(chip),
        "blocks": blocks,
        "key_purposes": _key_purposes(chip, stem, fields_mod),
        "fields": field_recs,
    }
    if chip in INCOMPATIBLE:
        data["incompatible"] = INCOMPATIBLE[chip]
    if chip in REVISION_QUIRKS:
        data["revision"].update(REVISION_QUIRKS[chip])
    for key, facts in (("flash_voltage", FLASH_VOLTAGE), ("custom_mac", CUSTOM_MAC),
                       ("key_block_names", KEY_BLOCK_NAMES), ("digest_block", DIGEST_BLOCK)):
        if chip in facts:
            data[key] = facts[chip]
    data["commands"] = COMMANDS[data["family"]]
    if chip in SECRET_BLOCKS:
        data["secret_blocks"] = SECRET_BLOCKS[chip]
    return data


def write(chip: str, data: dict[str, Any], stem: str) -> None:
    yaml = YAML()
    yaml.width = 4096
    yaml.default_flow_style = None
    buf = io.StringIO()
    buf.write(f"# {data['description']} eFuse facts (Espressif; see NOTICE). Generated by\n"
              "# tools/gen_chip_data.py from esptool 5.6.0's espefuse tables: do not edit, except\n"
              "# the part kept by hand at the end.\n")
    yaml.dump(data, buf)
    path = OUT / f"{stem}.yaml"
    old = path.read_text() if path.exists() else ""
    if HAND_KEPT in old:
        buf.write(HAND_KEPT + old.split(HAND_KEPT, 1)[1])
    path.write_text(buf.getvalue())


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    chips = argv or CHIPS
    for chip in chips:
        write(chip, build(chip), chip)
        for stem, lo, hi in VARIANTS.get(chip, []):
            data = build(chip, stem, VARIANT_REVISION[stem])
            data["revisions"] = [lo, hi]
            write(chip, data, stem)
        print("wrote", chip)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
