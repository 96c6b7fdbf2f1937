"""Requests that could damage a chip are refused at plan time, through the public API.

Each class is tried across every chip's data: bits into a write- or read-protected
region (secret or not), ESP32 block data planned with a coding scheme that changes in
the same run, placeholder keys, and conflicts that only appear once templates render.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import BlockDef, ChipDef, FieldDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, PlanError
from tests.images import with_field
from tests.plan.helpers import plan, refused_at_step

CHIPS = chip_names()
KEY = bytes(range(1, 33))  # a key-like 32 bytes (not a placeholder)


def recipe(tmp_path: Path, chip: str, steps: str, inputs: str = "") -> api.LoadedRecipe:
    (tmp_path / "k.bin").write_bytes(KEY)
    (tmp_path / "k16.bin").write_bytes(KEY[:16])
    r = tmp_path / "recipe.yaml"
    r.write_text(f"fusebook: 1\nname: t\nchip: {chip}\n" + (f"inputs:\n{inputs}" if inputs else "")
                 + "steps:\n" + steps)
    return api.load_recipe(r)


def with_bits(image: EfuseImage, field: str, raw: int) -> EfuseImage:
    """`image` with raw value `raw` or-ed into `field` (e.g. WR_DIS or RD_DIS bits burned)."""
    f = image.chip.field(field)
    blocks = list(image.blocks)
    blocks[f.block] |= f.spread(raw)
    return image.with_blocks(tuple(blocks))


def read_protected(chip: ChipDef, blk: BlockDef) -> EfuseImage:
    raw = 0
    for b in blk.rd_dis:
        raw |= 1 << b
    return with_bits(EfuseImage.blank(chip), "RD_DIS", raw)


# -- 1. read-protected regions, secret or not ----------------------------------------------
READ_PROTECTABLE = [(c, b.name) for c in CHIPS for b in load_chip(c).blocks if b.rd_dis and b.id]
KEY_BLOCKS = [(c, b.name) for c in CHIPS for b in load_chip(c).blocks
              if b.rd_dis and load_chip(c).block_field(b) is not None
              and load_chip(c).block_field(b).bits == 256]  # type: ignore[union-attr]
SECRET = "  k: {file: k16.bin, format: binary, secret: true}\n  k32: {file: k.bin, format: binary, secret: true}\n"


@pytest.mark.parametrize("chip,block", READ_PROTECTABLE)
@pytest.mark.parametrize("how", ["secret-data", "key-file", "plain-data"])
def test_block_data_into_a_read_protected_block_is_refused(tmp_path: Path, chip: str, block: str,
                                                           how: str) -> None:
    c = load_chip(chip)
    data = {"secret-data": "data: '{{ inputs.k | hex }}'", "key-file": "file: k16.bin",
            "plain-data": f"data: '{KEY[:16].hex()}'"}[how]
    loaded = recipe(tmp_path, chip, f"  - burn_block_data: {{block: {block}, {data}}}\n", SECRET)
    with pytest.raises(PlanError, match="read-protected") as e:
        api.plan(loaded, read_protected(c, c.block(block)))
    assert e.value.location is not None and e.value.location.line == 8  # the step, after 2 inputs


@pytest.mark.parametrize("chip,block", KEY_BLOCKS)
def test_secret_field_value_into_a_read_protected_key_block_is_refused(tmp_path: Path, chip: str,
                                                                       block: str) -> None:
    c = load_chip(chip)
    blk = c.block(block)
    field = c.block_field(blk)
    assert field is not None
    loaded = recipe(tmp_path, chip, f"  - burn_efuse: {{{field.name}: '{{{{ inputs.k32 | hex }}}}'}}\n", SECRET)
    with pytest.raises(PlanError, match="read-protected"):
        api.plan(loaded, read_protected(c, blk))


def test_the_recipe_that_read_protects_its_own_data_still_reapplies(tmp_path: Path) -> None:
    """The specified skip stays: a recipe that burns and read-protects data re-applies as a no-op."""
    c = load_chip("esp32c3")
    loaded = recipe(tmp_path, "esp32c3", "  - burn_block_data: {block: BLOCK_SYS_DATA2, data: '{{ inputs.k | hex }}'}\n"
                    "  - read_protect_efuse: [BLOCK_SYS_DATA2]\n", SECRET)
    done = api.plan(loaded, EfuseImage.blank(c)).plan.after
    again = api.plan(loaded, done).plan
    assert again.writes == () and "BLOCK_SYS_DATA2" in again.skipped


# -- 1. write-protected BLOCK0 fields through burn_bit --------------------------------------
def _own_wr_dis(c: ChipDef) -> list[FieldDef]:
    return [f for f in c.fields if f.block == 0 and f.wr_dis is not None]


BLOCK0_FIELDS = [(c, f.name) for c in CHIPS for f in _own_wr_dis(load_chip(c))]


@pytest.fixture(scope="module")
def burn_bit_recipes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, api.LoadedRecipe]:
    """One recipe per chip burning BLOCK0 bit `index`, so each case is one `plan` call."""
    out = {}
    for chip in CHIPS:
        d = tmp_path_factory.mktemp(chip)
        out[chip] = recipe(d, chip, "  - burn_bit: {block: BLOCK0, bits: ['{{ index }}']}\n")
    return out


@pytest.mark.parametrize("chip,field", BLOCK0_FIELDS)
def test_burn_bit_into_a_write_protected_block0_field_is_refused_naming_the_bit(
    burn_bit_recipes: dict[str, api.LoadedRecipe], chip: str, field: str
) -> None:
    c = load_chip(chip)
    f = c.field(field)
    image = with_bits(EfuseImage.blank(c), "WR_DIS", 1 << f.wr_dis)  # type: ignore[operator]
    free = f.mask & ~image.blocks[0]
    bit = (free & -free).bit_length() - 1
    assert api.plan(burn_bit_recipes[chip], EfuseImage.blank(c), index=bit).plan.writes  # burnable
    with pytest.raises(PlanError, match="write-protected") as e:
        api.plan(burn_bit_recipes[chip], image, index=bit)
    assert f"write-protected by {_first_field(c, bit).name} (WR_DIS bit {f.wr_dis});" in e.value.message


ESP32_HIDDEN_BLOCK0 = [f.name for f in load_chip("esp32").fields if f.block == 0 and f.rd_dis]


@pytest.mark.parametrize("field", ESP32_HIDDEN_BLOCK0)
def test_burn_bit_into_a_read_protected_block0_field_is_refused_naming_the_bit(
    burn_bit_recipes: dict[str, api.LoadedRecipe], field: str
) -> None:
    c = load_chip("esp32")
    f = c.field(field)
    image = with_bits(EfuseImage.blank(c), "RD_DIS", sum(1 << b for b in f.rd_dis))
    with pytest.raises(PlanError, match="read-protected") as e:
        api.plan(burn_bit_recipes["esp32"], image, index=f.start)
    bits = "/".join(map(str, f.rd_dis))
    assert f"read-protected by {_first_field(c, f.start).name} (RD_DIS bit {bits}):" in e.value.message


def _first_field(chip: ChipDef, bit: int) -> FieldDef:
    """The first field of BLOCK0 in table order holding `bit`: the one a refusal names."""
    return next(f for f in chip.fields_in_block(0) if (f.mask >> bit) & 1)


def test_c2_half_read_protected_key_block_cannot_take_more_rs_coded_bits(tmp_path: Path) -> None:
    c = load_chip("esp32c2")
    image = with_bits(EfuseImage.blank(c), "RD_DIS", 1)  # BLOCK_KEY0_LOW_128 hidden
    loaded = recipe(tmp_path, "esp32c2", "  - burn_block_data: {block: BLOCK_KEY0, offset: 16, data: '0102'}\n")
    with pytest.raises(PlanError, match="read-protected"):
        api.plan(loaded, image)


# -- 2. ESP32 coding scheme changed in the same run as block data ---------------------------
@pytest.mark.parametrize("block", ["BLOCK1", "BLOCK2", "BLOCK3"])
@pytest.mark.parametrize("scheme", [1, 2, 3])
@pytest.mark.parametrize("how", ["burn_block_data", "burn_key", "burn_bit"])
def test_esp32_coding_scheme_and_block_data_in_one_run_are_refused(tmp_path: Path, block: str, scheme: int,
                                                                  how: str) -> None:
    step = {"burn_block_data": f"burn_block_data: {{block: {block}, data: '0102'}}",
            "burn_key": f"burn_key: {{block: {block}, data: '{KEY.hex()}'}}",
            "burn_bit": f"burn_bit: {{block: {block}, bits: [3]}}"}[how]
    loaded = recipe(tmp_path, "esp32", f"  - burn_efuse: {{CODING_SCHEME: {scheme}}}\n  - {step}\n")
    with pytest.raises(PlanError, match="CODING_SCHEME") as e:
        api.plan(loaded, EfuseImage.blank(load_chip("esp32")))
    assert e.value.location is not None and e.value.location.line == 5
    assert [r.line for r in e.value.related] == [6]
    assert "run of its own" in (e.value.hint or "")


def test_esp32_coding_scheme_alone_then_block_data_plans(tmp_path: Path) -> None:
    c = load_chip("esp32")
    first = recipe(tmp_path, "esp32", "  - burn_efuse: {CODING_SCHEME: 1}\n")
    three_four = api.plan(first, EfuseImage.blank(c)).plan.after
    then = recipe(tmp_path, "esp32", "  - burn_block_data: {block: BLOCK3, data: '0102'}\n")
    assert api.plan(then, three_four).plan.writes


# -- 3. placeholder keys -----------------------------------------------------------------------
def _key_steps() -> list[tuple[str, str, str, int]]:
    """(chip, block, purpose, key bytes) for every purpose a key block can take."""
    out = []
    for name in CHIPS:
        c = load_chip(name)
        if c.family == "esp32":
            out += [(name, b, "", 32) for b in ("flash_encryption", "secure_boot_v1", "secure_boot_v2", "BLOCK3")]
            continue
        if c.purposes_by_target:
            for kp in c.key_purposes:
                if kp.target and not kp.digest:
                    out.append((name, "BLOCK_KEY0", kp.name, c.field(kp.target).bits // 8))
            continue
        blk = c.key_blocks[0].name
        for kp in c.key_purposes:
            if kp.value < 0 or kp.name.startswith("ECDSA_KEY_P384_") or kp.name.endswith(("_1", "_2")):
                continue
            if c.purpose_forbidden(c.key_blocks[0].key_purpose_field or "", kp.name):
                continue
            size = 64 if kp.name in ("XTS_AES_256_KEY", "XTS_AES_256_PSRAM_KEY", "ECDSA_KEY_P384") else 32
            out.append((name, blk, kp.name, size))
    return out


KEY_STEPS = _key_steps()


@pytest.mark.parametrize("chip,block,purpose,size", KEY_STEPS)
@pytest.mark.parametrize("source", ["data", "file"])
@pytest.mark.parametrize("fill", [0x00, 0xFF, 0x5A])
def test_placeholder_keys_are_refused(tmp_path: Path, chip: str, block: str, purpose: str, size: int,
                                      source: str, fill: int) -> None:
    (tmp_path / "p.bin").write_bytes(bytes([fill]) * size)
    key = "file: p.bin" if source == "file" else f"data: '{bytes([fill]).hex() * size}'"
    where = f"block: {block}, " if block else ""
    what = f"purpose: {purpose}, " if purpose else ""
    loaded = recipe(tmp_path, chip, f"  - burn_key: {{{where}{what}{key}}}\n")
    with pytest.raises(InputError, match="placeholder") as e:
        api.plan(loaded, EfuseImage.blank(load_chip(chip)))
    assert e.value.location is not None and e.value.location.line == 5
    assert bytes([fill]).hex() * 4 not in e.value.render()


@pytest.mark.parametrize("chip,purpose", [("esp32s3", "XTS_AES_256_KEY"), ("esp32p4", "XTS_AES_256_KEY"),
                                          ("esp32s2", "XTS_AES_256_KEY")])
@pytest.mark.parametrize("half", ["first", "second"])
def test_a_split_key_with_one_placeholder_half_is_refused(tmp_path: Path, chip: str, purpose: str,
                                                          half: str) -> None:
    data = KEY.hex() + "00" * 32 if half == "second" else "ff" * 32 + KEY.hex()
    loaded = recipe(tmp_path, chip, f"  - burn_key: {{block: BLOCK_KEY0, purpose: {purpose}, data: '{data}'}}\n")
    with pytest.raises(InputError, match="placeholder"):
        api.plan(loaded, EfuseImage.blank(load_chip(chip)))


def test_block_data_that_is_all_ff_is_raw_data_not_a_key(tmp_path: Path) -> None:
    loaded = recipe(tmp_path, "esp32c3", f"  - burn_block_data: {{block: BLOCK_USR_DATA, data: '{'ff' * 32}'}}\n")
    assert api.plan(loaded, EfuseImage.blank(load_chip("esp32c3"))).plan.writes


# -- 4. conflicts hidden by templating -------------------------------------------------------
def test_mapping_keys_rendering_to_one_field_are_a_conflict(tmp_path: Path) -> None:
    loaded = recipe(tmp_path, "esp32c3", "  - burn_efuse: {SOFT_DIS_JTAG: 1, \"{{ 'SOFT_DIS_JTAG' }}\": 4}\n")
    with pytest.raises(PlanError) as e:
        api.plan(loaded, EfuseImage.blank(load_chip("esp32c3")))
    assert (e.value.location.line, e.value.location.column) == (5, 18)  # type: ignore[union-attr]
    assert [(r.line, r.column) for r in e.value.related] == [(5, 36)]


def test_mapping_keys_rendering_to_one_field_with_one_value_are_fine(tmp_path: Path) -> None:
    loaded = recipe(tmp_path, "esp32c3", "  - burn_efuse: {SOFT_DIS_JTAG: 4, \"{{ 'SOFT_DIS_JTAG' }}\": 4}\n")
    assert api.plan(loaded, EfuseImage.blank(load_chip("esp32c3"))).plan.writes


ALIASED = [(c, f.name, f.aliases[0]) for c in CHIPS for f in load_chip(c).fields
           if f.aliases and f.block == 0 and f.burnable and f.bits > 1 and f.type == "uint" and not f.klass
           and f.name not in ("WR_DIS", "RD_DIS")][:20] + [
    ("esp32c3", "KEY_PURPOSE_0", "KEY0_PURPOSE"), ("esp32s3", "KEY_PURPOSE_5", "KEY5_PURPOSE")]


@pytest.mark.parametrize("chip,field,alias", ALIASED)
def test_a_field_and_its_alias_with_different_values_are_a_conflict(tmp_path: Path, chip: str, field: str,
                                                                    alias: str) -> None:
    loaded = recipe(tmp_path, chip, f"  - burn_efuse:\n      {field}: 1\n      {alias}: 2\n")
    with pytest.raises(PlanError) as e:
        api.plan(loaded, EfuseImage.blank(load_chip(chip)))
    assert e.value.location is not None and (e.value.location.line, e.value.location.column) == (6, 7)
    assert [(r.line, r.column) for r in e.value.related] == [(7, 7)]


KEY_CONFLICTS = [
    ("read_protect", "read_protect: false", ""),
    ("write_protect", "write_protect: false", ""),
    ("purpose", "purpose: USER", ""),
    ("key", f"data: '{KEY.hex()}'", f"data: '{KEY[::-1].hex()}'"),
]


@pytest.mark.parametrize("chip", [c for c in CHIPS if load_chip(c).key_blocks])
@pytest.mark.parametrize("what,first,second", KEY_CONFLICTS, ids=[k[0] for k in KEY_CONFLICTS])
def test_two_burn_key_steps_for_one_block_that_differ_are_a_conflict(tmp_path: Path, chip: str, what: str,
                                                                    first: str, second: str) -> None:
    def step(extra: str) -> str:
        args = {"purpose": "purpose: XTS_AES_128_KEY" if "XTS_AES_128_KEY" in
                [k.name for k in load_chip(chip).key_purposes] else "purpose: HMAC_UP",
                "data": f"data: '{KEY.hex()}'"}
        if extra:
            args[extra.split(":")[0]] = extra
        return "  - burn_key: {block: BLOCK_KEY1, " + ", ".join(args.values()) + "}\n"

    loaded = recipe(tmp_path, chip, step(first) + step(second))
    with pytest.raises(PlanError, match=what) as e:
        api.plan(loaded, EfuseImage.blank(load_chip(chip)))
    assert e.value.location is not None and e.value.location.line == 5
    assert [r.line for r in e.value.related] == [6]


@pytest.mark.parametrize("chip,block,purpose", [("esp32c3", "BLOCK_KEY1", "XTS_AES_128_KEY"),
                                                ("esp32s3", "BLOCK_KEY1", "XTS_AES_256_KEY"),
                                                ("esp32", "flash_encryption", ""),
                                                ("esp32c2", "BLOCK_KEY0", "XTS_AES_128_KEY")])
def test_two_identical_burn_key_steps_are_fine(tmp_path: Path, chip: str, block: str, purpose: str) -> None:
    key = bytes(range(1, 65)) if purpose == "XTS_AES_256_KEY" else KEY
    args = ", ".join(x for x in (f"block: {block}" if block else "", f"purpose: {purpose}" if purpose else "",
                                 f"data: '{key.hex()}'") if x)
    loaded = recipe(tmp_path, chip, f"  - burn_key: {{{args}}}\n" * 2)
    (tmp_path / "once").mkdir()
    once = recipe(tmp_path / "once", chip, f"  - burn_key: {{{args}}}\n")
    c = load_chip(chip)
    assert api.plan(loaded, EfuseImage.blank(c)).plan.after == api.plan(once, EfuseImage.blank(c)).plan.after


def test_a_write_protected_field_already_at_its_value_is_no_obstacle_to_the_rest_of_its_block() -> None:
    """Re-running a recipe on a unit where one field is burned and locked burns what is left."""
    c3 = load_chip("esp32c3")
    locked = with_field(with_field(EfuseImage.blank(c3), "SOFT_DIS_JTAG", 7), "WR_DIS", 1 << 31)
    p = plan(c3, locked, {"burn_efuse": {"SOFT_DIS_JTAG": 7, "DIS_USB_JTAG": 1}})
    assert [(ch.field, ch.after) for ch in p.changes] == [("DIS_USB_JTAG", True)]
    assert c3.field("DIS_USB_JTAG").gather(p.after.blocks[0]) == 1


def test_new_bits_for_read_protected_data_are_refused_with_the_reason_and_what_it_means() -> None:
    c3 = load_chip("esp32c3")
    hidden = with_field(EfuseImage.blank(c3), "RD_DIS", 1)  # BLOCK_KEY0 read-protected, still writeable
    e = refused_at_step({"burn_block_data": {"block": "BLOCK_KEY0", "data": "01"}}, c3, hidden, PlanError)
    assert (e.message, e.hint) == (
        "BLOCK_KEY0 is read-protected: its content cannot be compared, so burning it may damage what is there",
        "read protection is permanent; a read-protected key or data cannot be changed")


def test_raw_bits_already_burned_under_a_lock_do_not_stop_new_bits_beside_them() -> None:
    """burn_bit over a locked, already burned bit (SOFT_DIS_JTAG) and a new one (DIS_USB_JTAG)."""
    c3 = load_chip("esp32c3")
    locked = with_field(with_field(EfuseImage.blank(c3), "SOFT_DIS_JTAG", 7), "WR_DIS", 1 << 31)
    p = plan(c3, locked, {"burn_bit": {"block": "BLOCK0", "bits": [48, 41]}})
    assert p.after.blocks[0] == locked.blocks[0] | (1 << 41)
    assert [w.new_bits for w in p.writes] == [1 << 41]


def test_the_same_change_asked_by_two_steps_is_listed_once() -> None:
    c3 = load_chip("esp32c3")
    p = plan(c3, EfuseImage.blank(c3), {"burn_efuse": {"SOFT_DIS_JTAG": 7}}, {"burn_efuse": {"SOFT_DIS_JTAG": 7}})
    assert [(ch.field, ch.after) for ch in p.changes] == [("SOFT_DIS_JTAG", 7)]
