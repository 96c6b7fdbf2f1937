"""Every command's failure under --format json is one `{"error": {...}}` document of the
documented shape (docs/cli.md, "JSON errors"), with the exit code it names."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import fusebook

KINDS = {"invalid-input": 2, "plan-impossible": 3, "link-error": 4, "stopped": 4, "burn-failed": 5, "aborted": 130}

BAD = "fusebook: 1\nname: bad\nchip: esp32c3\nsteps:\n  - burn_efuse: {NOPE: 1}\n"
LOCKED = "fusebook: 1\nname: l\nchip: esp32c3\nsteps:\n  - burn_efuse: {SECURE_VERSION: 1}\n"

COMMANDS = [
    ("plan", ["plan", "{bad}", "--snapshot", "blank", "--chip", "esp32c3"], 2),
    ("apply", ["apply", "{bad}", "--virt", "--chip", "esp32c3", "--yes", "--no-ledger"], 2),
    ("check", ["check", "{missing}"], 2),
    ("snapshot", ["snapshot", "--port", "/dev/fusebook-no-such-port", "--chip", "esp32c3"], 4),
    ("summary", ["summary", "--snapshot", "{missing}", "--chip", "esp32c3"], 2),
    ("check-error", ["check-error", "--snapshot", "{missing}"], 2),
    ("fields", ["fields", "esp32c9"], 2),
    ("new", ["new", "--chip", "esp32c2", "--template", "hmac"], 2),
    ("ledger", ["ledger", "show", "99", "--ledger", "{ledger}"], 2),
    ("serve-virtual", ["serve-virtual", "--chip", "esp32c9"], 2),
    ("usage", ["plan"], 2),
]


@pytest.mark.parametrize("name, argv, code", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_failing_command_prints_one_error_document(tmp_path: Path, name: str, argv: list[str], code: int) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    subs = {"{bad}": str(tmp_path / "bad.yaml"), "{missing}": str(tmp_path / "missing.yaml"),
            "{ledger}": str(tmp_path / "l.sqlite")}
    r = fusebook(*[subs.get(a, a) for a in argv], "--format", "json")
    assert r.code == code, (r.out, r.err)
    assert set(r.json) == {"error"}
    err = r.json["error"]
    assert set(err) == {"kind", "exit_code", "message", "location", "related", "hint"}
    assert KINDS[err["kind"]] == err["exit_code"] == code
    assert isinstance(err["message"], str) and err["message"]
    assert err["location"] is None or set(err["location"]) == {"file", "line", "column"}
    assert "Traceback" not in r.out + r.err


def test_a_plan_refusal_carries_its_kind_and_place(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(LOCKED + "  - write_protect_efuse: [SECURE_VERSION]\n  - burn_efuse: {SECURE_VERSION: 3}\n")
    r = fusebook("plan", recipe, "--snapshot", "blank", "--chip", "esp32c3", "--format", "json")
    assert r.code in (2, 3)
    err = r.json["error"]
    assert err["location"]["file"].endswith("r.yaml") and err["location"]["line"] >= 5
