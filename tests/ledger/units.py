"""Realistic `begin` arguments for ledger tests: one unit of a MAC-and-key recipe."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fusebook.secret import Secret

RECIPE_SHA = hashlib.sha256(b"fusebook: 1\nname: lockdown-and-mac\n").hexdigest()
KEY = Secret(bytes(range(32)))


def unit(index: int = 1, factory_mac: str = "7c:df:a1:00:00:01", **overrides: Any) -> dict[str, Any]:
    """The keyword arguments `Ledger.begin` gets from `apply` for unit `index`."""
    custom_mac = f"02:00:00:00:{index >> 8 & 0xff:02x}:{index & 0xff:02x}"
    plan = {"chip": "esp32c3", "writes": [{"block": 4, "redacted": True, "fingerprint": KEY.fingerprint}]}
    body = json.dumps(plan, sort_keys=True)
    args: dict[str, Any] = {
        "chip_type": "esp32c3",
        "revision": 4,
        "factory_mac": factory_mac,
        "recipe_name": "lockdown-and-mac",
        "recipe_sha256": RECIPE_SHA,
        "index": index,
        "input_digests": {"macs": hashlib.sha256(b"macs").hexdigest(), "fe_key": hashlib.sha256(b"k").hexdigest()},
        "plan_json": body,
        "plan_digest": hashlib.sha256(body.encode()).hexdigest(),
        "before_token": "EFSR:" + "0" * 40,
        "unique_values": {"CUSTOM_MAC": custom_mac},
        "key_fingerprints": {"BLOCK_KEY0": KEY.fingerprint},
    }
    args.update(overrides)
    return args
