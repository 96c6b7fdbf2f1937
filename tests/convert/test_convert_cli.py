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


def test_key_bytes_in_a_script_are_never_copied_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, "from espefuse import init_commands\n"
                          "with init_commands(chip='esp32c3') as e:\n"
                          "    e.burn_key(['BLOCK_KEY0'], [bytes.fromhex('a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5')], ['XTS_AES_128_KEY'])\n"
                          "    e.burn_key(['BLOCK_KEY1'], [b'\\xa5\\xa5\\xa5\\xa5'], ['XTS_AES_128_KEY'])\n")
    assert main(["convert", str(s)]) == 3
    cap = capsys.readouterr()
    assert "a5a5" not in cap.out + cap.err and "\\xa5" not in cap.out + cap.err
    assert f"{s}:4: not converted: key bytes written in the script: save them in a key file" in cap.err


def test_nested_scripts_become_fragments_and_a_cycle_is_reported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _script(tmp_path, 'espefuse(esp, efuses, args, "burn_bit BLOCK3 {}".format(args.index))\n'
                      'espefuse(esp, efuses, args, "execute_scripts outer.py")\n', "inner.py")
    _script(tmp_path, 'espefuse(esp, efuses, args, "execute_scripts inner.py --index 4")\n', "outer.py")
    out = tmp_path / "out" / "outer.yaml"
    out.parent.mkdir()
    assert main(["convert", "outer.py", "--chip", "esp32", "-o", str(out)]) == 3
    err = capsys.readouterr().err
    assert "inner.py:2: not converted: execute_scripts cycle: outer.py -> inner.py -> outer.py" in err
    assert "include: inner.yaml" in out.read_text()
    assert "bits: [4]" in (out.parent / "inner.yaml").read_text()


def test_config_files_not_given_are_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, "import json\nc = json.load(args.configfiles[0])\n"
                          "espefuse(esp, efuses, args, 'burn_custom_mac ' + c[str(args.index)])\n")
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 3
    err = capsys.readouterr().err
    assert f"{s}:2: not converted: args.configfiles[0]: pass the config files" in err
    assert f"{s}:3: not converted: uses c, which line 2 sets" in err


def test_json_output_lists_what_was_not_converted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    s = _script(tmp_path, 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")\nwhile True:\n    pass\n')
    assert main(["convert", str(s), "--chip", "esp32c3", "--format", "json"]) == 3
    body = json.loads(capsys.readouterr().out)
    assert body["complete"] is False and "DIS_USB_JTAG: 1" in body["recipe"]
    assert [(n["line"], n["code"]) for n in body["not_converted"]] == [(2, "while True:\n    pass")]


def test_a_per_unit_message_stays_a_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = _script(tmp_path, 'assert args.index < 10, f"unit {args.index} is out of range"\n'
                          'assert args.index > 0, "no {{ braces }} here"\n')
    assert main(["convert", str(s), "--chip", "esp32c3"]) == 0
    out = capsys.readouterr().out
    assert "message: unit {{ index }} is out of range" in out and "message: no { { braces }} here" in out
