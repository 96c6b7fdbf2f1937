"""Burning through the ROM protocol: fusebook and espefuse's own client against
serve-virtual, over socket:// and a pty, and link faults at every request of an apply."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import load_chip
from fusebook.errors import LinkError
from fusebook.virtual.chip import VirtualChip
from fusebook.virtual.server import FaultPlan, VirtualRomServer

from .conftest import fusebook

RECIPE = """\
fusebook: 1
name: wire
chip: esp32c3
steps:
  - burn_custom_mac: "02:00:00:12:34:56"
  - burn_block_data: {block: BLOCK_SYS_DATA2, data: "a5a5a5a5"}
  - burn_efuse: {DIS_USB_JTAG: 1, SECURE_VERSION: 2}
  - write_protect_efuse: [SECURE_VERSION]
"""


def espefuse_values(port: str) -> dict:
    from espefuse import init_commands

    with contextlib.redirect_stdout(io.StringIO()), init_commands(
        port=port, before="no-reset", chip="esp32c3"
    ) as e:
        return {f.name: f.get() for f in e.efuses.efuses if f.word is not None}


def test_apply_over_socket_then_espefuse_reads_it(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE)
    chip = load_chip("esp32c3")
    with VirtualRomServer(VirtualChip(chip, tmp_path / "c.efuse"), chip) as server:
        r = fusebook("apply", recipe, "--port", server.url, "--before", "no-reset", "--yes",
                     "--no-ledger", "--format", "json")
        assert r.code == 0, r.err
        assert r.json["outcome"] == "burned"
        theirs = espefuse_values(server.url)
        ours = fusebook("summary", "--port", server.url, "--before", "no-reset", "--format", "json").json
    values = {f["name"]: f["value"] for f in ours["fields"]}
    assert theirs["CUSTOM_MAC"].startswith("02:00:00:12:34:56")
    for name in ("DIS_USB_JTAG", "SECURE_VERSION", "WR_DIS", "SOFT_DIS_JTAG", "KEY_PURPOSE_0"):
        assert values[name] == (theirs[name] if not isinstance(theirs[name], str) else values[name])
    assert values["SECURE_VERSION"] == theirs["SECURE_VERSION"] == 2
    assert values["WR_DIS"] == theirs["WR_DIS"] != 0


def test_espefuse_burns_through_serve_virtual_and_fusebook_reads_it(tmp_path: Path) -> None:
    from espefuse import init_commands

    chip = load_chip("esp32c3")
    with VirtualRomServer(VirtualChip(chip, tmp_path / "c.efuse"), chip) as server:
        with contextlib.redirect_stdout(io.StringIO()), init_commands(
            port=server.url, before="no-reset", chip="esp32c3", do_not_confirm=True
        ) as e:
            e.use_batch_mode()
            e.burn_custom_mac(b"\x02\x99\x88\x77\x66\x55")
            e.burn_efuse({"SECURE_VERSION": "9", "DIS_PAD_JTAG": "1"})
            e.burn_all()
        r = fusebook("summary", "--port", server.url, "--before", "no-reset", "--format", "json")
    assert r.code == 0, r.err
    values = {f["name"]: f["value"] for f in r.json["fields"]}
    assert values["CUSTOM_MAC"] == "02:99:88:77:66:55"
    assert values["SECURE_VERSION"] == 9 and values["DIS_PAD_JTAG"] is True


def test_apply_through_a_pty_path(tmp_path: Path) -> None:
    """A pty's device path, which no port enumeration lists, works as --port."""
    from ..link.conftest import pty_chip

    recipe = tmp_path / "r.yaml"
    recipe.write_text("fusebook: 1\nname: p\nchip: esp32s3\nsteps:\n  - burn_efuse: {DIS_USB_OTG: 1}\n")
    with pty_chip("esp32s3") as served:
        r = fusebook("apply", recipe, "--port", served.url, "--yes", "--no-ledger", "--after", "no-reset")
        assert r.code == 0, r.err
        assert served.bus.image().raw("DIS_USB_OTG") == 1


# -- faults at every request ---------------------------------------------------------
def _apply(loaded, url: str):
    opts = api.ConnectOptions(port=url, chip="esp32c3", before="no-reset", after="no-reset", timeout=0.25)
    with api.connect(opts) as s:
        return api.apply(loaded, s, None)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wire")
    recipe = tmp / "r.yaml"
    recipe.write_text(RECIPE)
    loaded = api.load_recipe(recipe)
    chip = load_chip("esp32c3")
    vc = VirtualChip(chip)
    with VirtualRomServer(vc, chip) as server:
        _apply(loaded, server.url)
        requests = server.requests
    return loaded, vc.image().blocks, requests


def _faulted(loaded, expected, plan: FaultPlan) -> str:
    chip = load_chip("esp32c3")
    vc = VirtualChip(chip)
    with VirtualRomServer(vc, chip, faults=plan) as server:
        try:
            _apply(loaded, server.url)
            outcome = "ok"
        except LinkError as e:  # exit 4
            if "programmed and verified" in e.message:  # stopped mid-burn: the report says where
                assert "not done" in e.message or "in flight" in e.message
            outcome = "link-error"
        held = vc.image().blocks
        for got, want in zip(held, expected, strict=True):
            assert got & ~want == 0, "the chip holds a bit the plan did not ask for"
    # reconnect and finish: nothing is burned twice, the chip ends as planned
    with VirtualRomServer(vc, chip) as server:
        _apply(loaded, server.url)
    assert vc.image().blocks == expected
    return outcome


SHARDS = 4


@pytest.mark.parametrize("shard", range(SHARDS))
def test_a_disconnect_after_any_request_is_recoverable(clean_run, shard: int) -> None:
    """Every request index of the apply, split in shards so the suite runs them in parallel."""
    loaded, expected, n = clean_run
    outcomes = [_faulted(loaded, expected, FaultPlan(disconnect_after=k))
                for k in range(1 + shard, n + 1, SHARDS)]
    assert "link-error" in outcomes


def test_lost_and_corrupt_answers_are_recoverable(clean_run) -> None:
    loaded, expected, n = clean_run
    for k in range(1, n + 1, 9):
        _faulted(loaded, expected, FaultPlan(drop_responses=frozenset({k})))
        _faulted(loaded, expected, FaultPlan(corrupt_responses=frozenset({k + 4})))
