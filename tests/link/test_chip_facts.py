"""Every link fact (chip data `link:` sections, link/rom.yaml), checked against esptool's chip classes."""

from __future__ import annotations

import pytest
from esptool.loader import ESPLoader
from esptool.targets import CHIP_DEFS

from fusebook.chips.loader import chip_names, load_chip
from fusebook.link.facts import link_facts

FACTS = link_facts()
CHIPS = sorted(FACTS.chips)


def _fixed_crystal(cls: type) -> int | None:
    """esptool's crystal when it is a constant of the chip (not read from the chip)."""
    try:
        return int(cls.get_crystal_freq(None))
    except (AttributeError, TypeError):
        return None


def test_every_fusebook_chip_has_link_facts() -> None:
    assert set(chip_names()) == set(FACTS.chips)


def test_shared_facts() -> None:
    assert FACTS.detect_magic_reg == ESPLoader.CHIP_DETECT_MAGIC_REG_ADDR
    assert FACTS.uart_clkdiv_mask == ESPLoader.UART_CLKDIV_MASK
    assert FACTS.unsupported_chip_ids == ESPLoader.UNSUPPORTED_CHIPS
    assert FACTS.unsupported_magic == {CHIP_DEFS["esp8266"].MAGIC_VALUE: "ESP8266"}


@pytest.mark.parametrize("name", CHIPS)
def test_chip_facts_match_esptool(name: str) -> None:
    ours = FACTS.chip(name)
    cls = CHIP_DEFS[name]
    assert ours.chip_name == cls.CHIP_NAME
    assert ours.chip_name == load_chip(name).rom.chip_name
    if cls.USES_MAGIC_VALUE:
        assert ours.magic == cls.MAGIC_VALUE
        assert ours.chip_id is None
    else:
        assert ours.magic is None
        assert ours.chip_id == cls.IMAGE_CHIP_ID
    assert (ours.security_info != "none") == cls.SECURITY_INFO_SUPPORTED
    assert (ours.security_info == "short") == (name == "esp32s2")
    assert ours.uart_date_reg == cls.UART_DATE_REG_ADDR
    assert ours.uart_clkdiv_reg == cls.UART_CLKDIV_REG
    assert ours.xtal_clk_divider == cls.XTAL_CLK_DIVIDER
    assert ours.crystal_mhz == _fixed_crystal(cls)
    assert ours.usb_serial_jtag == cls.USB_SERIAL_JTAG_SUPPORTED


@pytest.mark.parametrize("name", CHIPS)
def test_watchdog_registers_match_esptool(name: str) -> None:
    ours = FACTS.chip(name).watchdogs
    cls = CHIP_DEFS[name]
    if not cls.USB_SERIAL_JTAG_SUPPORTED:
        assert ours is None
        return
    assert ours is not None
    assert ours["wdt_protect_reg"] == cls.RTC_CNTL_WDTWPROTECT_REG
    assert ours["wdt_key"] in (cls.RTC_CNTL_WDT_WKEY, cls.RTC_CNTL_SWD_WKEY)
    assert ours["wdt_config0_reg"] == cls.RTC_CNTL_WDTCONFIG0_REG
    assert ours["swd_protect_reg"] == cls.RTC_CNTL_SWD_WPROTECT_REG
    assert ours["swd_key"] == cls.RTC_CNTL_SWD_WKEY
    assert ours["swd_conf_reg"] == cls.RTC_CNTL_SWD_CONF_REG
    assert ours["swd_auto_feed"] == cls.RTC_CNTL_SWD_AUTO_FEED_EN


def test_baud_fix_registers_match_esptool() -> None:
    esp32 = FACTS.chip("esp32").baud_fix
    assert esp32 is not None and esp32.kind == "esp32_rom_calibration"
    cls = CHIP_DEFS["esp32"]
    assert esp32.params["cali_reg"] == cls.RTCCALICFG1
    assert esp32.params["cali_shift"] == cls.TIMERS_RTC_CALI_VALUE_S
    assert esp32.params["cali_mask"] == cls.TIMERS_RTC_CALI_VALUE
    assert esp32.params["ck8m_reg"] == cls.EFUSE_RD_REG_BASE + 4 * 4
    c5 = FACTS.chip("esp32c5").baud_fix
    assert c5 is not None and c5.kind == "rom_expected_crystal"
    assert c5.params["reg"] == CHIP_DEFS["esp32c5"].PCR_SYSCLK_CONF_REG
    assert c5.params["mask"] == CHIP_DEFS["esp32c5"].PCR_SYSCLK_XTAL_FREQ_V
    assert c5.params["shift"] == CHIP_DEFS["esp32c5"].PCR_SYSCLK_XTAL_FREQ_S


@pytest.mark.parametrize("name", CHIPS)
def test_lockout_fields_exist_in_the_chip_tables(name: str) -> None:
    ours = FACTS.chip(name)
    chip = load_chip(name)
    for field in (ours.download_disable_field, ours.secure_download_field):
        assert field is None or chip.has_field(field)


@pytest.mark.parametrize("name", CHIPS)
def test_virtual_crystal_has_programming_timings(name: str) -> None:
    chip = load_chip(name)
    if chip.timing:
        assert FACTS.chip(name).virtual_crystal_mhz in chip.timing
