"""What every step kind is made of (fusebook.steps.base) and include's short form.

`validate`'s shared checks of a step's block and file, the hint a multi-chip recipe gets for
a name one of its chips lacks, a step key in either spelling in the JSON Schema, the bytes of
a `file:`/`data:` value, and the refusal of a kind that has no translation into requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest
from pydantic import TypeAdapter, ValidationError

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import InputError, SourceLocation
from fusebook.plan.requests import Operation, PlanContext
from fusebook.secret import Secret
from fusebook.steps import STEPS
from fusebook.steps.base import StepBase, material
from fusebook.steps.include import IncludeArgs, _PathOrArgs

C3 = load_chip("esp32c3")


def _problems(tmp_path: Path, chips: str, steps: str) -> list[tuple[str, str | None]]:
    """(line:column message, hint) of each problem `validate` finds."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"fusebook: 1\nname: r\nchip: {chips}\nvars: {{b: BLOCK3, f: d.bin}}\nsteps:\n{steps}")
    found = api.validate_recipe(recipe).problems
    return [(f"{p.location.line}:{p.location.column} {p.message}", p.hint) for p in found]


# -- StepCheck -------------------------------------------------------------------------------
def test_a_block_number_past_the_last_is_named_at_the_number(tmp_path: Path) -> None:
    last = len(C3.blocks) - 1
    assert _problems(tmp_path, "esp32c3", f"  - burn_bit: {{block: {last}, bits: [1]}}\n") == []
    assert _problems(tmp_path, "esp32c3", f"  - burn_bit: {{block: {last + 1}, bits: [1]}}\n") == [
        (f"6:23 esp32c3 has no block {last + 1}", None)]


def test_a_templated_block_or_file_is_left_to_the_rendered_step(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "  - burn_bit: {block: \"{{ vars.b }}\", bits: [1]}\n") == []
    assert _problems(tmp_path, "esp32c3", "  - burn_block_data: {block: BLOCK3, file: \"{{ vars.f }}\"}\n") == []
    assert _problems(tmp_path, "esp32c3", "  - burn_block_data: {block: BLOCK3, file: d.bin}\n") == [
        (f"6:44 file d.bin does not exist (looked at {tmp_path}/d.bin)", None)]


def test_a_block_one_chip_of_several_lacks_adds_how_to_leave_the_step_out_there(tmp_path: Path) -> None:
    found = _problems(tmp_path, "[esp32, esp32c3]", "  - burn_bit: {block: BLOCK_KEY5, bits: [1]}\n")
    assert found == [("6:23 esp32 has no eFuse block 'BLOCK_KEY5'",
                      "did you mean BLOCK3? (or leave the step out there with `when: \"chip.name != 'esp32'\"`)")]
    assert _problems(tmp_path, "esp32", "  - burn_bit: {block: BLOCK_KEY5, bits: [1]}\n") == [
        ("6:23 esp32 has no eFuse block 'BLOCK_KEY5'", "did you mean BLOCK3?")]


def test_a_bad_value_on_one_chip_of_several_keeps_its_own_hint(tmp_path: Path) -> None:
    found = _problems(tmp_path, "[esp32c3, esp32s3]", "  - burn_efuse: {SOFT_DIS_JTAG: 9}\n")
    assert found[0] == ("6:33 9 does not fit SOFT_DIS_JTAG (3 bits)", "the largest value is 0x7")


# -- the step key's two spellings in the JSON Schema --------------------------------------------
class _TwoArgs(StepBase):
    kind: ClassVar[str] = "two_args"
    two_args: int
    other: int


class _Optional(StepBase):
    kind: ClassVar[str] = "optional_arg"
    optional_arg: int = 0


def test_the_schema_takes_either_spelling_of_the_step_key_and_keeps_its_other_requirements() -> None:
    schema = _TwoArgs.model_json_schema()
    assert schema["properties"]["two-args"] == schema["properties"]["two_args"]
    assert schema["required"] == ["other"]
    assert schema["oneOf"] == [{"required": ["two_args"]}, {"required": ["two-args"]}]
    assert "required" not in STEPS["burn_bit"].model.model_json_schema()
    optional = _Optional.model_json_schema()
    assert "required" not in optional
    assert optional["oneOf"] == [{"required": ["optional_arg"]}, {"required": ["optional-arg"]}]


# -- the bytes of a file: or data: value --------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    (None, b""), (b"\x01\x02", b"\x01\x02"), ("PEM", b"PEM"), (Secret(b"key"), b"key")])
def test_material_is_the_bytes_as_read(value: Any, expected: bytes) -> None:
    assert material(value) == expected


# -- a kind with no translation into requests -------------------------------------------------
def test_a_kind_without_requests_refuses_at_its_step() -> None:
    op = Operation("include", {"file": "f.yaml"}, "", SourceLocation("r.yaml", 3, 5))
    with pytest.raises(InputError) as caught:
        STEPS["include"].requests(PlanContext(C3, EfuseImage.blank(C3)), op)
    assert caught.value.message == "include: unknown step 'include'"
    assert str(caught.value.location) == "r.yaml:3:5"


# -- include: path is short for include: {file: path} ------------------------------------------
def test_include_takes_a_path_or_its_arguments() -> None:
    include = TypeAdapter(Annotated[IncludeArgs, _PathOrArgs()])  # the step's own schema, built here
    assert include.validate_python("f.yaml") == IncludeArgs(file="f.yaml")
    assert include.validate_python({"file": "f.yaml", "vars": {"n": 1}}) == IncludeArgs(file="f.yaml", vars={"n": 1})
    with pytest.raises(ValidationError):
        include.validate_python({"vars": {"n": 1}})
    with pytest.raises(ValidationError):
        include.validate_python(3)
