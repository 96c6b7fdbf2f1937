"""How script expressions come out in recipes: one script line in, the recipe text expected out."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusebook.api import convert_script

CASES = [
    # conditions on the chip before the burn -> when
    ('if efuses["DIS_USB_JTAG"].get() == 0 and not efuses["BLOCK_KEY0"].is_readable():\n    X',
     "when: (efuses.DIS_USB_JTAG == 0) and (not readable('BLOCK_KEY0'))"),
    ('if efuses["KEY_PURPOSE_0"].get_meaning() != "USER":\n    X', "when: meaning('KEY_PURPOSE_0') != 'USER'"),
    ('if args.index in [1, 2] or args.index > 100:\n    X', "when: (index in [1, 2]) or (index > 100)"),
    ('if 0 < args.index <= 9:\n    X', "when: 0 < index and index <= 9"),
    ('if efuses["SECURE_VERSION"].get() is None:\n    X', "when: efuses.SECURE_VERSION is none"),
    ('if efuses["WR_DIS"].get() == 0:\n    X\nelse:\n    pass', "when: efuses.WR_DIS == 0"),
    ('if efuses["WR_DIS"].get():\n    pass\nelse:\n    X', "when: not efuses.WR_DIS"),
    ('if efuses["CUSTOM_MAC"].get() == "AA:BB:CC:DD:EE:88 (CRC 0x69 OK)":\n    X',
     "when: efuses.CUSTOM_MAC == 'aa:bb:cc:dd:ee:88'"),
    # text built per unit -> templates
    ('espefuse(esp, efuses, args, f"burn_bit BLOCK_USR_DATA {args.index * 2}")', "bits: '{{ [(index * 2)|int] }}'"),
    ('espefuse(esp, efuses, args, "burn_efuse SECURE_VERSION %d" % args.index)',
     "SECURE_VERSION: '{{ index }}'"),
    ('espefuse(esp, efuses, args, "burn_efuse SECURE_VERSION " + str(args.index + 1))',
     "SECURE_VERSION: '{{ (index + 1)|string }}'"),
    # known values are folded
    ('n = 3\nespefuse(esp, efuses, args, "burn_bit BLOCK_USR_DATA {} {}".format(n, n * 4))', "bits: [3, 12]"),
    ('for b in range(2):\n    espefuse(esp, efuses, args, f"burn_bit BLOCK_USR_DATA {b + 1}")',
     "bits: [2]"),
    ('if 1 + 1 == 3:\n    espefuse(esp, efuses, args, "burn_efuse DIS_PAD_JTAG 1")\nX', "DIS_USB_JTAG: 1\n"),
]


@pytest.mark.parametrize(("code", "expected"), CASES)
def test_expressions_translate(code: str, expected: str, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(code.replace("X", 'espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1")') + "\n")
    result = convert_script(script, chip="esp32c3", cwd=tmp_path)
    assert result.notes == () and result.problems == (), result.recipe
    assert expected in result.recipe
    assert "DIS_PAD_JTAG" not in result.recipe


@pytest.mark.parametrize(("code", "reason"), [
    ('espefuse(esp, efuses, args, "burn_custom_mac {:012X}".format(args.index))', "a format specification"),
    ("def f():\n    pass", "FunctionDef statement"),
    ('if efuses["BLOCK_KEY0"].get_meaning() != "00 01":\n    raise esptool.FatalError("x")', "spaced hex"),
    ('espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1 --force")', "option --force"),
    ('espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG")', "without a value"),
    ('espefuse(esp, efuses, args, "execute_scripts missing.py")', "missing.py: no such file"),
    ('espefuse(esp, efuses, args, "adc_info")\nespefuse(esp, efuses, args, "burn_foo 1")', "burn_foo"),
])
def test_what_has_no_equivalent_is_named(code: str, reason: str, tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(code + "\n")
    result = convert_script(script, chip="esp32c3", cwd=tmp_path, output=tmp_path / "r.yaml")
    assert len(result.notes) == 1 and reason in result.notes[0].reason, result.notes
