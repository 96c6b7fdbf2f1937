"""espefuse commands, as espefuse 4's command strings or esptool 5's API calls, as recipe steps.

Both spellings of a command come here with their arguments already read (`Value`s), and
leave as one or more step mappings of the recipe format. What has no step equivalent (an
option fusebook does not offer, a value espefuse picks from the chip) is `Untranslatable`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fusebook.convert.values import (
    FileRef,
    Known,
    Sym,
    Text,
    Untranslatable,
    Value,
    expr_of,
    paren,
    template_of,
)

#: Commands that only read the chip: nothing to burn, so nothing to convert.
READ_ONLY = {"summary", "dump", "get_custom_mac", "adc_info", "check_error"}

#: Options that do not change what ends up burned.
HARMLESS_OPTIONS = {"--force-write-always", "--show-sensitive-info"}

Step = dict[str, Any]
PathFor = Callable[[str], str]


def command_name(word: str) -> str:
    """espefuse 5's `burn-efuse` and 4's `burn_efuse` are one command."""
    return word.replace("-", "_")


def _int_text(text: str) -> int | None:
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"0[xX][0-9a-fA-F]{1,16}", text):
        return int(text, 16)
    return None


def efuse_value(value: Value) -> Any:
    """A `burn_efuse` value: numbers as numbers, names and MACs as text, per-unit values as templates."""
    if isinstance(value, Known):
        v = value.value
        if isinstance(v, bool | int):
            return int(v)
        if isinstance(v, str):
            number = _int_text(v.strip())
            return number if number is not None else v
        if isinstance(v, bytes):
            return v.hex()
        raise Untranslatable(f"a {type(v).__name__} eFuse value")
    return template_of(value)


def name_of(value: Value, what: str) -> Any:
    """A field, block or purpose name (a per-unit name becomes a template)."""
    if isinstance(value, Known):
        if isinstance(value.value, str | int) and not isinstance(value.value, bool):
            return value.value
        raise Untranslatable(f"{what} that is not a name")
    return template_of(value)


def file_of(value: Value, path_for: PathFor) -> tuple[str, Any]:
    """A key or data file: (`file`, path) for a file on disk, (`data`, hex) for bytes in the script."""
    if isinstance(value, FileRef):
        return "file", path_for(value.path)
    if isinstance(value, Known) and isinstance(value.value, str):
        return "file", path_for(value.value)
    if isinstance(value, Known) and isinstance(value.value, bytes):
        return "data", value.value.hex()
    raise Untranslatable("a key or data file named at run time")


def bits_of(values: list[Value]) -> Any:
    """`burn_bit` bit numbers: a list, or a template list when some are per unit."""
    if all(isinstance(v, Known) for v in values):
        out = []
        for v in values:
            x = v.value  # type: ignore[union-attr]
            n = x if isinstance(x, int) and not isinstance(x, bool) else _int_text(str(x))
            if n is None:
                raise Untranslatable(f"bit number {x!r} is not a number")
            out.append(n)
        return out
    parts = []
    for v in values:
        if isinstance(v, Known):
            parts.append(str(int(v.value)))
        elif isinstance(v, Text) and len(v.pieces) == 1 and isinstance(v.pieces[0], Sym):
            parts.append(f"{paren(v.pieces[0].expr)}|int")
        elif isinstance(v, Sym | Text):
            parts.append(f"{paren(expr_of(v))}|int")
        else:
            raise Untranslatable("a bit number that is not a number")
    return "{{ [" + ", ".join(parts) + "] }}"


def mac_of(value: Value) -> Any:
    if isinstance(value, Known) and isinstance(value.value, bytes):
        if len(value.value) != 6:
            raise Untranslatable("a MAC that is not 6 bytes")
        return ":".join(f"{b:02x}" for b in value.value)
    if isinstance(value, Known) and isinstance(value.value, str):
        return value.value
    return template_of(value)


def voltage_of(value: Value) -> Any:
    if isinstance(value, Known) and value.value in ("1.8V", "3.3V", "OFF"):
        return value.value
    raise Untranslatable("a flash voltage other than 1.8V, 3.3V or OFF")


# -- one builder per step kind: the arguments both spellings share --------------------------
def burn_efuse(pairs: list[tuple[Value, Value]]) -> Step:
    body: dict[Any, Any] = {}
    for name, value in pairs:
        key = name_of(name, "a field")
        if not isinstance(key, str):
            raise Untranslatable("a field named by a number")
        body[key] = efuse_value(value)
    return {"burn_efuse": body}


def burn_key(chip: str, block: Value, source: Value, purpose: Value | None, *,
             read_protect: bool | None, write_protect: bool | None, path_for: PathFor) -> Step:
    kind, where = file_of(source, path_for)
    if kind != "file":  # never copy key material into a recipe (or onto a terminal)
        raise Untranslatable("key bytes written in the script: save them in a key file and "
                             "name it with `file:`")
    args: dict[str, Any] = {"block": name_of(block, "a block")}
    if purpose is not None and chip != "esp32":
        args["purpose"] = name_of(purpose, "a key purpose")
    args[kind] = where
    if read_protect is not None:
        args["read_protect"] = read_protect
    if write_protect is not None:
        args["write_protect"] = write_protect
    return {"burn_key": args}


def burn_key_digest(chip: str, block: Value | None, source: Value, purpose: Value | None,
                    path_for: PathFor) -> Step:
    kind, where = file_of(source, path_for)
    if kind != "file":
        raise Untranslatable("a digest of key bytes held in the script (fusebook takes a PEM file)")
    if chip == "esp32":
        return {"burn_key_digest": {"block": "secure_boot_v2", "file": where}}
    if block is None or purpose is None:
        raise Untranslatable("burn_key_digest without a block and purpose")
    return {"burn_key_digest": {"block": name_of(block, "a block"),
                                "purpose": name_of(purpose, "a key purpose"), "file": where}}


def burn_block_data(block: Value, source: Value, offset: Value | None, path_for: PathFor) -> Step:
    kind, where = file_of(source, path_for)
    args: dict[str, Any] = {"block": name_of(block, "a block")}
    if offset is not None:
        off = efuse_value(offset)
        if off != 0:
            args["offset"] = off
    args[kind] = where
    return {"burn_block_data": args}


def burn_bit(block: Value, bits: list[Value]) -> Step:
    return {"burn_bit": {"block": name_of(block, "a block"), "bits": bits_of(bits)}}


def protect(kind: str, names: list[Value]) -> Step:
    out = [name_of(n, "a field") for n in names]
    return {kind: out[0] if len(out) == 1 else out}


# -- espefuse 4's command strings ----------------------------------------------------------
#: Options that take one value, and the one that takes several.
_VALUED = {"--offset", "--index"}
_MANY = {"--configfiles"}


def _is_option(w: Value) -> bool:
    return isinstance(w, Known) and isinstance(w.value, str) and w.value.startswith("--")


def split_options(words: list[Value]) -> tuple[list[Value], dict[str, list[Value]]]:
    """Positional words and `--option [values]`, as espefuse 4's parsers read them."""
    positional: list[Value] = []
    options: dict[str, list[Value]] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if _is_option(w):
            opt, _, val = str(w.value).partition("=")  # type: ignore[union-attr]
            values = options.setdefault(opt, [])
            if val:
                values.append(Known(val))
            elif opt in _VALUED and i + 1 < len(words):
                i += 1
                values.append(words[i])
            elif opt in _MANY:
                while i + 1 < len(words) and not _is_option(words[i + 1]):
                    i += 1
                    values.append(words[i])
        else:
            positional.append(w)
        i += 1
    return positional, options


def _flags(options: dict[str, list[Value]], allowed: set[str]) -> set[str]:
    for opt in options:
        if opt not in allowed | HARMLESS_OPTIONS:
            raise Untranslatable(f"option {opt} has no fusebook equivalent")
    return set(options)


def _groups(items: list[Value], size: int, what: str) -> list[list[Value]]:
    if not items or len(items) % size:
        raise Untranslatable(f"expected {what}")
    return [items[i:i + size] for i in range(0, len(items), size)]


def cli_command(chip: str, words: list[Value], path_for: PathFor) -> list[Step] | None:
    """The steps of one espefuse 4 command line (without `execute_scripts`); None if it only reads."""
    if not words or not isinstance(words[0], Known):
        raise Untranslatable("an espefuse command whose name is computed at run time")
    name = command_name(str(words[0].value))
    if name in READ_ONLY:
        return None
    pos, opts = split_options(words[1:])
    if name == "burn_efuse":
        _flags(opts, set())
        if len(pos) == 1:
            raise Untranslatable("burn_efuse without a value: espefuse picks it from the chip "
                                 "(1 for a bit, the next bit of a counter); write the value")
        return [burn_efuse([(g[0], g[1]) for g in _groups(pos, 2, "NAME VALUE pairs")])]
    if name in ("read_protect_efuse", "write_protect_efuse"):
        _flags(opts, set())
        if not pos:
            raise Untranslatable("no eFuse named")
        return [protect(name, pos)]
    if name == "burn_key":
        if chip == "esp32":
            flags = _flags(opts, {"--no-protect-key"})
            off = False if "--no-protect-key" in flags else None
            return [burn_key(chip, b, f, None, read_protect=off, write_protect=off, path_for=path_for)
                    for b, f in _groups(pos, 2, "BLOCK KEYFILE pairs")]
        flags = _flags(opts, {"--no-write-protect", "--no-read-protect"})
        return [burn_key(chip, b, f, p,
                         read_protect=False if "--no-read-protect" in flags else None,
                         write_protect=False if "--no-write-protect" in flags else None,
                         path_for=path_for)
                for b, f, p in _groups(pos, 3, "BLOCK KEYFILE PURPOSE triples")]
    if name == "burn_key_digest":
        if chip == "esp32":
            if "--no-protect-key" in opts:
                raise Untranslatable("burn_key_digest --no-protect-key: fusebook always "
                                     "write-protects a digest")
            _flags(opts, set())
            if len(pos) != 1:
                raise Untranslatable("expected one KEYFILE")
            return [burn_key_digest(chip, None, pos[0], None, path_for)]
        if "--no-write-protect" in opts:
            raise Untranslatable("burn_key_digest --no-write-protect: fusebook always "
                                 "write-protects a digest")
        _flags(opts, {"--no-read-protect"})  # digests are never read-protected anyway
        return [burn_key_digest(chip, b, f, p, path_for)
                for b, f, p in _groups(pos, 3, "BLOCK KEYFILE PURPOSE triples")]
    if name == "burn_block_data":
        _flags(opts, {"--offset"})
        offset = opts["--offset"][0] if opts.get("--offset") else None
        groups = _groups(pos, 2, "BLOCK DATAFILE pairs")
        if offset is not None and len(groups) > 1:
            raise Untranslatable("--offset with several blocks (espefuse refuses it)")
        return [burn_block_data(b, f, offset, path_for) for b, f in groups]
    if name == "burn_bit":
        _flags(opts, set())
        if len(pos) < 2:
            raise Untranslatable("expected BLOCK BIT...")
        return [burn_bit(pos[0], pos[1:])]
    if name == "burn_custom_mac":
        _flags(opts, set())
        if len(pos) != 1:
            raise Untranslatable("expected one MAC")
        return [{"burn_custom_mac": mac_of(pos[0])}]
    if name == "set_flash_voltage":
        _flags(opts, set())
        if len(pos) != 1:
            raise Untranslatable("expected one voltage")
        return [{"set_flash_voltage": voltage_of(pos[0])}]
    raise Untranslatable(f"espefuse command {name} has no fusebook step")
