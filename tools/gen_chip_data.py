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

#: Revision tables that differ from a chip's default table: (chip, variant file stem,
#: revision range it applies to). The loader picks the variant by the chip's revision.
VARIANTS = {
    "esp32h2": [("esp32h2_v0.0_v1.1", 0, 101)],
    "esp32p4": [("esp32p4_v3.0", 300, 9999)],
}

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
    "esp32h2": {32: _COMMON_40},
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
        ]
        for f, (tsup, tpgm, thp, tinact), (div, on, off) in [
            (80, (0x2, 0x320, 0x2, 0x4), (0xA0, 0xA200, 0x100)),
            (40, (0x1, 0x190, 0x1, 0x2), (0x50, 0x5100, 0x80)),
            (20, (0x1, 0xC8, 0x1, 0x1), (0x28, 0x2880, 0x40)),
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

#: Chips whose controller needs no timing set-up from the host (the ROM sets it).
NO_TIMING = {"esp32p4", "esp32c5", "esp32c61", "esp32h21", "esp32h4", "esp32s31", "esp32e22"}

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


def _key_purposes(efuses: Any) -> list[dict[str, Any]]:
    for e in efuses.efuses:
        if e.efuse_class == "keypurpose":
            kps = type(e).KEY_PURPOSES
            return [
                {"name": n, "value": v, "digest": d == "DIGEST", "reverse": r == "Reverse",
                 "read_protect": p == "need_rd_protect"}
                for (n, v, d, r, p) in kps
            ]
    return []


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


def build(chip: str, table_file: str | None = None) -> dict[str, Any]:
    import importlib

    from espefuse import init_commands

    mod = importlib.import_module(f"espefuse.efuse.{chip}.mem_definition")
    fields_mod = importlib.import_module(f"espefuse.efuse.{chip}.fields")
    if table_file:
        # swap in the revision-specific table the same way espefuse does on load
        import espefuse

        path = Path(espefuse.__file__).parent / "efuse_defs" / f"{table_file}.yaml"
        import yaml

        e_desc = yaml.safe_load(path.read_text())
        efuses = _load_with_table(chip, e_desc)
    else:
        efuses = init_commands(chip=chip, virt=True, skip_connect=True).efuses
    regs = mod.EfuseDefineRegisters
    registers, constants = _registers(regs)
    blocks = _block_records(mod.EfuseDefineBlocks, chip)
    block0_err, layouts, all_err = _errors(regs, len(blocks))
    major, minor = REVISION.get(chip, DEFAULT_REVISION)
    timing = {}
    for freq, steps in TIMING.get(chip, {}).items():
        timing[freq] = [{"register": r, "mask": _hex(getattr(regs, m)), "value": _hex(v)}
                        for (r, m, v) in steps]
    field_recs = _field_records(efuses)
    names = {f["name"] for f in field_recs}
    postponed = [n for n in (POSTPONED_ESP32 if chip == "esp32" else POSTPONED_OTHERS) if n in names]
    del fields_mod
    return {
        "chip": chip,
        "variant": table_file or "",
        "description": _rom_facts(chip)["chip_name"],
        "family": "esp32" if chip == "esp32" else "esp32xx",
        "mem_size": _hex(regs.EFUSE_MEM_SIZE),
        "base": _hex(regs.DR_REG_EFUSE_BASE),
        "registers": registers,
        "constants": {k: v for k, v in constants.items() if not k.startswith("CODING_SCHEME")},
        "timing": timing,
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
        "key_purposes": _key_purposes(efuses),
        "fields": field_recs,
    }


def _load_with_table(chip: str, e_desc: dict[str, Any]) -> Any:
    """Instantiate espefuse's field set for `chip` from an alternative table."""
    import importlib
    from unittest import mock

    from espefuse import init_commands

    mem = importlib.import_module(f"espefuse.efuse.{chip}.mem_definition")
    import yaml

    with mock.patch.object(yaml, "safe_load", return_value=e_desc):
        importlib.reload(mem)
        fields_mod = importlib.import_module(f"espefuse.efuse.{chip}.fields")
        importlib.reload(fields_mod)
        efuses = init_commands(chip=chip, virt=True, skip_connect=True).efuses
    importlib.reload(mem)
    importlib.reload(fields_mod)
    return efuses


def write(chip: str, data: dict[str, Any], stem: str) -> None:
    yaml = YAML()
    yaml.width = 4096
    yaml.default_flow_style = None
    buf = io.StringIO()
    buf.write(f"# {data['description']} eFuse facts (Espressif; see NOTICE). Generated by\n"
              "# tools/gen_chip_data.py from esptool 5.6.0's espefuse tables: do not edit.\n")
    yaml.dump(data, buf)
    (OUT / f"{stem}.yaml").write_text(buf.getvalue())


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    chips = argv or CHIPS
    for chip in chips:
        write(chip, build(chip), chip)
        for stem, lo, hi in VARIANTS.get(chip, []):
            data = build(chip, stem)
            data["revisions"] = [lo, hi]
            write(chip, data, stem)
        print("wrote", chip)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
