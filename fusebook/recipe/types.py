"""The kinds of values a recipe holds, each checked twice: as written, and as rendered.

Any string in a step may be a template, so a field that wants an integer must also take
`"{{ vars.offset }}"`. Each kind here is a pydantic marker that (1) checks a literal
value when the recipe is loaded, letting templates through, (2) describes itself in the
JSON Schema as "this, or a template", and (3) checks what a template rendered to, per
unit, without pydantic (rendering 1,000 units a second leaves no room for it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from fusebook.numbers import parse_int
from fusebook.recipe.secret_value import SecretValue
from fusebook.secret import Secret

TEMPLATE_RE = re.compile(r"\{\{|\{%")

TEMPLATE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"\{\{|\{%",
    "description": "a Jinja template, rendered for each unit",
}


def is_template(value: object) -> bool:
    """True for a string that holds `{{ ... }}` or `{% ... %}` (else it is taken literally)."""
    return isinstance(value, str) and TEMPLATE_RE.search(value) is not None


class ValueKindError(ValueError):
    """A rendered value does not fit where it goes; the message says what was expected."""


def _type_name(value: object) -> str:
    if isinstance(value, (Secret, SecretValue)):
        return "a secret"
    if value is None:
        return "nothing (none)"
    if isinstance(value, bool):
        return "true/false"
    names = {int: "an integer", str: "text", bytes: "bytes", list: "a list", dict: "a mapping",
             float: "a number with a fraction", tuple: "a list"}
    return names.get(type(value), f"a {type(value).__name__}")


def _secret_value_error(value: object) -> None:
    if isinstance(value, SecretValue):
        raise ValueKindError(
            "a value from a secret input cannot be used as is; turn its hex text into key "
            "bytes with `| unhex`"
        )


_HEX_DIGITS = re.compile(r"^[0-9A-Fa-f]+$")
_MAC_TEXT = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
VOLTAGES = ("1.8V", "3.3V", "OFF")


# -- literal checks (load time) and rendered checks (per unit) ---------------------------
def _int_literal(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            raise ValueKindError("must not be negative")
        return v
    if isinstance(v, str):
        try:
            return _int_literal(parse_int(v.strip(), 0))
        except ValueError:
            pass
    raise ValueKindError(f"expected a whole number, found {_type_name(v)}")


def _bool_literal(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in ("true", "false"):
        return v.strip().lower() == "true"
    raise ValueKindError(f"expected true or false, found {_type_name(v)}")


def _text_literal(v: Any) -> Any:
    if isinstance(v, str):
        return v
    raise ValueKindError(f"expected text, found {_type_name(v)}")


def _text_rendered(v: Any) -> Any:
    _secret_value_error(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    raise ValueKindError(f"expected text, the template gave {_type_name(v)}")


def _name_literal(v: Any) -> Any:
    if isinstance(v, str) and v.strip():
        return v.strip()
    raise ValueKindError(f"expected a name, found {_type_name(v)}")


def _name_rendered(v: Any) -> Any:
    _secret_value_error(v)
    return _name_literal(v)


def _block_literal(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return _int_literal(v)
    if isinstance(v, str) and v.strip():
        return v.strip()
    raise ValueKindError(f"expected a block name or number, found {_type_name(v)}")


def _block_rendered(v: Any) -> Any:
    _secret_value_error(v)
    return _block_literal(v)


def _efuse_literal(v: Any) -> Any:
    if isinstance(v, bool) or isinstance(v, str):
        return v
    if isinstance(v, int):
        return _int_literal(v)
    raise ValueKindError(
        f"expected a number, true/false, or text (0x.., hex bytes, a MAC, a key purpose), "
        f"found {_type_name(v)}"
    )


def _efuse_rendered(v: Any) -> Any:
    _secret_value_error(v)
    if isinstance(v, (bytes, Secret)):
        return v
    return _efuse_literal(v)


def _data_literal(v: Any) -> Any:
    if isinstance(v, str):
        text = "".join(v.split())
        digits = text[2:] if text[:2].lower() == "0x" else text
        if digits and len(digits) % 2 == 0 and _HEX_DIGITS.match(digits):
            return v
        raise ValueKindError("is not hex bytes (an even number of hex digits, e.g. 00112233)")
    if isinstance(v, int) and not isinstance(v, bool):
        raise ValueKindError('expected hex bytes, found a number: put hex data in quotes ("00112233")')
    raise ValueKindError(f"expected hex bytes, found {_type_name(v)}")


def _data_rendered(v: Any) -> Any:
    _secret_value_error(v)
    if isinstance(v, (bytes, Secret)):
        return v
    if isinstance(v, bytearray):
        return bytes(v)
    return _data_literal(v)


def _mac_literal(v: Any) -> Any:
    if isinstance(v, str) and _MAC_TEXT.match(v.strip()):
        return v.strip()
    if isinstance(v, str):
        raise ValueKindError("is not a MAC address (write it as AA:BB:CC:DD:EE:FF)")
    raise ValueKindError(f"expected a MAC address, found {_type_name(v)}")


def _mac_rendered(v: Any) -> Any:
    _secret_value_error(v)
    return _mac_literal(v)


def _voltage_literal(v: Any) -> Any:
    if isinstance(v, str):
        for choice in VOLTAGES:
            if v.strip().upper() == choice:
                return choice
    raise ValueKindError("expected one of 1.8V, 3.3V, OFF")


def _expression_literal(v: Any) -> Any:
    if isinstance(v, (bool, str)):
        return v
    raise ValueKindError(f"expected an expression or true/false, found {_type_name(v)}")


# -- the markers --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Leaf:
    """One scalar kind: its literal check, its rendered check, and its JSON Schema."""

    name: str
    literal: Callable[[Any], Any]
    rendered: Callable[[Any], Any]
    schema: dict[str, Any]
    templates: bool = True

    def validate(self, value: Any) -> Any:
        if self.templates and is_template(value):
            return value
        try:
            return self.literal(value)
        except ValueKindError as e:
            raise PydanticCustomError("fusebook", str(e)) from None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        plain_text = self.schema.get("type") == "string" and not {"pattern", "enum"} & set(self.schema)
        if not self.templates or plain_text:  # any text already admits a template
            return dict(self.schema)
        return {"anyOf": [dict(self.schema), dict(TEMPLATE_SCHEMA)]}


@dataclass(frozen=True, eq=False)
class OrTemplate:
    """A list, mapping or model in the recipe, or one template that renders to it.

    With `single`, a lone string stands for a list of that one string (e.g.
    `write_protect_efuse: DIS_USB_JTAG`).
    """

    inner: Any
    single: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        inner = handler.generate_schema(self.inner)
        single = self.single

        def wrap(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Any:
            if is_template(value):
                return value
            if single and isinstance(value, str):
                value = [value]
            return validate(value)

        return core_schema.no_info_wrap_validator_function(wrap, inner)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        inner = handler(schema)
        alternatives = [inner, {"type": "string"} if self.single else dict(TEMPLATE_SCHEMA)]
        return {"anyOf": alternatives}


INT = Leaf("a whole number", _int_literal, _int_literal, {"type": "integer", "minimum": 0})
BOOL = Leaf("true or false", _bool_literal, _bool_literal, {"type": "boolean"})
TEXT = Leaf("text", _text_literal, _text_rendered, {"type": "string"})
NAME = Leaf("a name", _name_literal, _name_rendered, {"type": "string", "minLength": 1})
BLOCK = Leaf(
    "a block", _block_literal, _block_rendered,
    {"anyOf": [{"type": "string", "minLength": 1}, {"type": "integer", "minimum": 0}],
     "description": "a block name (BLOCK_KEY0, BLOCK3, flash_encryption, ...) or number"},
)
EFUSE_VALUE = Leaf(
    "a field value", _efuse_literal, _efuse_rendered,
    {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "boolean"}, {"type": "string"}],
     "description": "a number, true/false, 0x.. hex, hex bytes, a MAC, or a key purpose"},
)
DATA = Leaf(
    "hex bytes", _data_literal, _data_rendered,
    {"type": "string", "pattern": r"^\s*(0[xX])?[0-9A-Fa-f\s]+$",
     "description": "hex bytes in memory order (0x... is a number: its last byte first)"},
)
MAC = Leaf(
    "a MAC address", _mac_literal, _mac_rendered,
    {"type": "string", "pattern": r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$"},
)
VOLTAGE = Leaf("a flash voltage", _voltage_literal, _voltage_literal, {"enum": list(VOLTAGES)})
EXPRESSION = Leaf(
    "an expression", _expression_literal, _expression_literal,
    {"type": ["string", "boolean"], "description": "a Jinja expression (no {{ }} needed)"},
    templates=False,
)


# -- checking rendered values against an annotation ---------------------------------------
def markers(metadata: list[Any] | tuple[Any, ...]) -> tuple[Leaf | None, OrTemplate | None]:
    leaf = next((m for m in metadata if isinstance(m, Leaf)), None)
    wrap = next((m for m in metadata if isinstance(m, OrTemplate)), None)
    return leaf, wrap


def strip_optional(annotation: Any) -> Any:
    """`X` for `X | None` (rendered values are never None: absent keys are left out)."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _annotated_parts(annotation: Any) -> tuple[Any, list[Any]]:
    """(base type, metadata) of `Annotated[base, *metadata]`, else (annotation, [])."""
    annotation = strip_optional(annotation)
    metadata = getattr(annotation, "__metadata__", None)
    if metadata is not None:
        return annotation.__origin__, list(metadata)
    return annotation, []


def rendered_check(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> Callable[[Any], Any]:
    """A function checking (and normalising) what a template rendered to for `annotation`."""
    base, extra = _annotated_parts(annotation)
    leaf, wrap = markers([*metadata, *extra])
    if leaf is not None:
        return leaf.rendered
    if wrap is not None:
        inner = rendered_check(wrap.inner)
        if wrap.single:
            def single_or_list(value: Any) -> Any:
                return inner([value] if isinstance(value, str) else value)
            return single_or_list
        return inner
    origin = get_origin(base)
    if origin is list:
        (item_ann,) = get_args(base)
        item = rendered_check(item_ann)

        def check_list(value: Any) -> Any:
            if not isinstance(value, (list, tuple)):
                raise ValueKindError(f"expected a list, the template gave {_type_name(value)}")
            return [item(v) for v in value]
        return check_list
    if origin is dict:
        key_ann, value_ann = get_args(base)
        key, val = rendered_check(key_ann), rendered_check(value_ann)

        def check_dict(value: Any) -> Any:
            if not isinstance(value, dict):
                raise ValueKindError(f"expected a mapping, the template gave {_type_name(value)}")
            return {key(k): val(v) for k, v in value.items()}
        return check_dict
    if isinstance(base, type) and issubclass(base, BaseModel):
        return _model_check(base)
    return _any_rendered


def _any_rendered(value: Any) -> Any:
    return value


def _model_check(model: type[BaseModel]) -> Callable[[Any], Any]:
    checks = {name: rendered_check(f.annotation, f.metadata) for name, f in model.model_fields.items()}
    required = [name for name, f in model.model_fields.items() if f.is_required()]

    def check_model(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueKindError(f"expected a mapping, the template gave {_type_name(value)}")
        unknown = [k for k in value if k not in checks]
        if unknown:
            raise ValueKindError(f"unknown key {unknown[0]!r}; known: {', '.join(checks)}")
        missing = [k for k in required if k not in value]
        if missing:
            raise ValueKindError(f"missing {missing[0]!r}")
        return {k: (checks[k](v) if v is not None else None) for k, v in value.items()}
    return check_model


# -- the annotated types recipe models (and step kinds) are written in -----------------------
class StrictModel(BaseModel):
    """A part of a recipe: frozen, and no key it does not name."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def no_items() -> list[Any]:
    """`default_factory` of a list field that may be left out.

    Not `list` itself: pydantic reads a factory's signature, and the first signature of a
    builtin compiles the tokenize module's patterns, milliseconds of every start-up."""
    return []


def no_entries() -> dict[Any, Any]:
    """`default_factory` of a mapping field that may be left out (why not `dict`: `no_items`)."""
    return {}


Int = Annotated[int | str, INT]
Bool = Annotated[bool | str, BOOL]
Text = Annotated[str, TEXT]
Name = Annotated[str, NAME]
BlockRef = Annotated[str | int, BLOCK]
EfuseValue = Annotated[int | bool | str, EFUSE_VALUE]
HexData = Annotated[str, DATA]
Expression = Annotated[str | bool, EXPRESSION]
NameList = Annotated[list[Name] | str, OrTemplate(list[Name], single=True)]

#: Names of inputs and vars: usable as `inputs.NAME` / `vars.NAME` in templates.
IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]
#: JSON Schema for mappings keyed by identifiers: only the `patternProperties` are allowed.
NAMES_ONLY: dict[str, Any] = {"additionalProperties": False}
