"""fusebook's public Python API: load, plan, apply, check, snapshot.

This is the one surface the command line (and users' own Python) calls:

    recipe = fusebook.api.load_recipe("recipes/c3-lockdown.yaml")
    with fusebook.api.connect(ConnectOptions(virt=True, chip="esp32c3")) as chip:
        image = chip.read_image()
        result = fusebook.api.plan(recipe, image, index=7)
        print(result.plan.to_json())

Planning is a pure function of (recipe, index, inputs, image); `apply` commits exactly the
plan it shows, reads the chip back, checks `ensure`, and records the outcome.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusebook import __version__ as __version__  # `fusebook --version`
from fusebook import provenance
from fusebook.chips.loader import load_chip
from fusebook.chips.models import ChipDef, FieldDef
from fusebook.commit import ApplyResult, CommitEvent, StopRequest, commit
from fusebook.efuse.codecs import crc8_custom_mac, decode_value
from fusebook.efuse.flags import BlockFlags, all_block_flags
from fusebook.efuse.image import EfuseImage
from fusebook.efuse.view import ImageValues
from fusebook.errors import (
    Aborted,
    BurnError,
    FusebookError,
    InputError,
    LinkError,
    PlanError,
    SourceLocation,
    Stopped,
    did_you_mean,
)
from fusebook.files import read_bounded, read_text_bounded
from fusebook.numbers import integer
from fusebook.plan.model import BurnPlan
from fusebook.plan.operations import Operation, StepRequests, step_requests
from fusebook.plan.planner import build_plan, coding_name
from fusebook.provenance import RecipeFile
from fusebook.secret import Secret, SecretValue
from fusebook.session import ConnectOptions, Session, factory_mac, open_session
from fusebook.snapshot.formats import load_snapshot, redacted, secret_bits, to_json, to_token

if TYPE_CHECKING:
    from fusebook.chips.custom_table import CustomTable, TableWarning
    from fusebook.convert import ConvertResult, convert_script
    from fusebook.ledger.store import Ledger
    from fusebook.station.events import EventStream, JsonLinesSink, UnitEvent
    from fusebook.station.ports import resolve_ports
    from fusebook.station.station import Station, StationReport
    from fusebook.station.worker import StationOptions
    from fusebook.testing.runner import CaseResult
    from fusebook.testing.runner import Report as TestReport
    from fusebook.web.board import LedgerBoard, StationBoard
    from fusebook.web.server import WebServer, WebSettings

__all__ = [
    "AUTO_INDEX",
    "Aborted",
    "ApplyOutcome",
    "BurnError",
    "BurnPlan",
    "ChipDef",
    "CommitEvent",
    "ConnectOptions",
    "ConvertResult",
    "EfuseImage",
    "EventStream",
    "FieldDef",
    "FusebookError",
    "InputError",
    "JsonLinesSink",
    "LinkError",
    "LoadedRecipe",
    "PlanError",
    "PlanResult",
    "RecipeCheck",
    "RecipeFile",
    "Secret",
    "SecretValue",
    "Session",
    "SourceLocation",
    "Station",
    "StationOptions",
    "StationReport",
    "StopRequest",
    "Stopped",
    "UnitEvent",
    "UnitRendering",
    "apply",
    "apply_saved",
    "coding_name",
    "connect",
    "convert_script",
    "crc8_custom_mac",
    "custom_table",
    "decode_value",
    "did_you_mean",
    "efsr_token",
    "efsw_token",
    "error_flags",
    "has_key_material",
    "indices",
    "integer",
    "iter_plans",
    "ledger_board",
    "ledger_file",
    "load_chip",
    "load_recipe",
    "load_snapshot",
    "new_recipe",
    "open_ledger",
    "plan",
    "read_extension",
    "render_unit",
    "resolve_ports",
    "run_tests",
    "saved_plan",
    "schema_text",
    "serve_virtual",
    "serve_virtual_fleet",
    "snapshot_json",
    "starter_chips",
    "starter_kinds",
    "station_board",
    "validate_recipe",
    "web_server",
    "web_settings",
    "write_efuse_file",
]


def connect(opts: ConnectOptions) -> Session:
    """Open a chip (virtual or over a port); use as a context manager."""
    return open_session(opts)


# -- recipes -------------------------------------------------------------------------
#: Largest `file:` of a step (a key, a PEM, block data) and custom eFuse table read.
STEP_FILE_LIMIT = 1 << 20
TABLE_FILE_LIMIT = 1 << 20
#: Largest saved plan read.
PLAN_FILE_LIMIT = 16 << 20


@dataclass
class LoadedRecipe:
    """A recipe loaded, compiled and with its inputs read: ready to plan many indices."""

    path: Path
    recipe: Any
    compiled: Any
    inputs: Mapping[str, Any]
    vars: Mapping[str, Any]
    sha256: str
    input_digests: dict[str, str]
    chips: tuple[str, ...]
    extension: tuple[str, str] | None = None  # (CSV text, its path) of a custom eFuse table
    #: the files read to load it (the recipe, its includes, inputs, the custom table); a plan
    #: adds the step files it reads (`PlanResult.files`)
    files: tuple[RecipeFile, ...] = ()
    _file_cache: dict[Path, bytes] = field(default_factory=dict)
    _file_entries: dict[Path, RecipeFile] = field(default_factory=dict)
    _extended: dict[str, Any] = field(default_factory=dict)  # chip name -> CustomTable
    _keys: dict[tuple[str, str, bytes], Any] = field(default_factory=dict)

    def derived_key(self, what: str, chip: str, material: bytes, compute: Callable[[], Any]) -> Any:
        """What a key file gives (a PEM's digest, an ECDSA scalar), worked out once per
        process: parsing a private RSA PEM takes a tenth of a second, and a batch check
        plans the same key for every index. Keyed by the material's SHA-256."""
        key = (what, chip, hashlib.sha256(material).digest())
        if key not in self._keys:
            self._keys[key] = compute()
        return self._keys[key]

    @property
    def uses_index(self) -> bool:
        """Whether the recipe reads `index` anywhere (else every unit plans the same)."""
        return bool(self.compiled.uses_index())

    def with_extension(self, image: EfuseImage) -> EfuseImage:
        """`image` over the chip with the recipe's custom eFuse table, if it has one."""
        if self.extension is None:
            return image
        return image.with_chip(self._table(image.chip).chip)

    def table_warnings(self, chip: ChipDef) -> tuple[Any, ...]:
        """The custom table's warnings (overlapping fields) for `chip`'s table, if any."""
        return () if self.extension is None else self._table(chip).warnings

    def _table(self, chip: ChipDef) -> Any:
        if chip.name not in self._extended:
            text, source = self.extension or ("", "")
            self._extended[chip.name] = custom_table(chip, text, source)
        return self._extended[chip.name]

    @property
    def name(self) -> str:
        return str(self.recipe.name)

    @property
    def unique(self) -> tuple[str, ...]:
        return tuple(self.recipe.unique or ())

    def read_file(self, name: str, location: SourceLocation | None) -> bytes:
        """A step's `file:` relative to the recipe, read once per process."""
        base = Path(location.file).parent if location and location.file else self.path.parent
        try:
            path = (base / name).resolve()
        except (OSError, RuntimeError, ValueError):
            raise InputError(f"file {name!r} cannot be resolved", location=location) from None
        if path not in self._file_cache:
            self._file_cache[path] = read_bounded(path, "file", limit=STEP_FILE_LIMIT, location=location,
                                                  display=name)
            self._file_entries[path] = provenance.secret(path, self.path.parent, self._file_cache[path])
        provenance.read(self._file_entries[path])
        return self._file_cache[path]


def read_extension(path: str | Path) -> tuple[str, str]:
    """A custom eFuse table file's text and name, for `extend_table`."""
    p = Path(path)
    return read_text_bounded(p, "custom eFuse table", limit=TABLE_FILE_LIMIT), str(p)


def extend_table(chip: ChipDef, csv_text: str, source: str) -> ChipDef:
    """`chip` with the fields of an ESP-IDF custom eFuse table (`--extend-efuse-table`)."""
    return custom_table(chip, csv_text, source).chip


def custom_table(chip: ChipDef, csv_text: str, source: str) -> CustomTable:
    """The chip extended by a custom eFuse table, with its warnings (a `CustomTable`)."""
    from fusebook.chips.custom_table import load_table

    return load_table(chip, csv_text, source)


def load_recipe(
    path: str | Path,
    *,
    input_overrides: Mapping[str, str] | None = None,
    set_vars: Mapping[str, str] | None = None,
    extend_efuse_table: str | Path | None = None,
) -> LoadedRecipe:
    """Load, validate and compile a recipe, and read its inputs.

    `extend_efuse_table` (the CLI's `--extend-efuse-table`) overrides the recipe's own
    `extend_efuse_table:` key, which is relative to the recipe file.
    """
    from fusebook.recipe import inputs as inputs_mod
    from fusebook.recipe import loader, render

    p = Path(path)
    recipe = loader.load_recipe(p)
    recipe_bytes = read_bounded(p, "recipe file", limit=loader.MAX_FILE_BYTES)
    compiled = render.compile_recipe(recipe)
    inputs, digests = inputs_mod.load_inputs(recipe, p, dict(input_overrides or {}))
    vars_ = inputs_mod.merge_vars(recipe, dict(set_vars or {}))
    chips = recipe.chip if isinstance(recipe.chip, list) else [recipe.chip]
    extension = None
    if extend_efuse_table is not None:
        extension = read_extension(extend_efuse_table)
    elif getattr(recipe, "extend_efuse_table", None):
        extension = read_extension(p.parent / str(recipe.extend_efuse_table))
    return LoadedRecipe(
        path=p,
        recipe=recipe,
        compiled=compiled,
        inputs=inputs,
        vars=vars_,
        sha256=hashlib.sha256(recipe_bytes).hexdigest(),
        input_digests=digests,
        chips=tuple(load_chip(c).name for c in chips),
        extension=extension,
        files=_loaded_files(p, recipe, recipe_bytes, digests, dict(input_overrides or {}), extension),
    )


def _loaded_files(path: Path, recipe: Any, recipe_bytes: bytes, digests: Mapping[str, str],
                  overrides: Mapping[str, str], extension: tuple[str, str] | None) -> tuple[RecipeFile, ...]:
    """The recipe, its includes, its inputs (a secret one by fingerprint, as `input_digests`)
    and the custom eFuse table, each by path relative to the recipe and digest."""
    base = path.parent
    files = [provenance.plain(path, base, recipe_bytes)]
    from fusebook.recipe.loader import MAX_FILE_BYTES

    for shown in recipe.sources.files[1:]:  # the includes, as the loader read them
        files.append(provenance.plain(shown, base, read_bounded(Path(shown), "recipe file", limit=MAX_FILE_BYTES)))
    for name, spec in recipe.inputs.items():
        where = Path(overrides[name]) if name in overrides else base / spec.file
        files.append(RecipeFile(provenance.relative(where, base), digests[name]))
    if extension is not None:
        text, source = extension
        files.append(provenance.plain(source, base, text.encode()))
    return tuple(files)


# -- planning ------------------------------------------------------------------------
@dataclass
class PlanResult:
    plan: BurnPlan
    index: int | None
    unique_values: dict[str, str]
    #: every file this plan read: the recipe's (`LoadedRecipe.files`) and its steps' `file:`s
    files: tuple[RecipeFile, ...] = ()


def _secrets(image: EfuseImage, burn: BurnPlan | None) -> dict[int, int]:
    """The bits of `image` that may hold secrets, with what `burn` knows (see `secret_bits`)."""
    if burn is None:
        return secret_bits(image)
    return secret_bits(image, planned=burn.secret_bits, others=(burn.before, burn.after))


def _token(image: EfuseImage, burn: BurnPlan | None) -> str:
    """`image` as an eFuse token for records and saved plans, secrets redacted."""
    return to_token(redacted(image, _secrets(image, burn)))


def _planned_secret_bits(chip: ChipDef, asked: StepRequests) -> dict[int, int]:
    """Bits the steps burn from secret data, including those already burned (a re-run)."""
    bits: dict[int, int] = {}
    digests = {kp.target for kp in chip.key_purposes if kp.digest and kp.target}  # public (C2)
    for r in asked.requests:
        if r.secret and r.name not in digests:
            bits[r.block] = bits.get(r.block, 0) | r.mask
    _add_named_bits(chip, bits, [n for n in asked.key_fingerprints if n not in digests])
    return bits


def _add_named_bits(chip: ChipDef, bits: dict[int, int], names: Iterable[str]) -> None:
    """Add to `bits` all of each named block, or each named field's own bits."""
    for name in names:
        if chip.has_block(name):
            b = chip.block(name)
            bits[b.id] = (1 << (32 * b.words)) - 1
        elif chip.has_field(name):
            f = chip.field(name)
            bits[f.block] = bits.get(f.block, 0) | f.mask


def _has_secrets(loaded: LoadedRecipe) -> bool:
    """Whether the recipe deals in secrets at all: a secret input, or a key to burn."""
    inputs = getattr(loaded.recipe, "inputs", None) or {}
    return any(getattr(spec, "secret", False) for spec in inputs.values()) or any(
        _key_args(getattr(step, "kind", "")) for step in loaded.recipe.steps)


def _context(loaded: LoadedRecipe, image: EfuseImage, index: int | None,
             burn: BurnPlan | None = None) -> Any:
    from fusebook.recipe.render import ChipInfo, RenderContext

    return RenderContext(
        index=index,
        chip=ChipInfo(image.chip.name, image.revision),
        efuses=ImageValues(image, _secrets(image, burn)),
        inputs=loaded.inputs,
        vars=loaded.vars,
    )


def _assert(loaded: LoadedRecipe, which: str, ctx: Any, cls: type[FusebookError]) -> None:
    from fusebook.recipe.render import check_assertions

    failures = check_assertions(getattr(loaded.compiled, which), ctx)
    if failures:
        f = failures[0]
        extra = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        what = f.message or f"`{f.that}` does not hold"
        raise cls(f"{which}: {what}{extra}", location=f.origin)


def _operation(loaded: LoadedRecipe, step: Any, chip: ChipDef) -> Operation:
    """A rendered step as the planner takes it, with its files read in by its kind."""
    from fusebook.steps import STEPS

    args = STEPS[step.kind].prepare(step.args, loaded, chip, step.origin)
    return Operation(step.kind, args, step.name or step.kind, step.origin)


def plan(loaded: LoadedRecipe, image: EfuseImage, index: int | None = None) -> PlanResult:
    """Render the recipe for one unit and plan it against `image` (exit 3 if impossible)."""
    with provenance.collecting() as step_files:
        result = _plan(loaded, image, index)
    result.files = loaded.files + tuple(sorted(step_files.values()))
    return result


def _plan(loaded: LoadedRecipe, image: EfuseImage, index: int | None) -> PlanResult:
    table_warnings = loaded.table_warnings(image.chip)
    image = loaded.with_extension(image)
    chip = image.chip
    if chip.name not in loaded.chips:
        raise PlanError(
            f"the recipe is for {', '.join(loaded.chips)}, the chip is {chip.description}",
            location=SourceLocation(str(loaded.path)),
        )
    from fusebook.recipe.render import render_steps

    before = _context(loaded, image, index)
    _assert(loaded, "require", before, PlanError)
    steps = render_steps(loaded.compiled, before)
    ops = [_operation(loaded, s, chip) for s in steps]
    asked = step_requests(chip, image, ops)
    burn = build_plan(chip, image, asked)
    burn = dataclasses.replace(burn, secret_bits=_planned_secret_bits(chip, asked),
                               warnings=_table_notes(table_warnings) + burn.warnings)
    _assert(loaded, "ensure", _context(loaded, burn.after, index, burn), PlanError)
    unique = {}
    view = ImageValues(burn.after, _secrets(burn.after, burn))
    for name in loaded.unique:
        if chip.has_field(name):
            unique[name] = str(view.value(name))
    return PlanResult(burn, index, unique)


def _table_notes(warnings: Iterable[Any]) -> tuple[Any, ...]:
    """A custom table's warnings as plan warnings, so the plan's review shows them."""
    from fusebook.plan.model import Origin, PlanWarning

    return tuple(PlanWarning(w.message, Origin("extend_efuse_table", w.location)) for w in warnings)


# -- rendering, for debugging templates -----------------------------------------------
@dataclass(frozen=True)
class UnitRendering:
    """What a recipe resolves to for one unit, secrets as fingerprints (`fusebook render`)."""

    index: int | None
    chip: str
    source: str
    inputs: tuple[dict[str, Any], ...]
    vars: tuple[Any, ...]
    steps: tuple[Any, ...]
    require: tuple[Any, ...]


def _key_args(kind: str) -> tuple[str, ...]:
    """The step arguments that hold key material even when written as plain hex in a recipe."""
    from fusebook.steps import STEPS

    return STEPS[kind].key_args if kind in STEPS else ()


def _no_keys(kind: str, args: Any) -> Any:
    """Step arguments with key data as a `Secret` (whose every printed form is a fingerprint)."""
    if not isinstance(args, dict) or not _key_args(kind):
        return args
    out = dict(args)
    for name in _key_args(kind):
        value = out.get(name)
        if value is not None and not isinstance(value, (Secret, SecretValue)):
            out[name] = Secret(value if isinstance(value, bytes) else _key_bytes(str(value)))
    return out


def _key_bytes(text: str) -> bytes:
    """Key data as written in a step: hex (so the fingerprint is the key's), else its text."""
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        return text.encode()


def _input_summary(value: Any) -> str:
    if isinstance(value, (Secret, SecretValue)):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"{len(value)} bytes"
    if isinstance(value, Mapping):
        return f"mapping of {len(value)} entries"
    if isinstance(value, (list, tuple)):
        return f"list of {len(value)} items"
    return repr(value)


def render_unit(loaded: LoadedRecipe, image: EfuseImage, index: int | None, source: str) -> UnitRendering:
    """The recipe's vars, inputs, `require` outcomes and steps (with their `when`) for one unit.

    Nothing is planned: this is what the templates give, for debugging them. Each item
    carries the error its template raised instead of stopping at the first one.
    """
    import dataclasses as _dc

    from fusebook.recipe.render import trace_recipe

    image = loaded.with_extension(image)
    trace = trace_recipe(loaded.compiled, _context(loaded, image, index))
    specs = loaded.recipe.inputs
    inputs = tuple(
        {"name": name, "file": specs[name].file, "secret": bool(specs[name].secret),
         "digest": loaded.input_digests.get(name), "value": _input_summary(value)}
        for name, value in loaded.inputs.items()
    )
    # key data written in a var (and passed to a step) is shown as the step shows it
    keys = {str(t.value[a]): t.value[a] for t in trace.steps if isinstance(t.value, dict)
            for a in _key_args(t.kind) if isinstance(t.value.get(a), (str, bytes))}
    steps = tuple(_dc.replace(t, value=_no_keys(t.kind, t.value)) for t in trace.steps)
    variables = tuple(
        _dc.replace(v, value=Secret(_key_bytes(str(v.value)))) if isinstance(v.value, str) and v.value in keys
        else v for v in trace.vars)
    return UnitRendering(index, image.chip.name, source, inputs, variables, steps, trace.require)


# -- applying ------------------------------------------------------------------------
#: `apply(..., index=AUTO_INDEX)` (the CLI's `--index auto`): the ledger allocates the unit's
#: index from the recipe's `indices:` range (or `indices=`), bound to its factory MAC.
AUTO_INDEX = "auto"


@dataclass
class ApplyOutcome:
    plan: BurnPlan
    result: ApplyResult | None
    after: EfuseImage
    record_id: int | None = None
    index: int | None = None  # the index used: as given, or the one the ledger allocated

    @property
    def burned(self) -> bool:
        return bool(self.result and (self.result.verified or self.result.locked_out))


def _auto_range(loaded: LoadedRecipe, ledger: Ledger | None, indices: str | None) -> Any:
    """The range `--index auto` draws from; without a ledger or a range it is invalid input."""
    from fusebook.indices import parse_range

    if ledger is None:
        raise InputError("--index auto needs the ledger: it allocates the index",
                         hint="drop --no-ledger, or pass --index N")
    if indices is not None:
        return parse_range(indices, "--indices")
    if loaded.recipe.indices is None:
        raise InputError(f"--index auto: recipe {loaded.name} declares no `indices:` range to allocate from",
                         location=SourceLocation(str(loaded.path)),
                         hint='add e.g. `indices: "1-5000"` to the recipe, or pass --indices 1-5000')
    return parse_range(loaded.recipe.indices, "indices")


def _allocate(ledger: Ledger, loaded: LoadedRecipe, image: EfuseImage, mac: str, span: Any) -> int:
    """The unit's index from the ledger; a refusal (done, range used up, no identity) is recorded."""
    from fusebook.ledger.errors import IndexRefused

    try:
        return int(ledger.allocate(loaded.name, mac, span).index)
    except IndexRefused as e:
        _record_refusal(ledger, loaded, image, e.index, mac, e)
        raise


def apply(
    loaded: LoadedRecipe,
    session: Session,
    index: int | str | None = None,
    *,
    confirm: Callable[[BurnPlan], bool] | None = None,
    ledger: Ledger | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[CommitEvent], None] | None = None,
    indices: str | None = None,
    on_index: Callable[[int | None], None] | None = None,
) -> ApplyOutcome:
    """Plan against the chip as read now, confirm, burn, verify, `ensure`, record.

    `index=AUTO_INDEX` asks the ledger for the unit's index once the chip (its factory MAC)
    is read, from `indices` or else the recipe's `indices:` range; `ApplyOutcome.index` says
    which index was used, and `on_index` hears it as soon as it is known (before planning),
    so a caller can show it while the unit burns, or fails.

    `stop` ends the burn at the next block boundary once requested (see commit.StopRequest):
    its phase turns "burning" once the plan is confirmed, so from then on a requester must
    wait rather than abandon, and the outcome (partial, aborted) is always recorded.
    """
    span = _auto_range(loaded, ledger, indices) if index == AUTO_INDEX else None
    if isinstance(index, str) and span is None:
        raise InputError(f"index {index!r} is neither a number nor {AUTO_INDEX!r}")
    image = session.read_image()
    mac = factory_mac(image)
    if span is not None and ledger is not None:  # _auto_range refused a span without a ledger
        index = _allocate(ledger, loaded, image, mac, span)
    assert not isinstance(index, str)
    if on_index is not None:
        on_index(index)
    record_id = None
    try:
        result_plan = plan(loaded, image, index)
    except FusebookError as e:
        if ledger is not None:
            _record_refusal(ledger, loaded, image, index, mac, e)
        raise
    burn = result_plan.plan
    burn = _warn_unknown_identity(burn, mac)
    if ledger is not None and result_plan.unique_values:
        conflicts = ledger.conflicts(result_plan.unique_values, mac)
        if conflicts:
            c = conflicts[0]
            err = PlanError(
                f"{c.field} = {c.value} is already burned on chip {c.factory_mac} "
                f"(ledger record {c.record_id})",
                hint="per-unit values must be unique: check --index and the inputs",
            )
            _record_refusal(ledger, loaded, image, index, mac, err)
            raise err
    if ledger is not None:
        _confirm_skipped_keys(ledger, burn, mac)
    if burn.empty:
        if ledger is not None:
            record_id = _begin(ledger, loaded, burn, image, index, mac, result_plan.unique_values,
                               result_plan.files)
            ledger.finish(record_id, outcome="nothing-to-do", after_token=_token(image, burn),
                          exit_code=0)
        return ApplyOutcome(burn, None, image, record_id, index)
    if confirm is not None and not confirm(burn):
        raise Aborted("aborted at the prompt: nothing was burned")
    if stop is not None:
        stop.phase = "burning"
    if ledger is not None:
        try:
            record_id = _begin(ledger, loaded, burn, image, index, mac, result_plan.unique_values,
                               result_plan.files)
        except PlanError as e:  # another station took a per-unit value in the meantime
            _record_refusal(ledger, loaded, image, index, mac, e)
            raise
    progress = ApplyResult()
    try:
        result = commit(burn, session.controller, stop=stop, on_event=on_event, progress=progress)
        after = result.after if result.after is not None else session.read_image()
        if not result.locked_out:  # a locked-out chip cannot be read back
            _assert(loaded, "ensure", _context(loaded, after, index, burn), BurnError)
    except BaseException as e:
        if ledger is not None and record_id is not None:
            _finish_failed(ledger, record_id, session, e, burn, progress)
        raise
    if ledger is not None and record_id is not None:
        ledger.finish(record_id, outcome="ok", after_token=_token(after, burn), exit_code=0)
    return ApplyOutcome(burn, result, after, record_id, index)


def _warn_unknown_identity(burn: BurnPlan, mac: str) -> BurnPlan:
    """A chip whose factory MAC is all zeros (or absent) cannot be told from any other."""
    from dataclasses import replace

    from fusebook.ledger.record import unknown_mac
    from fusebook.plan.model import PlanWarning

    if not unknown_mac(mac):
        return burn
    note = PlanWarning(
        f"this chip's factory MAC is {mac}: it has no identity, so the ledger cannot tell it from "
        "other units (per-unit values and key fingerprints are not matched to it)"
    )
    return replace(burn, warnings=burn.warnings + (note,))


def _confirm_skipped_keys(ledger: Ledger, burn: BurnPlan, mac: str) -> None:
    """A read-protected key skipped as 'already burned' must be the key the ledger knows."""
    for block in burn.skipped:
        wanted = burn.key_fingerprints.get(block)
        if wanted is None:
            continue
        known = ledger.key_fingerprint(mac, block)
        if known is not None and known != wanted:
            raise PlanError(
                f"{block} on chip {mac} holds a different key than this recipe's "
                f"(ledger: {known}, recipe: {wanted})",
                hint="the unit was keyed by another recipe or inputs; check before going on",
            )


def _finish_failed(ledger: Ledger, record_id: int, session: Session, e: BaseException,
                   burn: BurnPlan | None = None, progress: ApplyResult | None = None) -> None:
    """Record how a burn ended early.

    A stop between programs is "partial" (exit 4) or, before the first program, "aborted"
    (exit 130). An exception that cut the burn without a stop (Ctrl-C in a program that
    installed no handler) is judged by what had been sent: anything at all is "partial".
    """
    after_token = None
    if isinstance(e, FusebookError) and not isinstance(e, LinkError):
        try:
            after_token = _token(session.read_image(), burn)
        except FusebookError:
            after_token = None
    if isinstance(e, Stopped):
        ledger.finish(record_id, outcome="partial", after_token=after_token,
                      exit_code=e.exit_code, error=e.message)
    elif isinstance(e, Aborted):
        ledger.finish(record_id, outcome="aborted", after_token=after_token,
                      exit_code=e.exit_code, error=e.message)
    elif isinstance(e, FusebookError):
        ledger.finish(record_id, outcome="failed", after_token=after_token,
                      exit_code=e.exit_code, error=e.message)
    else:
        sent = progress is not None and (progress.programs > 0 or progress.in_flight is not None)
        report = f"\n{progress.report(burn)}" if progress is not None and burn is not None else ""
        if sent:
            ledger.finish(record_id, outcome="partial", exit_code=Stopped.exit_code,
                          error=f"{type(e).__name__} during the burn: the chip may be partially burned{report}")
        else:
            ledger.finish(record_id, outcome="aborted", exit_code=Aborted.exit_code,
                          error=f"{type(e).__name__} before the first program command{report}")


def _begin(ledger: Ledger, loaded: LoadedRecipe, burn: BurnPlan | None, image: EfuseImage,
           index: int | None, mac: str, unique: dict[str, str], files: tuple[RecipeFile, ...] = ()) -> int:
    """Open a ledger record for this unit (a refusal has no plan).

    The record's recipe digest covers every file the plan read (`files`), or for a unit
    refused before it had a plan, the files the recipe was loaded from.
    """
    files = files or loaded.files
    import json

    body = burn.to_json() if burn is not None else None
    return int(ledger.begin(
        chip_type=image.chip.name,
        revision=image.revision,
        factory_mac=mac,
        recipe_name=loaded.name,
        recipe_sha256=provenance.digest(files),
        recipe_files=[f.to_json() for f in files],
        index=index,
        input_digests=loaded.input_digests,
        plan_json=json.dumps(body, sort_keys=True) if body else None,
        plan_digest=body["digest"] if body else None,
        before_token=_token(image, burn) if burn is not None else to_token(
            redacted(image, secret_bits(image, unknown=_has_secrets(loaded)))),
        unique_values=unique,
        key_fingerprints=dict(burn.key_fingerprints) if burn is not None else {},
    ))


def _record_refusal(ledger: Ledger, loaded: LoadedRecipe, image: EfuseImage, index: int | None,
                    mac: str, err: FusebookError) -> None:
    record_id = _begin(ledger, loaded, None, image, index, mac, {})
    ledger.finish(record_id, outcome="refused", after_token=None, exit_code=err.exit_code,
                  error=err.message)


# -- saved plans ---------------------------------------------------------------------
def saved_plan(loaded: LoadedRecipe, result: PlanResult, source: str,
               input_overrides: Mapping[str, str], set_vars: Mapping[str, str]) -> dict[str, Any]:
    """A plan as saved by `plan -o`: bound to the recipe, the unit and the chip state."""
    body = result.plan.to_json()
    body["recipe"] = {
        "name": loaded.name,
        "path": str(loaded.path.resolve()),
        "sha256": loaded.sha256,
        "index": result.index,
        "inputs": loaded.input_digests,
        "input_overrides": dict(input_overrides),
        "set": dict(set_vars),
    }
    body["source"] = source
    body["before_token"] = _token(result.plan.before, result.plan)
    return body


#: The parts of a saved plan a reviewer saw, and which `apply PLAN` re-plans and compares.
_REVIEWED = ("changes", "writes", "warnings", "skipped", "key_fingerprints")

_PLAN_TYPES: dict[str, tuple[type, ...]] = {
    "chip": (str,), "revision": (int,), "snapshot_digest": (str,), "digest": (str,),
    "before_token": (str,), "changes": (list,), "writes": (list,), "warnings": (list,),
    "skipped": (list,), "key_fingerprints": (dict,), "recipe": (dict,),
}
_RECIPE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "path": (str,), "sha256": (str,), "index": (int, type(None)),
    "inputs": (dict,), "input_overrides": (dict,), "set": (dict,),
}


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _check_plan_shape(body: Any, where: str) -> dict[str, Any]:
    """The saved plan's structure, checked before anything is used (InputError naming the key)."""
    hint = "save a plan with `fusebook plan ... -o PLAN.json` and do not edit it"
    if not isinstance(body, dict) or "snapshot_digest" not in body or "recipe" not in body:
        raise InputError(f"{where}: not a fusebook plan", hint=hint)
    for table, types, prefix in ((body, _PLAN_TYPES, ""), (None, _RECIPE_TYPES, "recipe.")):
        obj = body["recipe"] if table is None else table
        for key, kinds in types.items():
            if key not in obj:
                if prefix and key in ("input_overrides", "set"):
                    continue
                raise InputError(f"{where}: the plan has no {prefix}{key!r}", hint=hint)
            value = obj[key]
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise InputError(f"{where}: {prefix}{key} is {_type_name(value)}, which a plan never holds",
                                 hint=hint)
    rec = body["recipe"]
    for key in ("inputs", "input_overrides", "set"):
        for k, v in (rec.get(key) or {}).items():
            if not isinstance(v, str):
                raise InputError(f"{where}: recipe.{key}.{k} is {_type_name(v)}, not text", hint=hint)
    for k, v in body["key_fingerprints"].items():
        if not isinstance(v, str):
            raise InputError(f"{where}: key_fingerprints.{k} is {_type_name(v)}, not text", hint=hint)
    if not all(isinstance(b, str) for b in body["skipped"]):
        raise InputError(f"{where}: skipped holds something other than block names", hint=hint)
    return body


def load_saved_plan(path: Path) -> dict[str, Any]:
    """A plan saved by `plan -o`, checked for shape and for edits (its digest)."""
    import json

    text = read_text_bounded(path, "saved plan", limit=PLAN_FILE_LIMIT)
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not a readable plan ({e.msg})",
                         location=SourceLocation(str(path), e.lineno, e.colno)) from None
    except RecursionError:
        raise InputError(f"{path}: not a readable plan (nested too deeply)") from None
    body = _check_plan_shape(body, str(path))
    from fusebook.plan.model import plan_digest

    if body.get("digest") != plan_digest({k: v for k, v in body.items()
                                          if k in ("chip", "revision", "snapshot_digest", *_REVIEWED)}):
        raise InputError(f"{path}: the plan was edited after it was saved", hint="make a new plan")
    return body


def _saved_secret_bits(chip: ChipDef, body: Mapping[str, Any]) -> dict[int, int]:
    """What a saved plan says is secret (redacted writes, secret changes, keys), per block."""
    bits: dict[int, int] = {}
    names = [str(n) for n in body.get("key_fingerprints") or {}]
    names += [str(c.get("field")) for c in body.get("changes") or [] if c.get("after") == "<secret>"]
    for w in body.get("writes") or []:
        if w.get("redacted") and int(w.get("block", 0)) != 0:
            names.append(chip.blocks[int(w["block"])].name)
    _add_named_bits(chip, bits, names)
    return bits


def _comparable(value: Any) -> Any:
    """A plan part as JSON, with each origin's file reduced to its name.

    The recipe is loaded again by its absolute path, so the same step shows as
    `/abs/recipes/x.yaml:12:5` where the review showed `recipes/x.yaml:12:5`.
    """
    import json

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            out = {k: walk(x) for k, x in v.items()}
            loc = out.get("location")
            if "step" in out and isinstance(loc, str):
                out["location"] = Path(loc).name
            return out
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(json.loads(json.dumps(value, sort_keys=True, default=str)))


def _changed_fields(before: EfuseImage, now: EfuseImage) -> list[str]:
    out = []
    a, b = ImageValues(before), ImageValues(now)
    for f in now.chip.fields:
        va, vb = a.value(f.name), b.value(f.name)
        if va != vb:
            out.append(f"{f.name}: {va} -> {vb}")
    return out


def apply_saved(
    path: Path,
    session: Session,
    *,
    confirm: Callable[[BurnPlan], bool] | None = None,
    ledger: Ledger | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[CommitEvent], None] | None = None,
) -> ApplyOutcome:
    """Apply a saved plan: refused (exit 3) if the chip no longer matches its snapshot."""
    from fusebook.snapshot.formats import from_token

    body = load_saved_plan(path)
    image = session.read_image()
    if image.chip.name != body["chip"]:
        raise PlanError(f"{path}: the plan is for {body['chip']}, the chip is {image.chip.description}")
    if image.digest() != body["snapshot_digest"]:
        then = from_token(body["before_token"])
        hidden = secret_bits(image, planned=_saved_secret_bits(image.chip, body), others=(then,))
        changed = _changed_fields(redacted(then, hidden), redacted(image, hidden))
        raise PlanError(
            f"{path}: the chip changed since the plan was made"
            + (": " + "; ".join(changed[:12]) if changed else ""),
            hint="make a new plan against the chip as it is now",
        )
    rec = body["recipe"]
    loaded = load_recipe(rec["path"], input_overrides=rec.get("input_overrides") or {},
                         set_vars=rec.get("set") or {})
    if loaded.sha256 != rec["sha256"] or loaded.input_digests != rec["inputs"]:
        raise PlanError(f"{path}: the recipe or its inputs changed since the plan was made",
                        hint="make a new plan")
    fresh = plan(loaded, image, rec["index"]).plan.to_json()
    differ = [k for k in _REVIEWED if _comparable(fresh[k]) != _comparable(body[k])]
    if differ:
        raise PlanError(f"{path}: re-planning gives a different plan than the one saved "
                        f"(differs in: {', '.join(differ)})",
                        hint="the plan reviewed must be the plan burned: make a new plan and review it")
    return apply(loaded, session, rec["index"], confirm=confirm, ledger=ledger, stop=stop,
                 on_event=on_event)


# -- error flags ---------------------------------------------------------------------
def error_flags(image: EfuseImage) -> tuple[BlockFlags, ...]:
    """Every block's error flags as `image` holds them (espefuse's check-error)."""
    return all_block_flags(image.chip, image.errors)


# -- snapshots -----------------------------------------------------------------------
def snapshot_json(image: EfuseImage, source: str) -> dict[str, Any]:
    """`image` as a fusebook snapshot (what `fusebook snapshot -o` writes); `source` says where it came from."""
    return to_json(image, source)


def efsr_token(image: EfuseImage) -> str:
    """`image` as espefuse's read token (`espefuse dump --format token`)."""
    return to_token(image)


def has_key_material(burn: BurnPlan) -> bool:
    """True if the plan burns a key or secret input (its EFSW token would show it)."""
    from fusebook.plan.efsw import has_key_material as _has

    return _has(burn)


def efsw_token(burn: BurnPlan, *, allow_secrets: bool = False) -> str:
    """The plan as espefuse's staged-write token, for `esp_efuse_token_burn()` in firmware.

    The token holds the bits to burn in clear, so a plan that burns key material is refused
    (InputError, exit 2) unless `allow_secrets`.
    """
    from fusebook.plan.efsw import staged_write_token

    if has_key_material(burn) and not allow_secrets:
        raise InputError(
            "the plan burns key material, and an EFSW token carries it in clear",
            hint="pass --allow-secrets to print it anyway, and guard the token like the key itself",
        )
    return staged_write_token(burn)


def indices(spec: str) -> list[int]:
    """'1-100,200,300-310' -> the listed indices, in order, without repeats."""
    from fusebook.indices import ordered_indices

    return ordered_indices(spec)


def iter_plans(loaded: LoadedRecipe, image: EfuseImage,
               idx: Iterable[int | None]) -> Iterator[tuple[int | None, PlanResult | FusebookError]]:
    """(index, PlanResult | FusebookError) for each index: the batch check's core loop."""
    for i in idx:
        try:
            yield i, plan(loaded, image, i)
        except FusebookError as e:
            yield i, e


# -- recipe tests --------------------------------------------------------------------
def run_tests(paths: Iterable[str | Path], *,
              on_result: Callable[[CaseResult], None] | None = None) -> TestReport:
    """Run the recipe test cases under `paths` (`fusebook test`): a `fusebook.testing.runner.Report`.

    Test files and folders are collected first; `on_result` is called after each case.
    The report's `exit_code` is 0 (all passed), 1 (a case failed) or 2 (a bad test file).
    """
    from fusebook.testing.runner import run

    return run([Path(p) for p in paths], on_result=on_result)


# -- starters ------------------------------------------------------------------------
def starter_kinds() -> tuple[str, ...]:
    """The templates `new_recipe` knows (production, flash-encryption, ...)."""
    from fusebook.starters import KINDS

    return KINDS


def starter_chips(kind: str) -> list[str]:
    """The chips the `kind` template fits (it asks each chip's data what it has)."""
    from fusebook.starters import supported_chips

    return supported_chips(kind)


def new_recipe(kind: str, chip: str) -> str:
    """A commented starter recipe of `kind` for `chip` (`fusebook new`); it validates and
    plans on a blank chip once its key and data files exist. InputError if it does not fit."""
    from fusebook.starters import render_starter

    return render_starter(kind, load_chip(chip))


# -- validation, schemas, files --------------------------------------------------------
@dataclass(frozen=True)
class RecipeCheck:
    """What `validate_recipe` found in one recipe: every problem (exit codes as the
    contract's) and the custom table's warnings (overlapping fields)."""

    path: Path
    problems: tuple[FusebookError, ...]
    warnings: tuple[TableWarning, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_recipe(path: str | Path, image: EfuseImage | None = None) -> RecipeCheck:
    """Check a recipe without planning it (`fusebook validate`): every problem, not the first.

    Without `image` the recipe is checked for every chip it lists; with one (a chip read,
    a snapshot) for that chip only, and each field also against the chip's coding scheme.
    A recipe for another chip is a PlanError (exit 3) among the problems.
    """
    from fusebook.recipe import loader
    from fusebook.recipe.document import RecipeErrors
    from fusebook.recipe.static_checks import validate_recipe as _validate

    p = Path(path)
    warnings: list[TableWarning] = []
    try:
        recipe = loader.load_recipe(p)
        names = recipe.chip if isinstance(recipe.chip, list) else [recipe.chip]
        chips = [load_chip(c) for c in names]
        if image is not None:
            if image.chip.name not in [c.name for c in chips]:
                raise PlanError(f"the recipe is for {', '.join(c.name for c in chips)}, "
                                f"the chip is {image.chip.description}", location=SourceLocation(str(p)))
            chips = [image.chip]
        problems: list[FusebookError] = list(_validate(recipe, chips, image=image, warnings=warnings))
    except RecipeErrors as e:
        problems = list(e.problems)
    except FusebookError as e:
        problems = [e]
    return RecipeCheck(p, tuple(problems), tuple(warnings))


def schema_text(which: str = "recipe") -> str:
    """The JSON Schema of recipe files (`which="recipe"`) or of recipe test files (`"test"`)."""
    if which == "test":
        from fusebook.testing.schema import schema_text as text_of
    elif which == "recipe":
        from fusebook.recipe.schema import schema_text as text_of
    else:
        raise ValueError(f"no schema {which!r}: 'recipe' or 'test'")
    return text_of()


def write_efuse_file(image: EfuseImage, path: Path) -> None:
    """`image` as an espefuse `--path-efuse-file` (its virtual chip's file), written to `path`."""
    from fusebook.snapshot.formats import to_efuse_file

    to_efuse_file(image, path)


# -- the ledger ------------------------------------------------------------------------
def ledger_file(target: str) -> Path | None:
    """The SQLite file a ledger target names, or None for a `postgresql://` URL."""
    from fusebook.ledger.db import is_url

    return None if is_url(target) else Path(target)


def open_ledger(target: str, *, create: bool = True, check_pages: bool = False) -> Ledger:
    """The ledger at `target`: an SQLite file (created if new) or a `postgresql://` URL.

    Pass it to `apply(..., ledger=)`; close it (or use it as a context manager) when done.
    `create=False` opens only a ledger that exists (LedgerError for an empty database),
    for readers. `check_pages=True` reads every page of an SQLite ledger now, whatever its
    size and its last check (`ledger check`; see docs/ledger.md).
    """
    from fusebook.ledger.store import Ledger

    return Ledger(target, create=create, check_pages=check_pages)


# -- virtual chips and the web page ----------------------------------------------------
def serve_virtual(chip: str, *, listen: str, efuse_file: Path | None = None, faults: str | None = None,
                  latency_ms: float = 0.0, factory_mac: str | None = None) -> None:
    """A virtual chip on TCP speaking the ROM protocol (`serve-virtual`), until Ctrl-C or SIGTERM."""
    from fusebook.virtual.server import run_server

    run_server(chip, listen=listen, efuse_file=efuse_file, faults=faults, latency_ms=latency_ms,
               factory_mac=factory_mac)


def serve_virtual_fleet(chip: str, count: int, listen: str, *, efuse_dir: Path | None = None,
                        swap_after: int | None = None, latency_ms: float = 0.0,
                        factory_mac: str | None = None) -> None:
    """`count` virtual chips, each on a free port (`serve-virtual --count`), until Ctrl-C or SIGTERM."""
    from fusebook.virtual.fleet import run_fleet

    run_fleet(chip, count, listen, efuse_dir=efuse_dir, swap_after=swap_after, latency_ms=latency_ms,
              factory_mac=factory_mac)


def web_settings(web: str | None, host: str | None, token: str | None) -> WebSettings:
    """The live page's address and token from `--web HOST:PORT`, `--web-host`, `--web-token`."""
    from fusebook.web.server import web_settings as settings

    return settings(web, host, token)


def station_board(title: str, ports: Iterable[str]) -> StationBoard:
    """A station's live page content; subscribe it to the station's events."""
    from fusebook.web.board import StationBoard

    return StationBoard(title, ports)


def ledger_board(title: str, ledger: Ledger, poll_s: float = 2.0) -> LedgerBoard:
    """A ledger's live page content (`fusebook dashboard`), read every `poll_s` seconds."""
    from fusebook.web.board import LedgerBoard

    return LedgerBoard(title, ledger, poll_s=poll_s)


def web_server(board: StationBoard | LedgerBoard, settings: WebSettings,
               open_ledger: Callable[[], Ledger] | None = None, *, ledger: Ledger | None = None) -> WebServer:
    """The page's server over `board`: `open_ledger` opens the ledger its search reads (and
    the server closes), or `ledger` is one the caller keeps; with neither, no search."""
    from fusebook.web.server import WebServer

    return WebServer(board, settings, open_ledger, ledger=ledger)


# -- imported when first used: a one-shot command should not pay for them -------------
_LAZY = {
    "ConvertResult": "fusebook.convert",
    "convert_script": "fusebook.convert",
    "EventStream": "fusebook.station.events",
    "JsonLinesSink": "fusebook.station.events",
    "UnitEvent": "fusebook.station.events",
    "resolve_ports": "fusebook.station.ports",
    "Station": "fusebook.station.station",
    "StationReport": "fusebook.station.station",
    "StationOptions": "fusebook.station.worker",
}


def __getattr__(name: str) -> Any:
    """The station's and the script converter's names, imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
