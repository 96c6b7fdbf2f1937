"""Random link faults during an apply, on every chip: the chip only ever holds part of the plan.

The contract for a burn that goes wrong (SPEC §3): it stops with exit 4 (link) or 5 (the
chip would not take the bits), says what is done, and a re-run completes it. What must
never happen is a bit the plan did not ask for. For each chip an apply of a few fields,
a key and a write protection runs through serve-virtual under a random schedule of lost,
garbled and late answers, a stall, a dropped connection and failing program commands;
afterwards the efuse file holds a subset of the plan's bits and a superset of what was
there before, and a second apply without faults ends with exactly the planned image.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from fusebook import api
from fusebook.chips.loader import chip_names, load_chip
from fusebook.chips.models import ChipDef
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, PlanError
from fusebook.link.facts import link_facts
from fusebook.plan.model import BurnPlan
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import FaultPlan, VirtualRomServer

from .profiles import examples

#: BLOCK0 switches that leave the ROM reachable, in the order they are preferred.
SWITCHES = ("DIS_USB_JTAG", "DIS_PAD_JTAG", "JTAG_DISABLE", "DIS_TWAI", "DIS_USB_OTG", "DIS_ICACHE",
            "DIS_FORCE_DOWNLOAD", "DIS_CAN", "DIS_BT", "CONSOLE_DEBUG_DISABLE", "SOFT_DIS_JTAG")
TIMEOUT_S = 0.25
KEY = bytes((7 * i + 11) % 256 for i in range(32)).hex()  # a real-looking key: placeholders are refused


def recipe_text(c: ChipDef) -> str:
    """A few fields, a key and a write protection, for chip `c`, from its own names."""
    unsafe = {link_facts().chip(c.name).download_disable_field, link_facts().chip(c.name).secure_download_field}
    switches = [n for n in SWITCHES if c.has_field(n) and n not in unsafe][:2]
    lines = [f"fusebook: 1\nname: faults\nchip: {c.name}\nsteps:"]
    lines.append("  - burn_efuse: {" + ", ".join(f"{n}: 1" for n in switches) + "}")
    if c.family == "esp32":
        lines.append(f"  - burn_key: {{block: BLOCK3, data: '{KEY}'}}")
    else:
        purpose = next(p.name for p in c.key_purposes if p.name in ("USER", "HMAC_UP", "XTS_AES_128_KEY"))
        block = (c.key_blocks or (c.blocks[-1],))[0].name
        lines.append(f"  - burn_key: {{block: {block}, purpose: {purpose}, data: '{KEY}'}}")
    protectable = [n for n in switches if c.field(n).wr_dis is not None] or ["RD_DIS"]
    lines.append(f"  - write_protect_efuse: [{protectable[0]}]")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CleanRun:
    loaded: api.LoadedRecipe
    plan: BurnPlan
    requests: int  # request frames a fault-free apply takes


def _options(c: ChipDef, url: str) -> api.ConnectOptions:
    return api.ConnectOptions(port=url, chip=c.name, before="no-reset", after="no-reset", timeout=TIMEOUT_S)


def _apply(loaded: api.LoadedRecipe, c: ChipDef, url: str) -> api.ApplyOutcome:
    with api.connect(_options(c, url)) as session:
        return api.apply(loaded, session, None)


@cache
def clean_run(name: str) -> CleanRun:
    c = load_chip(name)
    root = Path(tempfile.mkdtemp(prefix="fusebook-faults-"))
    (root / "r.yaml").write_text(recipe_text(c))
    loaded = api.load_recipe(root / "r.yaml")
    bus = VirtualChip(c)
    with VirtualRomServer(bus, c) as server:
        outcome = _apply(loaded, c, server.url)
        requests = server.requests
    assert outcome.burned and bus.image().blocks == outcome.plan.after.blocks
    return CleanRun(loaded, outcome.plan, requests)


@st.composite
def schedules(draw: st.DrawFn, requests: int) -> FaultPlan:
    """A fault at a few random request numbers of the apply, of each kind or none."""
    n = st.integers(1, requests)
    some = st.frozensets(n, max_size=3)
    return FaultPlan(
        drop_responses=draw(some),
        corrupt_responses=draw(some),
        late_responses=draw(st.frozensets(n, max_size=2)),
        late_s=TIMEOUT_S + 0.05,
        stall_at=draw(st.none() | n),
        disconnect_after=draw(st.none() | n),
        fail_programs=draw(st.sampled_from([0, 0, 0, 1, 2, 3, 5])),
    )


def holds_only_planned_bits(image: EfuseImage, plan: BurnPlan) -> None:
    for blk, got, before, after in zip(image.chip.blocks, image.blocks, plan.before.blocks, plan.after.blocks,
                                       strict=True):
        assert got & ~after == 0, f"{blk.name} holds bits the plan does not set: {got & ~after:#x}"
        assert before & ~got == 0, f"{blk.name} lost bits it had before: {before & ~got:#x}"


@pytest.mark.parametrize("name", chip_names())
@examples(3, fuzz=60)
@given(data=st.data())
def test_a_faulted_apply_leaves_a_subset_of_the_plan_and_a_rerun_completes_it(name: str,
                                                                               data: st.DataObject) -> None:
    c = load_chip(name)
    clean = clean_run(name)
    faults = data.draw(schedules(clean.requests), label="faults")
    with tempfile.TemporaryDirectory() as tmp:
        efuse = Path(tmp) / "chip.efuse"
        with VirtualRomServer(VirtualChip(c, efuse), c, faults=faults) as server:
            try:
                _apply(clean.loaded, c, server.url)
                code = 0
            except FusebookError as e:
                code = e.exit_code
                assert code in ((4, 5) if faults.fail_programs else (4,)), e.render()
        event(f"exit {code}")
        if efuse.exists():
            holds_only_planned_bits(VirtualChip(c, efuse).image(), clean.plan)
        bus = VirtualChip(c, efuse)
        flagged = [f for f in api.error_flags(bus.image()) if not f.ok] if efuse.exists() else []
        if flagged:
            # a block that failed every program keeps its error flags, as silicon does: a
            # re-run must refuse to touch it (exit 3) and send nothing
            event("re-run refused: error flags")
            before = efuse.read_bytes()
            with VirtualRomServer(bus, c) as server, pytest.raises(PlanError, match="error flags"):
                _apply(clean.loaded, c, server.url)
            assert efuse.read_bytes() == before
            return
        with VirtualRomServer(bus, c) as server:
            _apply(clean.loaded, c, server.url)
        assert VirtualChip(c, efuse).image().blocks == clean.plan.after.blocks
