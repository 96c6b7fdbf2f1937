"""`fusebook check`: every failure of a batch reported, duplicates caught, CI formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from .conftest import fusebook

RECIPE = """\
fusebook: 1
name: batch
chip: esp32c3
inputs:
  macs: {file: macs.json}
unique: [CUSTOM_MAC]
steps:
  - burn_custom_mac: "{{ inputs.macs[index|string] }}"
  - burn_efuse: {SECURE_VERSION: "{{ 1 if index % 50 else 70000 }}"}
"""


def batch(tmp_path: Path, n: int, duplicates: dict[int, int]) -> Path:
    macs = {str(i): "02:00:00:00:" + ":".join(f"{b:02x}" for b in i.to_bytes(2, "big")) for i in range(1, n + 1)}
    for i, same_as in duplicates.items():
        macs[str(i)] = macs[str(same_as)]
    (tmp_path / "macs.json").write_text(json.dumps(macs))
    (tmp_path / "recipe.yaml").write_text(RECIPE)
    return tmp_path / "recipe.yaml"


def test_all_failures_and_duplicates_are_reported(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 300, {120: 7, 250: 7, 33: 34})
    junit = tmp_path / "junit.xml"
    r = fusebook("check", recipe, "--indices", "1-300", "--format", "json", "--junit", junit)
    assert r.code == 2, r.err  # SECURE_VERSION 70000 does not fit: invalid input wins
    body = r.json
    failed = sorted(f["index"] for f in body["failures"])
    assert failed == [50, 100, 150, 200, 250, 300]
    assert all("recipe.yaml:9" in (f["location"] or "") for f in body["failures"])
    dups = {tuple(d["indices"]) for d in body["duplicates"]}
    assert (7, 120) in dups and (33, 34) in dups  # 250 failed to plan, so it is not counted
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "300"
    failing = {tc.get("name") for tc in suite.iter("testcase") if tc.find("failure") is not None}
    assert {"index 50", "index 7", "index 120", "index 33", "index 34"} <= failing
    text = fusebook("check", recipe, "--indices", "1-300")
    # the same failure at six indices is one line with their ranges
    assert "index 50, 100, 150, 200, 250, 300 (6 units): " in text.out
    assert text.out.count("error:") == 1 and "duplicate CUSTOM_MAC" in text.out
    assert "at indices 7, 120" in text.out and "at indices 33-34" in text.out
    assert [f["indices"] for f in body["folded"]] == [[50, 100, 150, 200, 250, 300]]


def test_duplicates_alone_exit_3_and_a_clean_batch_exits_0(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 120, {99: 98})
    r = fusebook("check", recipe, "--indices", "1-49,51-99", "--format", "json")
    assert r.code == 3 and r.json["failed"] == 0 and r.json["duplicates"]
    r = fusebook("check", recipe, "--indices", "1-49,51-98", "--format", "json")
    assert r.code == 0 and r.json["planned"] == 97


def test_bad_index_ranges_are_usage_errors(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 10, {})
    for spec in ("5-1", "a-b", ""):
        assert fusebook("check", recipe, "--indices", spec).code == 2


MULTI = """\
fusebook: 1
name: multi
chip: [esp32c3, esp32s3, esp32]
steps:
  - burn_efuse: {DIS_USB_JTAG: 1}
"""


def test_a_multi_chip_recipe_is_checked_on_each_chip_once_without_indices(tmp_path: Path) -> None:
    recipe = tmp_path / "multi.yaml"
    recipe.write_text(MULTI)
    junit = tmp_path / "junit.xml"
    r = fusebook("check", recipe, "--format", "json", "--junit", junit)
    # ESP32 has no DIS_USB_JTAG: one failure, on that chip only
    assert r.code == 2, r.err
    assert r.json["chips"] == ["esp32c3", "esp32s3", "esp32"]
    assert r.json["total"] == 3 and r.json["planned"] == 2
    assert [(f["chip"], f["index"]) for f in r.json["failures"]] == [("esp32", None)]
    names = {tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")}
    assert names == {"esp32c3 recipe", "esp32s3 recipe", "esp32 recipe"}
    text = fusebook("check", recipe)
    assert "esp32 the recipe: " in text.out and "planned once" in text.out
    one = fusebook("check", recipe, "--chip", "esp32s3", "--format", "json")
    assert one.code == 0 and one.json["chips"] == ["esp32s3"]


def test_a_recipe_using_index_needs_indices(tmp_path: Path) -> None:
    recipe = batch(tmp_path, 3, {})
    r = fusebook("check", recipe)
    assert r.code == 2 and "--indices" in r.err and "Traceback" not in r.err


def test_a_private_key_is_parsed_once_for_the_whole_batch(tmp_path: Path, monkeypatch) -> None:
    """A private RSA PEM costs a tenth of a second to parse; a batch must not pay it per index."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from fusebook import api
    from fusebook.keys import digest

    key = rsa.generate_private_key(65537, 3072)
    (tmp_path / "sb.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "r.yaml").write_text(
        "fusebook: 1\nname: sb\nchip: esp32c3\nsteps:\n"
        "  - burn_key_digest: {block: BLOCK_KEY1, purpose: SECURE_BOOT_DIGEST0, file: sb.pem}\n"
        "  - burn_efuse: {SECURE_VERSION: \"{{ index }}\"}\n")
    calls = []
    real = digest.signature_block_key
    monkeypatch.setattr(digest, "signature_block_key", lambda *a, **k: calls.append(1) or real(*a, **k))
    loaded = api.load_recipe(tmp_path / "r.yaml")
    results = list(api.iter_plans(loaded, api.load_snapshot("blank", "esp32c3"), range(1, 41)))
    assert all(not isinstance(r, Exception) for _, r in results), results[0]
    assert len({r.plan.key_fingerprints["BLOCK_KEY1"] for _, r in results}) == 1
    assert len(calls) == 1


def test_plan_warnings_are_listed_once_with_their_indices_and_do_not_fail(tmp_path: Path) -> None:
    recipe = tmp_path / "warn.yaml"
    recipe.write_text(
        "fusebook: 1\nname: warn\nchip: esp32c3\nindices: '1-3'\nsteps:\n"
        "  - burn_efuse: {CUSTOM_MAC: \"{{ '02:00:00:00:00:%02x' % index }}\"}\n"
        "  - write_protect_efuse: [CUSTOM_MAC]\n"
    )
    r = fusebook("check", str(recipe))
    assert r.code == 0, r.err
    assert ("index 1-3 (3 units): " + f"{recipe}:7:5: warning: WR_DIS bit 22 protects CUSTOM_MAC "
            "together with: BLOCK_USR_DATA") in r.out
    assert "3/3 plan; 0 failed; 0 duplicate value(s); 1 warning(s);" in r.out
    body = json.loads(fusebook("check", str(recipe), "--format", "json").out)
    assert body["warnings"] == [{
        "chip": "esp32c3", "location": f"{recipe}:7:5", "indices": [1, 2, 3],
        "message": "WR_DIS bit 22 protects CUSTOM_MAC together with: BLOCK_USR_DATA"}]
    clean = tmp_path / "clean.yaml"
    clean.write_text("fusebook: 1\nname: clean\nchip: esp32c3\nsteps:\n  - burn_efuse: {DIS_USB_JTAG: 1}\n")
    assert json.loads(fusebook("check", str(clean), "--format", "json").out)["warnings"] == []
