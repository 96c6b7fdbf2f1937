"""Fixtures for the recipe front-end tests."""

from __future__ import annotations

import pytest

from .helpers import DictEfuses


@pytest.fixture
def efuses() -> DictEfuses:
    return DictEfuses({"CUSTOM_MAC": "00:00:00:00:00:00", "DIS_USB_JTAG": False, "SECURE_VERSION": 0,
                       "KEY_PURPOSE_0": "USER", "BLOCK_KEY0": "00" * 32},
                      protected={"BLOCK_KEY0"}, read_protected={"BLOCK_KEY0"},
                      meanings={"SECURE_VERSION": "no anti-rollback"})
