"""`fusebook test`: find recipe test cases, run each against a virtual chip, judge the outcome.

Cases come from test files (`NAME.test.yaml`, whose recipe defaults to `NAME.yaml` beside
it) and from recipes' own `tests:` lists. Collecting reads and checks every file first, as
pytest does: a file that is not a valid test file is an error naming file:line:column,
and nothing runs. Each case then loads its recipe (a recipe that fails to load is an
outcome, exit 2, a case may expect), builds its starting chip, plans or applies, and
compares. A case whose own expectations cannot be checked (a field the chip lacks, a
snapshot that is not there) is an error of the test file, not a failure of the recipe.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusebook import api
from fusebook.chips.models import ChipDef
from fusebook.errors import FusebookError, InputError, SourceLocation
from fusebook.files import read_text_bounded
from fusebook.recipe.cases import CaseFile, CaseSpec, Expect
from fusebook.recipe.document import validate_document
from fusebook.recipe.yamlfile import NodePath, SourceMap, parse_yaml
from fusebook.testing import assertions as check
from fusebook.testing import compare
from fusebook.testing.outcome import Outcome, run_recipe
from fusebook.testing.start import start_image, virtual_session

TEST_SUFFIX = ".test.yaml"
#: Largest test file read (as a recipe file).
MAX_TEST_FILE_BYTES = 256 << 10
#: Folders never searched for tests.
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".mypy_cache"}
_HAS_TESTS = re.compile(r"^tests\s*:", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    """One collected case: where it is written and what it tests."""

    file: str
    spec: CaseSpec
    recipe: Path
    base_dir: Path
    chip: str | None
    smap: SourceMap
    path: NodePath

    @property
    def name(self) -> str:
        return f"{self.file}::{self.spec.id}"

    @property
    def location(self) -> SourceLocation:
        return self.smap.location(self.path)

    def at(self, *keys: str | int) -> SourceLocation:
        return self.smap.key_location((*self.path, *keys))


@dataclass
class CaseResult:
    """A case's verdict: passed, failed (the recipe did not do what it must) or error (the test is wrong)."""

    case: Case
    status: str
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        """The case as one line, as pytest prints a test (`fusebook test` while it runs)."""
        from fusebook.testing import report

        return report.result_line(self)


@dataclass
class Report:
    """Everything `fusebook test` found and ran."""

    results: list[CaseResult] = field(default_factory=list)
    errors: list[FusebookError] = field(default_factory=list)  # collection errors: nothing ran
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def exit_code(self) -> int:
        """2 for a bad test file (or none found), 1 when a case failed, else 0."""
        if self.errors or self.count("error") or not self.results:
            return 2
        return 1 if self.count("failed") else 0

    def text(self) -> str:
        """The failures' details and the summary line, as pytest ends a run."""
        from fusebook.testing import report

        return report.details_text(self)

    def to_json(self) -> dict[str, Any]:
        """`fusebook test --format json`."""
        from fusebook.testing import report

        return report.to_json(self)

    def junit(self) -> str:
        """A JUnit XML report, one test case per recipe test case (`fusebook test --junit`)."""
        from fusebook.testing import report

        return report.junit(self)


# -- collecting ----------------------------------------------------------------------
def _check_patterns(spec: CaseSpec, smap: SourceMap, at: NodePath) -> None:
    """Every pattern of a case compiles (InputError at the pattern itself if not)."""
    e = spec.expect
    places: list[tuple[str, str, NodePath]] = []
    if e.refusal is not None:
        places.append(("refusal", e.refusal, (*at, "expect", "refusal")))
    for key in ("warnings", "ensure_fails"):
        for i, p in enumerate(getattr(e, key) or []):
            places.append((key, p, (*at, "expect", key, i)))
    for key, pattern, path in places:
        try:
            re.compile(pattern)
        except re.error as err:
            raise InputError(f"{key}: {pattern!r} is not a regular expression ({err})",
                             location=smap.location(path),
                             hint="patterns are Python regular expressions, matched with re.search") from None


def _cases(file: str, specs: Sequence[CaseSpec], recipe_for: Any, base_dir: Path, chip: str | None,
           smap: SourceMap, key: str) -> list[Case]:
    out = []
    seen: dict[str, SourceLocation] = {}
    for i, spec in enumerate(specs):
        path: NodePath = (key, i)
        if spec.id in seen:
            raise InputError(f"case id {spec.id!r} is used twice", location=smap.location((*path, "id")),
                             related=(seen[spec.id],), hint="give every case its own id")
        seen[spec.id] = smap.location((*path, "id"))
        _check_patterns(spec, smap, path)
        out.append(Case(file, spec, recipe_for(spec, path), base_dir, chip, smap, path))
    return out


def load_test_file(path: Path) -> list[Case]:
    """The cases of a test file (InputError at file:line:column if it is not a valid one)."""
    display = str(path)
    text = read_text_bounded(path, "test file", limit=MAX_TEST_FILE_BYTES)
    data, smap = parse_yaml(text, display)
    if not isinstance(data, dict):
        raise InputError("expected a mapping of test file keys (fusebook:, recipe:, cases:)"
                         if data is not None else "the file is empty", location=smap.location(()))
    doc = validate_document(CaseFile, data, smap)
    base = path.parent
    default = doc.recipe
    if default is None and path.name.endswith(TEST_SUFFIX):
        default = path.name[: -len(TEST_SUFFIX)] + ".yaml"

    def recipe_for(spec: Any, at: NodePath) -> Path:
        name = spec.recipe or default
        where = smap.key_location((*at, "recipe")) if spec.recipe else smap.key_location(("recipe",))
        if not name:
            raise InputError("which recipe does this case test?", location=smap.location(at),
                             hint="add `recipe: FILE` to the file or the case")
        p = base / name
        if not p.is_file():
            raise InputError(f"recipe {name!r} not found (looked for {p})", location=where,
                             hint="recipe paths are relative to the test file")
        return p

    return _cases(display, doc.cases, recipe_for, base, doc.chip, smap, "cases")


def load_recipe_tests(path: Path) -> list[Case]:
    """The cases under a recipe's own `tests:` (the recipe loader checks them, located)."""
    from fusebook.recipe.loader import load_recipe

    recipe = load_recipe(path)
    smap = recipe.sources.smap
    return _cases(str(path), recipe.tests, lambda spec, at: path, path.parent, None, smap, "tests")


def _walk(root: Path) -> Iterator[Path]:
    for p in sorted(root.iterdir()):
        if p.is_dir():
            if p.name not in SKIP_DIRS and not p.name.startswith("."):
                yield from _walk(p)
        elif p.is_file():
            yield p


def _has_tests(path: Path) -> bool:
    try:
        text = read_text_bounded(path, "recipe file", limit=MAX_TEST_FILE_BYTES)
    except FusebookError:
        return False
    return bool(_HAS_TESTS.search(text)) and "fusebook:" in text


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(test files, recipes with `tests:`) under `paths`: folders are searched, files taken as given.

    A recipe given by name brings its `NAME.test.yaml` along, if there is one.
    """
    tests: list[Path] = []
    recipes: list[Path] = []
    for given in paths:
        if given.is_dir():
            for p in _walk(given):
                if p.name.endswith(TEST_SUFFIX):
                    tests.append(p)
                elif p.suffix in (".yaml", ".yml") and _has_tests(p):
                    recipes.append(p)
        elif given.name.endswith(TEST_SUFFIX):
            tests.append(given)
        elif given.is_file():
            if _has_tests(given):
                recipes.append(given)
            sibling = given.with_name(given.stem + TEST_SUFFIX)
            if sibling.is_file():
                tests.append(sibling)
        else:
            raise InputError(f"{given}: no such file or folder", hint="give test files, recipes or folders")
    return list(dict.fromkeys(tests)), list(dict.fromkeys(recipes))


def collect(paths: Iterable[Path]) -> tuple[list[Case], list[FusebookError]]:
    """Every case under `paths`, and every file that could not be read as tests."""
    cases: list[Case] = []
    errors: list[FusebookError] = []
    try:
        tests, recipes = discover(paths)
    except FusebookError as e:
        return [], [e]
    for p in tests:
        try:
            cases += load_test_file(p)
        except FusebookError as e:
            errors.append(e)
    for p in recipes:
        try:
            cases += load_recipe_tests(p)
        except FusebookError as e:
            errors.append(e)
    return cases, errors


# -- running -------------------------------------------------------------------------
def _set_text(value: Any) -> str:
    """A `set:` value as `--set` would carry it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Recipes:
    """Recipes loaded once per (path, inputs, vars): cases of one file share them."""

    def __init__(self) -> None:
        self.loaded: dict[tuple[Any, ...], api.LoadedRecipe | FusebookError] = {}

    def get(self, case: Case) -> api.LoadedRecipe | FusebookError:
        spec = case.spec
        inputs = {k: str(case.base_dir / v) for k, v in spec.inputs.items()}
        set_vars = {k: _set_text(v) for k, v in spec.set.items()}
        key = (case.recipe.resolve(), tuple(sorted(inputs.items())), tuple(sorted(set_vars.items())))
        if key not in self.loaded:
            try:
                self.loaded[key] = api.load_recipe(case.recipe, input_overrides=inputs, set_vars=set_vars)
            except FusebookError as e:
                self.loaded[key] = e
        return self.loaded[key]


def _known(chip: ChipDef | None, case: Case) -> ChipDef:
    if chip is None:
        raise InputError("the recipe did not load, so its chip is unknown: name it with `start: {chip: ...}`",
                         location=case.at("start"))
    return chip


def judge(case: Case, outcome: Outcome, chip: ChipDef | None) -> list[str]:
    """The differences between what `case` expects and `outcome`, located; [] if it passed.

    Each expectation is checked by the assertion helper a Python test would use, so both
    say the same thing; names are resolved first, so that a name the chip lacks is an
    InputError at the name (a bad test file), not a failure.
    """
    e: Expect = case.spec.expect
    out: list[str] = []

    def field(key: str, name: str, *at: str | int) -> str:
        return compare.canonical_field(_known(chip, case), name, case.at("expect", key, *at))

    checks: list[tuple[str, Callable[[], None]]] = [("exit", lambda: check.assert_exit(outcome, e.exit_code))]
    if e.refusal is not None:
        refusal = e.refusal
        checks.append(("refusal", lambda: check.assert_refused(outcome, refusal, exit=outcome.exit_code)
                       if outcome.exit_code else _went_through(refusal)))
    if e.changes is not None:
        exact = {field("changes", n, n): v for n, v in e.changes.items()}
        checks.append(("changes", lambda: check.assert_changes(outcome, exact)))
    if e.changes_include is not None:
        some = {field("changes_include", n, n): v for n, v in e.changes_include.items()}
        checks.append(("changes_include", lambda: check.assert_changes(outcome, some, exact=False)))
    if e.unchanged is not None:
        names = [field("unchanged", n) for n in e.unchanged]
        checks.append(("unchanged", lambda: check.assert_unchanged(outcome, names)))
    if e.warnings is not None:
        warnings = e.warnings
        checks.append(("warnings", lambda: check.assert_warnings(outcome, warnings)))
    if e.skipped is not None:
        blocks = [compare.canonical_block(_known(chip, case), b, case.at("expect", "skipped")) for b in e.skipped]
        checks.append(("skipped", lambda: check.assert_skipped(outcome, blocks)))
    if e.ensure_fails is not None:
        fails = e.ensure_fails
        checks.append(("ensure_fails", lambda: check.assert_ensure(outcome, fails)))
    for key, run_check in checks:
        try:
            run_check()
        except AssertionError as err:
            where = case.at("expect", key) if key in e.model_fields_set else case.location
            out.append(f"{where}: {err}")
    return out


def _went_through(pattern: str) -> None:
    raise AssertionError(f"expected a refusal matching {pattern!r}, but the recipe went through")


def run_case(case: Case, recipes: _Recipes | None = None) -> CaseResult:
    """Run one case and judge it."""
    start = time.perf_counter()
    loaded = (recipes or _Recipes()).get(case)
    spec = case.spec
    try:
        if isinstance(loaded, FusebookError):
            outcome = Outcome(loaded.exit_code, loaded)
            chip_name = spec.start_spec.chip or case.chip
            chip: ChipDef | None = api.load_chip(chip_name) if chip_name else None
        else:
            st = spec.start_spec
            where = case.at("start")
            image = start_image(st.chip or case.chip, st.snapshot, st.fields, base_dir=case.base_dir,
                                location=where, default_chip=loaded.chips[0])
            chip = image.chip
            with virtual_session(image, mac=st.factory_mac) as session:
                outcome = run_recipe(loaded, session, spec.index, mode=spec.mode)
            chip = outcome.plan.after.chip if outcome.plan is not None else chip
        details = judge(case, outcome, chip)
    except FusebookError as err:
        return CaseResult(case, "error", [err.render()], time.perf_counter() - start)
    return CaseResult(case, "failed" if details else "passed", details, time.perf_counter() - start)


def run(paths: Iterable[Path], on_result: Any = None) -> Report:
    """Collect and run every case under `paths`; `on_result(result)` after each case."""
    t0 = time.perf_counter()
    cases, errors = collect(paths)
    report = Report(errors=errors)
    if not errors:
        recipes = _Recipes()
        for case in cases:
            result = run_case(case, recipes)
            report.results.append(result)
            if on_result is not None:
                on_result(result)
    report.seconds = time.perf_counter() - t0
    return report
