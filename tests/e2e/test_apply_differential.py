"""Acceptance form: fusebook's command line reads a chip file espefuse burned.

The burns compared with espefuse's through `fusebook apply --virt` are case folders
(tests/cases/, run by tests/cases/test_case_folders.py)."""

from __future__ import annotations

from pathlib import Path

from ..differential.espefuse_oracle import espefuse_burn
from .conftest import fusebook


def test_fusebook_reads_what_espefuse_burned(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.efuse"
    espefuse_burn("esp32c3", theirs, lambda e: (e.burn_custom_mac(b"\x02\x11\x22\x33\x44\x55"),
                                                e.burn_efuse({"SECURE_VERSION": "5"})))
    r = fusebook("summary", "--snapshot", theirs, "--chip", "esp32c3", "--format", "json")
    values = {f["name"]: f["value"] for f in r.json["fields"]}
    assert values["CUSTOM_MAC"] == "02:11:22:33:44:55"
    assert values["SECURE_VERSION"] == 5
