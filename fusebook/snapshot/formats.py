"""Snapshot formats: where an eFuse image comes from when no chip is connected.

- fusebook snapshot (JSON): chip, revision, every block's raw words, error registers,
  when and how it was taken;
- espefuse virtual efuse file (`--path-efuse-file`): the controller's register window,
  byte-reversed (needs the chip name);
- espefuse eFuse token `EFSR:chip:rev:blocks...:errors:crc` (a string or a file);
- `blank` (needs the chip name).
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError
from fusebook.files import read_bounded

SNAPSHOT_FORMAT = "fusebook-snapshot"
SNAPSHOT_VERSION = 1
#: Largest snapshot file read, in bytes (the biggest efuse file is a few KiB).
SNAPSHOT_FILE_LIMIT = 4 << 20


def _hex_word(text: Any) -> int:
    """A block word as a snapshot writes it: ASCII hex only (int() would also take '٣')."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError(f"{text!r} is not a hex word")
    return int(text, 16)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- EFSR tokens ---------------------------------------------------------------------
def to_token(image: EfuseImage, kind: str = "EFSR") -> str:
    """espefuse's eFuse token for `image` (empty blocks as empty pieces, CRC-32 at the end).

    A block carries the data bytes its coding scheme holds, as espefuse writes them: 24 for
    an ESP32 block under 3/4 coding.
    """
    chip = image.chip
    blocks = [image.blocks[b.id].to_bytes(b.words * 4, "little")[: image.data_bytes(b)] for b in chip.blocks]
    errs = [image.errors.get(name, 0) for name in chip.error_registers]
    return encode_token(kind, chip.name, image.revision, blocks, errs)


def encode_token(kind: str, chip_name: str, revision: int, blocks: list[bytes], errors: list[int]) -> str:
    """The `EFSR`/`EFSW` text: `kind:chip:rev:block0:...:blockN:errors:crc`, unpadded base64url.

    An all-zero block is an empty piece, and the error registers are left out (an empty
    piece) unless one is set; the CRC-32 covers everything before it, last colon included.
    """
    pieces = ["" if not any(raw) else _b64(raw) for raw in blocks]
    cerr = _b64(b"".join(v.to_bytes(4, "little") for v in errors)) if any(errors) else ""
    prefix = f"{kind}:{chip_name}:{revision:03d}:{':'.join(pieces)}:{cerr}:"
    crc = zlib.crc32(prefix.encode("ascii")) & 0xFFFFFFFF
    return prefix + _b64(crc.to_bytes(4, "little"))


def from_token(token: str, where: str = "token") -> EfuseImage:
    parts = token.strip().split(":")
    if len(parts) < 6 or parts[0] not in ("EFSR", "EFSW", "EFSRW"):
        raise InputError(f"{where}: not an espefuse eFuse token", hint="it starts with EFSR:chip:...")
    magic, chip_name, version = parts[0], parts[1], parts[2]
    b64_crc, b64_err = parts[-1], parts[-2]
    blocks_text = parts[3:-2]
    prefix = f"{magic}:{chip_name}:{version}:{':'.join(blocks_text)}:{b64_err}:"
    try:
        crc = int.from_bytes(_unb64(b64_crc)[:4], "little")
    except ValueError:
        raise InputError(f"{where}: the token's CRC is not base64") from None
    if crc != zlib.crc32(prefix.encode("ascii")) & 0xFFFFFFFF:
        raise InputError(f"{where}: the token's CRC does not match", hint="copy the whole token")
    try:
        if not version.isascii():
            raise ValueError(version)
        rev = int(version)
    except ValueError:
        raise InputError(f"{where}: bad revision {version!r} in token") from None
    chip = load_chip(chip_name, rev)
    if len(blocks_text) != len(chip.blocks):
        raise InputError(f"{where}: {len(blocks_text)} blocks in token, {chip.name} has {len(chip.blocks)}")
    words = []
    for b, text in zip(chip.blocks, blocks_text, strict=False):
        raw = _unb64(text) if text else bytes(b.words * 4)
        if b.coding == "esp32" and len(raw) == 24:  # 3/4 coding: the data bytes only
            raw += bytes(b.words * 4 - 24)
        if len(raw) != b.words * 4:
            raise InputError(f"{where}: block {b.name} has {len(raw)} bytes, expected {b.words * 4}")
        words.append([int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)])
    errors: dict[str, int] = {}
    if b64_err:
        raw = _unb64(b64_err)
        for i, name in enumerate(chip.error_registers):
            errors[name] = int.from_bytes(raw[4 * i : 4 * i + 4], "little")
    return EfuseImage.from_words(chip, words, errors)


# -- espefuse virtual efuse files ----------------------------------------------------
def from_efuse_file(path: Path, chip: ChipDef, data: bytes | None = None) -> EfuseImage:
    from fusebook.virtual.chip import VirtualChip

    if data is None:
        data = read_bounded(path, "efuse file", limit=SNAPSHOT_FILE_LIMIT)
    if len(data) != chip.mem_size:
        raise InputError(
            f"{path}: {len(data)} bytes, but an {chip.description} efuse file has {chip.mem_size}",
            hint="is --chip right?",
        )
    image = VirtualChip(chip, path).image()
    exact = load_chip(chip.name, image.revision)
    return image if exact is chip else VirtualChip(exact, path).image()


def to_efuse_file(image: EfuseImage, path: Path) -> None:
    """Write `image` as an espefuse virtual efuse file (read registers and error registers)."""
    from fusebook.virtual.chip import VirtualChip

    chip = image.chip
    vc = VirtualChip(chip, None)
    for b in chip.blocks:
        for i, w in enumerate(image.words(b.id)):
            vc._poke(b.read_addr + 4 * i, w)
    for name, value in image.errors.items():
        vc._poke(chip.registers[name], value)
    vc.efuse_file = path
    vc.save()


# -- fusebook JSON -------------------------------------------------------------------
def to_json(image: EfuseImage, source: str) -> dict[str, Any]:
    chip = image.chip
    return {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "chip": chip.name,
        "revision": image.revision,
        "taken_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "blocks": {b.name: [f"0x{w:08x}" for w in image.words(b.id)] for b in chip.blocks},
        "errors": {k: f"0x{v:08x}" for k, v in image.errors.items()},
        "identity": {k: f"0x{v:08x}" for k, v in image.identity.items()},
        "digest": image.digest(),
        "token": to_token(image),
    }


def from_json(data: dict[str, Any], where: str) -> EfuseImage:
    if data.get("format") != SNAPSHOT_FORMAT:
        raise InputError(f"{where}: not a fusebook snapshot")
    if data.get("version") != SNAPSHOT_VERSION:
        raise InputError(f"{where}: snapshot version {data.get('version')} is not supported")
    chip = load_chip(str(data.get("chip")), data.get("revision"))
    try:
        words = [[_hex_word(w) for w in data["blocks"][b.name]] for b in chip.blocks]
        errors = {k: _hex_word(v) for k, v in (data.get("errors") or {}).items()}
        identity = {k: _hex_word(v) for k, v in (data.get("identity") or {}).items()}
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        raise InputError(f"{where}: malformed snapshot ({e})") from None
    return EfuseImage.from_words(chip, words, errors, identity)


# -- one entry point -----------------------------------------------------------------
def load_snapshot(spec: str, chip_name: str | None = None) -> EfuseImage:
    """An image from any supported snapshot form (see the module docstring)."""
    if spec == "blank":
        if not chip_name:
            raise InputError("`--snapshot blank` needs `--chip`")
        return EfuseImage.blank(load_chip(chip_name, 0))
    if spec.startswith(("EFSR:", "EFSW:", "EFSRW:")):
        return from_token(spec)
    path = Path(spec)
    if "\0" in spec or not path.exists():
        raise InputError(f"{spec}: no such snapshot file", hint="give a file, an EFSR: token or `blank`")
    raw = read_bounded(path, "snapshot", limit=SNAPSHOT_FILE_LIMIT)
    head = raw[:6]
    if head.startswith((b"{", b"EFS")):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InputError(f"{spec}: not UTF-8 text (byte {e.start})") from None
    if head.startswith(b"{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{spec}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") from None
        except RecursionError:
            raise InputError(f"{spec}: not valid JSON (nested too deeply)") from None
        if not isinstance(data, dict):
            raise InputError(f"{spec}: not a fusebook snapshot")
        return from_json(data, spec)
    if head.startswith(b"EFS"):
        return from_token(text.strip(), spec)
    if not chip_name:
        raise InputError(f"{spec}: an espefuse efuse file needs `--chip`")
    return from_efuse_file(path, load_chip(chip_name), raw)


def _full(chip: ChipDef, block: int) -> int:
    return (1 << (32 * chip.blocks[block].words)) - 1


def _purposes_are_digests(chip: ChipDef, raws: set[int]) -> bool:
    """True if the key purposes a block has (before or after a burn) are all public digests."""
    named = {raw for raw in raws if raw != 0}
    if not named:
        return False
    # a value that also names a secret purpose (ESP32-P4 CUSTOM_13 / CUSTOM_DIGEST_13) is secret
    digests = {kp.value for kp in chip.key_purposes if kp.digest}
    digests -= {kp.value for kp in chip.key_purposes if not kp.digest}
    return named <= digests


def secret_bits(image: EfuseImage, *, planned: Mapping[int, int] | None = None,
                others: Iterable[EfuseImage] = (), unknown: bool = False) -> dict[int, int]:
    """Per block id, the bits that may hold key or secret data and so never leave the process.

    Redaction follows what the recipe declares secret and every key purpose, not only what
    the chip protects today, so that a key burned but not yet protected (an interrupted
    apply) is hidden as well as one read-protected:

    - `planned`: bits the plan burns from secret data (keys, secret inputs as block data or
      field values), from `BurnPlan.secret_bits`;
    - a key block is hidden whole unless every purpose it holds, on the chip or in `others`
      (the plan's before- and after-images), is a public secure-boot digest; a block with
      no purpose yet (USER) is hidden too, since it may hold a key whose purpose is not
      burned yet;
    - ESP32: BLOCK1 (flash_encryption) and BLOCK2 (secure_boot) always;
    - ESP32-C2 (purposes by target): the flash key half always, the whole of BLOCK_KEY0 once
      a 256-bit key is (or is to be) burned; the digest half stays visible otherwise (the
      plan does not mark a digest as secret data).

    - `unknown`: secrets are involved but no plan says where (a refused unit of a recipe with
      secret inputs or keys): every block but BLOCK0.

    Secure-boot digests are public and stay visible, whatever the plan marks.
    """
    chip = image.chip
    images = (image, *others)
    out: dict[int, int] = {b.id: _full(chip, b.id) for b in chip.blocks[1:]} if unknown else {}
    for block, mask in (planned or {}).items():
        out[block] = out.get(block, 0) | mask
    public: dict[int, int] = {}
    for b in chip.key_blocks:
        name = b.key_purpose_field or ""
        if not chip.has_field(name):
            continue
        if _purposes_are_digests(chip, {img.raw(name) for img in images}):
            public[b.id] = _full(chip, b.id)
        else:
            out[b.id] = _full(chip, b.id)
    if chip.purposes_by_target:  # ESP32-C2: the purpose is where the key goes
        for kp in chip.key_purposes:
            if not kp.target or not chip.has_field(kp.target) or kp.value == 0 or kp.digest:
                continue
            if all(any(img.raw(n) for img in images) for n in kp.sets if chip.has_field(n)):
                target = chip.field(kp.target)
                out[target.block] = out.get(target.block, 0) | target.mask
    for name in chip.secret_blocks:  # key blocks with no KEY_PURPOSE field to tell
        b = chip.block(name)
        out[b.id] = _full(chip, b.id)
    for block, mask in public.items():
        if block in out:
            out[block] &= ~mask
    return {block: mask for block, mask in out.items() if mask}


def redacted(image: EfuseImage, bits: Mapping[int, int] | None = None) -> EfuseImage:
    """The image with the bits that may hold secrets zeroed, for records, plans and logs.

    `bits` is what `secret_bits` gives (with the plan's knowledge where there is a plan);
    without it, what the chip alone says is secret.
    """
    if bits is None:
        bits = secret_bits(image)
    blocks = list(image.blocks)
    for block, mask in bits.items():
        blocks[block] &= ~mask
    return image.with_blocks(tuple(blocks))
