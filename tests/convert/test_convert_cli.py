"""`fusebook convert` through the command line: what converts, what is reported, the exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.cli.main import main


def _script(tmp_path: Path, text: str, name: str = "burn.py") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_complete_conversion_exits_0_and_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n'
                          'if efuses["SOFT_DIS_JTAG"].get() == 0:\n'
                          '    espefuse(esp, efuses, args, "burn_efuse SOFT_DIS_JTAG 1")\n')
    out = tmp_path / "r.yaml"
    assert main(["convert", str(s), "--chip", "esp32c3", "-o", str(out)]) == 0
    text = out.read_text()
    assert "DIS_USB_JTAG: 1" in text and "when: efuses.SOFT_DIS_JTAG == 0" in text
    assert main(["validate", str(out)]) == 0


def test_what_does_not_convert_is_listed_by_line_and_left_as_a_comment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n'
                          'while True:\n    pass\n'
                          'espefuse(esp, efuses, args, "burn_efuse FLASH_CRYPT_CNT")\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 3
    cap = capsys.readouterr()
    assert f"{s}:2: not converted" in cap.err and f"{s}:4: not converted" in cap.err
    assert "#     while True:" in cap.out and "DIS_USB_JTAG: 1" in cap.out


def test_a_check_between_two_burns_is_not_turned_into_an_ensure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n'
                          'efuses.burn_all()\n'
                          'assert efuses["BLOCK_KEY1"].is_readable()\n'
                          'espefuse(esp, efuses, args, "read_protect_efuse BLOCK_KEY1")\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 3
    cap = capsys.readouterr()
    assert f"{s}:3: not converted: checks the chip between two burns" in cap.err
    assert "ensure:" not in cap.out


def test_a_batch_that_is_never_burned_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, "from espefuse import init_commands\n"
                          "with init_commands(chip='esp32s3', batch_mode=True) as e:\n"
                          "    e.burn_efuse({'DIS_USB_JTAG': 1})\n")
    assert main(["convert", str(s)]) == 3
    assert "never burned" in capsys.readouterr().err


def test_the_chip_comes_from_the_script_or_chip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n')
    assert main(["convert", str(s)]) == 2
    assert "pass --chip" in capsys.readouterr().err


def test_a_file_that_is_not_python_exits_2_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, "x = 1\ndef (:\n")
    assert main(["convert", str(s), "--chip", "esp32"]) == 2
    assert f"{s}:2:" in capsys.readouterr().err


def test_a_file_too_large_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, "#" * (1 << 20) + "\n")
    assert main(["convert", str(s), "--chip", "esp32"]) == 2
    assert "larger than" in capsys.readouterr().err


def test_the_script_is_never_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    s = _script(tmp_path, f"open({str(marker)!r}, 'w').write('x')\n"
                          'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 3
    assert not marker.exists()


def test_a_name_unknown_to_the_chip_makes_the_result_incomplete(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse NO_SUCH_FUSE 1")\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 3
    assert "NO_SUCH_FUSE" in capsys.readouterr().err


def test_index_and_config_files_become_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "macs.json").write_text('{"1": "02:00:00:00:00:01"}')
    s = _script(tmp_path, "import json\nmacs = json.load(args.configfiles[0])\n"
                          "espefuse(esp, efuses, args, 'burn_custom_mac ' + macs[str(args.index)])\n")
    assert main(["convert", s.name, "--chip", "esp32c3", "--configfiles", "macs.json"]) == 0
    out = capsys.readouterr().out
    assert "file: macs.json" in out and "{{ inputs.macs[index|string] }}" in out


def test_the_documented_execute_scripts_example_converts_but_for_a_burn_without_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The shape of espefuse 4's own documentation example: a file check, a counter, flags."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fe.bin").write_bytes(bytes(32))
    s = _script(tmp_path, "import os\n"
                          "print('chip', esp.get_chip_description())\n"
                          "if os.path.exists('fe.bin'):\n"
                          "    espefuse(esp, efuses, args, 'burn_key flash_encryption fe.bin')\n"
                          "else:\n"
                          "    raise esptool.FatalError('fe.bin is missing')\n"
                          "espefuse(esp, efuses, args, 'burn_efuse FLASH_CRYPT_CNT 0x7')\n"
                          "cnt = efuses['FLASH_CRYPT_CNT'].get()\n"
                          "if cnt in [0, 3]:\n"
                          "    espefuse(esp, efuses, args, 'burn_efuse FLASH_CRYPT_CNT')\n"
                          "espefuse(esp, efuses, args, 'burn_efuse DISABLE_DL_ENCRYPT 1')\n")
    assert main(["convert", s.name, "--chip", "esp32"]) == 3
    cap = capsys.readouterr()
    assert cap.err.count(": not converted:") == 1 and "burn.py:10: not converted: burn_efuse without a value" in cap.err
    assert "file: fe.bin" in cap.out and "FLASH_CRYPT_CNT: 7" in cap.out and "DISABLE_DL_ENCRYPT: 1" in cap.out


def test_a_check_that_fails_is_negated_readably(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\n'
                          'efuses.burn_all()\n'
                          'if efuses["DIS_USB_JTAG"].get() != 1:\n'
                          '    raise esptool.FatalError("DIS_USB_JTAG was not burned")\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 0
    out = capsys.readouterr().out
    assert "ensure:\n  - that: efuses.DIS_USB_JTAG == 1\n    message: DIS_USB_JTAG was not burned" in out
