"""The recipe test case format, version 1, as pydantic models (and from them, its JSON Schema).

A test file (`NAME.test.yaml`, beside the recipe it tests) holds cases; a recipe may also
carry cases of its own under `tests:`. A case says which unit to plan (index, `--set`
values, input overrides), what chip it starts from, and what must happen. The models only
describe the file as written; field and block names are checked against the chip when a
case runs, since only then is the chip known.

The recipe models embed `CaseSpec` under `tests:`; this module needs nothing of them.
`fusebook.testing` runs the cases.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from fusebook.recipe.types import no_entries

#: Case ids: what the report, JUnit and `path::id` call a case.
CASE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

#: The contract's exit classes by name (docs/cli.md); a case may give either.
EXIT_CLASSES: dict[str, int] = {
    "ok": 0,
    "invalid-input": 2,
    "plan-impossible": 3,
    "link-error": 4,
    "burn-failed": 5,
    "aborted": 130,
}
EXIT_NAMES: dict[int, str] = {v: k for k, v in EXIT_CLASSES.items()}

#: A field's expected value: a number, true/false, or text (a MAC, hex, `<secret>`).
FieldValue = int | bool | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class StartSpec(_Strict):
    """The chip a case starts from: a snapshot (or blank), then a few fields burned on it."""

    chip: str | None = Field(
        default=None, description="chip name; default: the file's `chip:`, else the recipe's first chip")
    snapshot: str = Field(
        default="blank", description="`blank`, an EFSR: token, or a snapshot file relative to the test file "
        "(fusebook JSON, espefuse efuse file, or a file holding a token)")
    fields: dict[str, FieldValue] = Field(
        default_factory=no_entries, description="fields burned on the starting chip before the case runs")
    factory_mac: str | None = Field(
        default=None, description="the virtual chip's factory MAC when the start has none "
        "(default 7c:df:a1:00:00:01)")


def _kind(value: Any) -> str:
    """Which member of a text-or-other union a value is, so errors come from that one only."""
    return "text" if isinstance(value, str) else "other"


ExitCode = Literal[0, 2, 3, 4, 5, 130]
ExitClass = Literal["ok", "invalid-input", "plan-impossible", "link-error", "burn-failed", "aborted"]


class Expect(_Strict):
    """What must happen. Only what is given is checked; `exit` is always checked."""

    exit: Annotated[Annotated[ExitClass, Tag("text")] | Annotated[ExitCode, Tag("other")], Discriminator(_kind)] \
        | None = Field(default=None, description="exit code or class; default 0 (ok), or 3 (plan-impossible) with `refusal`")
    refusal: str | None = Field(
        default=None, description="a regular expression the error message must match (re.search)")
    changes: dict[str, FieldValue] | None = Field(
        default=None, description="exactly these fields change, to these values (`<secret>` for key material)")
    changes_include: dict[str, FieldValue] | None = Field(
        default=None, description="at least these fields change, to these values; others may too")
    unchanged: list[str] | None = Field(default=None, description="these fields must not change")
    warnings: list[str] | None = Field(
        default=None, description="regular expressions: every warning matches one, each matches a warning "
        "(`[]`: no warnings)")
    skipped: list[str] | None = Field(default=None, description="exactly these blocks are skipped (already burned)")
    ensure_fails: list[str] | None = Field(
        default=None, description="regular expressions for the `ensure` assertions that do not hold "
        "(matched against the expression or its message); `[]`: every ensure holds")

    @property
    def exit_code(self) -> int:
        """The exit code the case must end with."""
        if self.exit is None:
            return 3 if self.refusal is not None else 0
        return self.exit if isinstance(self.exit, int) else EXIT_CLASSES[self.exit]


class CaseSpec(_Strict):
    """One case of a recipe's own `tests:` list (the recipe is the one it is written in)."""

    id: str = Field(pattern=CASE_ID, description="the case's name in reports: letters, digits, _ . -")
    description: str = ""
    mode: Literal["apply", "plan"] = Field(
        default="apply", description="apply: burn a virtual chip in memory and read it back; plan: plan only")
    index: int | None = Field(default=None, description="the unit's index (`--index`)")
    set: dict[str, Any] = Field(default_factory=no_entries, description="var overrides (`--set NAME=VALUE`)")
    inputs: dict[str, str] = Field(
        default_factory=no_entries, description="input file overrides (`--input NAME=PATH`), relative to the test file")
    start: Annotated[Annotated[str, Tag("text")] | Annotated[StartSpec, Tag("other")], Discriminator(_kind)] = Field(
        default="blank", description="the starting chip; a string is shorthand for `snapshot:`")
    expect: Expect = Field(default_factory=lambda: Expect(), description="what must happen (default: exit 0)")

    @property
    def start_spec(self) -> StartSpec:
        return StartSpec(snapshot=self.start) if isinstance(self.start, str) else self.start


class FileCaseSpec(CaseSpec):
    """One case of a test file: may name its own recipe."""

    recipe: str | None = Field(default=None, description="the recipe, relative to the test file (default: the file's)")


class CaseFile(_Strict):
    """A recipe test file (`NAME.test.yaml`), format version 1."""

    #: what messages call such a document (fusebook.recipe.document)
    format_name: ClassVar[str] = "test"

    model_config = ConfigDict(
        extra="forbid", frozen=True,
        json_schema_extra={"title": "fusebook recipe tests",
                           "description": "Test cases for fusebook recipes (format version 1)"},
    )

    fusebook: Literal[1] = Field(description="test format version")
    description: str = ""
    recipe: str | None = Field(
        default=None, description="the recipe under test, relative to this file (default: NAME.yaml for NAME.test.yaml)")
    chip: str | None = Field(default=None, description="default starting chip of every case")
    cases: list[FileCaseSpec] = Field(min_length=1)
