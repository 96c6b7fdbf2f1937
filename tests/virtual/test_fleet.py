"""The virtual fleet: N chips on N real loopback ports, boards swapped after K sessions."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fusebook import api
from fusebook.chips.loader import chip_names, load_chip
from fusebook.efuse.view import ImageValues
from fusebook.errors import InputError
from fusebook.session import factory_mac
from fusebook.virtual.chip import open_virtual
from fusebook.virtual.fleet import VirtualFleet, board_file

ROOT = Path(__file__).resolve().parents[2]


def identify(url: str) -> tuple[str, str]:
    """(chip name, factory MAC) of the chip on `url`, as a station reads them."""
    with api.connect(api.ConnectOptions(port=url, before="no-reset", timeout=2.0)) as s:
        image = s.read_image()
        return image.chip.name, factory_mac(image)


def test_each_chip_has_its_own_port_and_factory_mac_and_state(tmp_path: Path) -> None:
    with VirtualFleet(load_chip("esp32c3"), 3, efuse_dir=tmp_path) as fleet:
        urls = fleet.urls
        assert len(set(urls)) == 3 and all(u.startswith("socket://127.0.0.1:") for u in urls)
        seen = [identify(u) for u in urls]
        assert {c for c, _ in seen} == {"esp32c3"}
        assert len({m for _, m in seen}) == 3
        assert all(m.startswith("7c:df:a1:") for _, m in seen)
        # burning one chip leaves the others blank
        recipe = tmp_path / "r.yaml"
        recipe.write_text("fusebook: 1\nname: r\nchip: esp32c3\nsteps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
        loaded = api.load_recipe(recipe)
        with api.connect(api.ConnectOptions(port=urls[1], before="no-reset")) as s:
            assert api.apply(loaded, s).burned
    chip = load_chip("esp32c3")
    for n in range(3):
        vc = open_virtual(chip, board_file(tmp_path, n, 1))
        assert bool(ImageValues(vc.image()).value("DIS_USB_JTAG")) == (n == 1)


def test_a_board_is_swapped_for_a_blank_one_after_k_sessions_and_a_restart_resumes(tmp_path: Path) -> None:
    chip = load_chip("esp32c3")
    with VirtualFleet(chip, 1, efuse_dir=tmp_path, swap_after=2) as fleet:
        url = fleet.urls[0]
        first = identify(url)[1]
        assert identify(url)[1] == first  # the second session still sees the same board
        time.sleep(0.2)  # the server notices the client left
        second = identify(url)[1]
        assert second != first
        assert fleet.ports[0].macs[:2] == [first, second]
    assert board_file(tmp_path, 0, 2).exists()
    with VirtualFleet(chip, 1, efuse_dir=tmp_path) as again:
        assert identify(again.urls[0])[1] == second


def test_factory_macs_given_count_up_from_the_first(tmp_path: Path) -> None:
    with VirtualFleet(load_chip("esp32c3"), 2, factory_mac="02:00:00:00:00:fe", swap_after=1) as fleet:
        assert identify(fleet.urls[0])[1] == "02:00:00:00:00:fe"
        assert identify(fleet.urls[1])[1] == "02:00:00:00:00:ff"
        time.sleep(0.2)
        assert identify(fleet.urls[0])[1] == "02:00:00:00:01:00"


@pytest.mark.parametrize("kwargs", [{"count": 0}, {"count": 2, "swap_after": 0}, {"count": 1, "latency_ms": -1}])
def test_bad_fleet_options_are_invalid_input(kwargs: dict) -> None:
    with pytest.raises(InputError):
        VirtualFleet(load_chip("esp32c3"), **kwargs)


def test_serve_virtual_count_prints_one_url_a_line_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fusebook", "serve-virtual", "--chip", "esp32c3", "--count", "2",
         "--latency", "1", "--efuse-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        urls = [proc.stdout.readline().strip() for _ in range(2)]  # flushed before any client came
        assert all(u.startswith("socket://127.0.0.1:") for u in urls), urls
        assert identify(urls[0])[1] != identify(urls[1])[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["port00-board001.efuse", "port01-board001.efuse"]


def test_a_fleet_refuses_a_fixed_port_and_single_chip_options(tmp_path: Path) -> None:
    for extra in (["--listen", "127.0.0.1:5999"], ["--efuse-file", str(tmp_path / "x")]):
        r = subprocess.run([sys.executable, "-m", "fusebook", "serve-virtual", "--chip", "esp32c3",
                            "--count", "2", *extra], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr


def test_closing_a_socket_link_does_not_wait() -> None:
    """pyserial's socket close sleeps 0.3 s; a station closing one link per unit must not."""
    with VirtualFleet(load_chip("esp32c3"), 1) as fleet:
        url = fleet.urls[0]
        for _ in range(3):
            s = api.connect(api.ConnectOptions(port=url, before="no-reset"))
            s.read_image()
            t = time.perf_counter()
            s.close()
            assert time.perf_counter() - t < 0.1


@pytest.mark.parametrize("name", chip_names())
def test_reading_only_the_mac_block_gives_the_factory_mac_of_the_whole_image(name: str) -> None:
    with api.connect(api.ConnectOptions(virt=True, chip=name, factory_mac="7c:df:a1:12:34:56")) as s:
        assert s.read_factory_mac() == factory_mac(s.read_image())
        if s.chip.has_field("MAC"):
            assert s.read_factory_mac() == "7c:df:a1:12:34:56"
