"""The plan as JSON (`plan -o`, `--format json`, the ledger): every key, its redaction, its digest."""

from __future__ import annotations

import hashlib
import json

from fusebook.chips.loader import load_chip
from fusebook.efuse.image import EfuseImage
from fusebook.errors import SourceLocation
from fusebook.plan.model import FieldChange, Origin, PlanWarning, plan_digest
from fusebook.secret import Secret
from tests.plan.helpers import plan

C3 = load_chip("esp32c3")
KEY = Secret(bytes(range(32)))


def _plan_json() -> dict:
    p = plan(C3, EfuseImage.blank(C3), {"burn_efuse": {"SOFT_DIS_JTAG": 7}},
             {"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": KEY}})
    return p.to_json()


def test_a_plans_json_names_chip_snapshot_changes_writes_and_fingerprints() -> None:
    body = _plan_json()
    assert list(body) == ["chip", "revision", "snapshot_digest", "changes", "writes", "warnings",
                          "skipped", "key_fingerprints", "digest"]
    assert body["chip"] == "esp32c3" and body["revision"] == 0
    assert body["snapshot_digest"] == EfuseImage.blank(C3).digest()
    assert body["changes"][0] == {
        "field": "SOFT_DIS_JTAG", "detail": None, "block": 0, "before": 0, "after": 7,
        "origin": {"step": "burn_efuse", "location": "r.yaml:1:5"},
    }
    assert body["changes"][2] == {
        "field": "WR_DIS", "detail": "bit 8 (KEY_PURPOSE_0)", "block": 0, "before": 0, "after": 1,
        "origin": {"step": "burn_key", "location": "r.yaml:2:5"},
    }
    fingerprint = body["key_fingerprints"]["BLOCK_KEY0"]
    assert fingerprint.startswith("sha256:") and body["key_fingerprints"] == {"BLOCK_KEY0": fingerprint}
    assert body["changes"][-1] == {
        "field": "BLOCK_KEY0", "detail": None, "block": 4, "before": "empty",
        "after": "key " + fingerprint, "origin": {"step": "burn_key", "location": "r.yaml:2:5"},
    }
    assert body["writes"] == [
        {"block": 4, "block_name": "BLOCK_KEY0", "phase": "data", "words": None, "redacted": True,
         "fingerprint": fingerprint, "bits_set": sum(b.bit_count() for b in range(32))},
        {"block": 0, "block_name": "BLOCK0", "phase": "data",
         "words": ["0x00000000", "0x00070000", "0x04000000", "0x00000000", "0x00000000", "0x00000000"],
         "redacted": False, "fingerprint": None, "bits_set": 4},
        {"block": 0, "block_name": "BLOCK0", "phase": "lock",
         "words": ["0x00800100", "0x00000001", "0x00000000", "0x00000000", "0x00000000", "0x00000000"],
         "redacted": False, "fingerprint": None, "bits_set": 3},
    ]
    assert body["warnings"] == [] and body["skipped"] == []
    assert bytes(range(32)).hex() not in json.dumps(body)


def test_the_digest_is_the_sha256_of_the_sorted_body_without_itself() -> None:
    body = _plan_json()
    rest = {k: v for k, v in body.items() if k != "digest"}
    assert body["digest"] == hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()
    assert plan_digest(body) == body["digest"] == plan_digest(rest)


def test_any_change_to_the_body_changes_the_digest() -> None:
    body = _plan_json()
    seen = {plan_digest(body)}
    for key in ("chip", "revision", "snapshot_digest", "changes", "writes", "warnings", "skipped",
                "key_fingerprints"):
        changed = dict(body)
        changed[key] = "other"
        seen.add(plan_digest(changed))
    assert len(seen) == 9


def test_a_secret_change_shows_only_the_planners_safe_words() -> None:
    origin = Origin("burn_key", SourceLocation("r.yaml", 3, 5))
    hidden = FieldChange("BLOCK_KEY1", 5, "00ff", "abcd", origin, secret=True).to_json()
    assert (hidden["before"], hidden["after"]) == ("<secret>", "<secret>")
    kept = FieldChange("BLOCK_KEY1", 5, "empty", "key sha256:1234", origin, secret=True).to_json()
    assert (kept["before"], kept["after"]) == ("empty", "key sha256:1234")
    assert FieldChange("BLOCK_KEY1", 5, "<secret>", 7, None, secret=True).to_json()["after"] == "<secret>"
    plain = FieldChange("SOFT_DIS_JTAG", 0, 0, 7, None).to_json()
    assert (plain["before"], plain["after"], plain["origin"]) == (0, 7, None)


def test_a_change_label_names_the_part_of_the_field() -> None:
    assert FieldChange("WR_DIS", 0, 0, 1, detail="bit 23 (BLOCK_KEY0)").label() == "WR_DIS bit 23 (BLOCK_KEY0)"
    assert FieldChange("SOFT_DIS_JTAG", 0, 0, 7).label() == "SOFT_DIS_JTAG"


def test_origins_and_warnings_print_their_place_when_they_have_one() -> None:
    here = SourceLocation("r.yaml", 4, 7)
    assert str(Origin("JTAG off", here)) == "r.yaml:4:7: JTAG off"
    assert str(Origin("JTAG off")) == "JTAG off"
    assert Origin("JTAG off").to_json() == {"step": "JTAG off", "location": None}
    assert Origin("JTAG off", here).to_json() == {"step": "JTAG off", "location": "r.yaml:4:7"}
    assert str(PlanWarning("key unverifiable", Origin("k", here))) == "r.yaml:4:7: warning: key unverifiable"
    assert str(PlanWarning("key unverifiable", Origin("k"))) == "warning: key unverifiable"
    assert str(PlanWarning("key unverifiable")) == "warning: key unverifiable"
    assert PlanWarning("w", Origin("k", here)).to_json() == {
        "message": "w", "origin": {"step": "k", "location": "r.yaml:4:7"}}
    assert PlanWarning("w").to_json() == {"message": "w", "origin": None}
