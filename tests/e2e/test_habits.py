"""espefuse habits on fusebook's command line: options before the command, espefuse's
option names, and did-you-mean for a mistyped command or option."""

from __future__ import annotations

from pathlib import Path

from fusebook.cli.habits import command_first
from fusebook.cli.main import build_parser

from .conftest import fusebook


def test_options_before_the_command_work_as_after_it(tmp_path: Path) -> None:
    f = tmp_path / "c3.bin"
    before = fusebook("--virt", "--chip", "esp32c3", "--path-efuse-file", f, "--format", "json",
                      "summary", "DIS_USB_JTAG")
    after = fusebook("summary", "DIS_USB_JTAG", "--virt", "--chip", "esp32c3", "--efuse-file", f,
                     "--format", "json")
    assert before.code == after.code == 0, before.err
    assert before.json["fields"] == after.json["fields"]


def test_command_first_moves_only_known_options() -> None:
    p = build_parser()
    assert command_first(["--virt", "-c", "esp32", "--format=json", "summary", "X"], p) == [
        "summary", "--virt", "-c", "esp32", "--format=json", "X"]
    assert command_first(["--version"], p) == ["--version"]
    assert command_first(["--bogus", "summary"], p) == ["--bogus", "summary"]
    assert command_first(["summary", "--virt"], p) == ["summary", "--virt"]


def test_espefuse_option_names(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("fusebook: 1\nname: t\nchip: esp32c3\nsteps:\n  - burn-efuse: {DIS_USB_JTAG: 1}\n")
    f = tmp_path / "c3.bin"
    r = fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--path-efuse-file", f,
                 "--do-not-confirm", "--no-ledger")
    assert r.code == 0, r.err
    token = fusebook("snapshot", "--virt", "--chip", "esp32c3", "--efuse-file", f, "--format", "efsr").out.strip()
    r = fusebook("summary", "DIS_USB_JTAG", "--token", token, "--format", "json")
    assert r.code == 0, r.err
    assert r.json["fields"][0]["value"] is True
    assert fusebook("summary", "--token", "not-a-token").code == 2


def test_did_you_mean_for_commands_and_options() -> None:
    r = fusebook("sumary")
    assert r.code == 2 and "did you mean summary?" in r.err
    r = fusebook("summary", "--virtt", "--chip", "esp32c3")
    assert r.code == 2 and "did you mean --virt?" in r.err


def test_summary_shows_unreadable_as_question_marks_protections_in_hex(tmp_path: Path) -> None:
    from .conftest import RECIPES

    f = tmp_path / "c3.bin"
    r = fusebook("apply", RECIPES / "flash-encryption-esp32c3.yaml", "--virt", "--chip", "esp32c3",
                 "--efuse-file", f, "--yes", "--no-ledger")
    assert r.code == 0, r.err
    r = fusebook("--virt", "--chip", "esp32c3", "--efuse-file", f, "summary", "BLOCK_KEY0", "WR_DIS", "RD_DIS")
    assert r.code == 0, r.err
    rows = {line.split()[1]: line for line in r.out.splitlines() if line.split()[1:2] in
            (["BLOCK_KEY0"], ["WR_DIS"], ["RD_DIS"])}
    assert "description" in r.out.splitlines()[2]
    assert " ?? " in rows["BLOCK_KEY0"] and "Key0 or user data" in rows["BLOCK_KEY0"]
    assert " 0x01 " in rows["RD_DIS"]
    wr = [w for w in rows["WR_DIS"].split() if w.startswith("0x")]
    assert len(wr) == 1 and len(wr[0]) == 10 and int(wr[0], 16) != 0

    j = fusebook("summary", "BLOCK_KEY0", "--virt", "--chip", "esp32c3", "--efuse-file", f,
                 "--format", "espefuse-json").json
    assert j["BLOCK_KEY0"]["readable"] is False and set(j["BLOCK_KEY0"]["value"]) <= {"?", " "}


def test_dump_and_get_custom_mac_commands(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("fusebook: 1\nname: t\nchip: esp32c3\nsteps:\n  - burn-custom-mac: '02:11:22:33:44:55'\n")
    f = tmp_path / "c3.bin"
    assert fusebook("apply", recipe, "--virt", "--chip", "esp32c3", "--efuse-file", f, "--yes", "--no-ledger").code == 0
    r = fusebook("--virt", "--chip", "esp32c3", "--efuse-file", f, "get-custom-mac")
    assert r.code == 0 and r.out.strip() == "Custom MAC Address: 02:11:22:33:44:55 (OK)", r.err
    r = fusebook("dump", "--virt", "--chip", "esp32c3", "--efuse-file", f)
    assert r.code == 0 and len(r.out.splitlines()) == 11 and r.out.startswith("BLOCK0 ")
    assert "BLOCK_USR_DATA  (BLOCK3          ) [3 ] dump: 00000000 00000000 00000000 00000000 00000000 00000000 22110200 00554433" in r.out
    assert fusebook("dump", "--snapshot", "blank", "--chip", "esp32c3", "--format", "json").json["blocks"][0]["name"] == "BLOCK0"
