"""`render_unit` (what `fusebook render` shows): vars, inputs, require and steps for one
unit, with `when` outcomes, errors in place, and never a key's value."""

from __future__ import annotations

import json
from pathlib import Path

from fusebook import api
from fusebook.cli.render_recipe import to_json, to_text

KEY = bytes(range(1, 33))

RECIPE = """\
fusebook: 1
name: traced
chip: esp32c3
inputs:
  macs: {file: macs.json}
  fe_key: {file: fe.bin, format: binary, secret: true}
vars:
  lock: false
  base: "02:00:00:00:00:{{ '%02x' % index }}"
  plain_key: "PLAIN_KEY"
require:
  - that: "efuses.CUSTOM_MAC == '00:00:00:00:00:00'"
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - name: "lock {{ index }}"
    write_protect_efuse: [DIS_USB_JTAG]
    when: "vars.lock"
  - burn_key: {block: BLOCK_KEY0, purpose: XTS_AES_128_KEY, data: "{{ inputs.fe_key | hex }}"}
  - burn_key: {block: BLOCK_KEY1, purpose: HMAC_UP, data: "{{ vars.plain_key }}"}
""".replace("PLAIN_KEY", bytes(range(100, 132)).hex())


def _recipe(tmp_path: Path) -> Path:
    (tmp_path / "macs.json").write_text(json.dumps({"3": "02:aa:bb:cc:dd:03"}))
    (tmp_path / "fe.bin").write_bytes(KEY)
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    return path


def _render(path: Path, index: int | None, **sets: str) -> api.UnitRendering:
    loaded = api.load_recipe(path, set_vars=sets)
    return api.render_unit(loaded, api.load_snapshot("blank", "esp32c3"), index, "blank")


def test_vars_steps_and_when_outcomes(tmp_path: Path) -> None:
    r = _render(_recipe(tmp_path), 3)
    assert {v.name: v.value for v in r.vars}["base"] == "02:00:00:00:00:03"
    assert [a.applies for a in r.require] == [True]
    mac, lock, key0, key1 = r.steps
    assert (mac.applies, mac.value, mac.origin.line) == (True, "02:aa:bb:cc:dd:03", 14)
    assert (lock.applies, lock.when, lock.name, lock.value) == (False, "vars.lock", "lock 3", None)
    assert key0.applies and key1.applies

    lock = _render(_recipe(tmp_path), 3, lock="true").steps[1]
    assert lock.applies and lock.value == ["DIS_USB_JTAG"]


def test_keys_show_as_fingerprints_only(tmp_path: Path) -> None:
    r = _render(_recipe(tmp_path), 3)
    text, data = to_text(r), json.dumps(to_json(r))
    secret_inputs = [i for i in r.inputs if i["secret"]]
    assert secret_inputs and "sha256:" in secret_inputs[0]["value"]
    for shown in (text, data):
        # neither the secret input nor a key written as plain hex in the recipe's steps
        for key in (KEY, bytes(range(100, 132))):
            assert key.hex() not in shown and key.hex().upper() not in shown
        assert shown.count("<secret 32 bytes sha256:") >= 2


def test_errors_stay_in_place_and_the_rest_renders(tmp_path: Path) -> None:
    r = _render(_recipe(tmp_path), None)
    base = {v.name: v for v in r.vars}["base"]
    assert base.error is not None and base.error.exit_code == 2
    mac = r.steps[0]
    assert mac.error is not None and "--index" in (mac.error.hint or "")
    assert r.steps[2].applies and r.steps[2].error is None  # later steps still render
    assert "error" in to_text(r)
