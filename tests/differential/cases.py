"""Burns expressed twice: as fusebook recipe steps and as espefuse API calls.

Each case is (chip, steps, espefuse actions). Steps are what a recipe's `steps:` list
holds after rendering; the actions call espefuse's batch API for the same burn.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEY32 = bytes(range(1, 33))
KEY32B = bytes(range(101, 133))
KEY64 = bytes(range(7, 71))
USER32 = bytes((i * 37) & 0xFF for i in range(32))


@dataclass(frozen=True)
class Case:
    id: str
    chip: str
    steps: list[dict[str, Any]]
    espefuse: Callable[[Any], None]


def _b(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


CASES = [
    # ---------------- esp32c3 ----------------
    Case("c3-mac-jtag", "esp32c3",
         [{"burn_custom_mac": "aa:bb:cc:dd:ee:02"},
          {"burn_efuse": {"DIS_USB_JTAG": 1, "SOFT_DIS_JTAG": 7}}],
         lambda e: (e.burn_custom_mac(b"\xaa\xbb\xcc\xdd\xee\x02"),
                    e.burn_efuse({"DIS_USB_JTAG": "1", "SOFT_DIS_JTAG": "7"}))),
    Case("c3-fe-key", "esp32c3",
         [{"burn_key": {"block": "BLOCK_KEY0", "purpose": "XTS_AES_128_KEY", "data": KEY32.hex()}}],
         lambda e: e.burn_key(["BLOCK_KEY0"], [_b(KEY32)], ["XTS_AES_128_KEY"])),
    Case("c3-hmac-unprotected", "esp32c3",
         [{"burn_key": {"block": "BLOCK_KEY3", "purpose": "HMAC_UP", "data": KEY32.hex(),
                        "read_protect": False, "write_protect": False}}],
         lambda e: e.burn_key(["BLOCK_KEY3"], [_b(KEY32)], ["HMAC_UP"], no_write_protect=True,
                              no_read_protect=True)),
    Case("c3-user-data-offset", "esp32c3",
         [{"burn_block_data": {"block": "BLOCK_USR_DATA", "offset": 4, "data": "0102030405060708"}}],
         lambda e: e.burn_block_data(["BLOCK_USR_DATA"], [_b(bytes.fromhex("0102030405060708"))], offset=4)),
    Case("c3-sys-data2-bits", "esp32c3",
         [{"burn_bit": {"block": "BLOCK_SYS_DATA2", "bits": [0, 5, 255]}}],
         lambda e: e.burn_bit("BLOCK_SYS_DATA2", [0, 5, 255])),
    Case("c3-protect", "esp32c3",
         [{"burn_efuse": {"DIS_DOWNLOAD_MODE": 1, "SECURE_VERSION": 3}},
          {"write_protect_efuse": ["DIS_DOWNLOAD_MODE", "MAC"]},
          {"read_protect_efuse": ["BLOCK_SYS_DATA2"]}],
         lambda e: (e.burn_efuse({"DIS_DOWNLOAD_MODE": "1", "SECURE_VERSION": "3"}),
                    e.write_protect_efuse(["DIS_DOWNLOAD_MODE", "MAC"]),
                    e.read_protect_efuse(["BLOCK_SYS_DATA2"]))),
    Case("c3-two-keys-and-purpose", "esp32c3",
         [{"burn_key": {"block": "BLOCK_KEY1", "purpose": "HMAC_DOWN_JTAG", "data": KEY32.hex()}},
          {"burn_key": {"block": "BLOCK_KEY2", "purpose": "USER", "data": KEY32B.hex()}},
          {"burn_efuse": {"KEY_PURPOSE_4": "SECURE_BOOT_DIGEST1"}}],
         lambda e: (e.burn_key(["BLOCK_KEY1", "BLOCK_KEY2"], [_b(KEY32), _b(KEY32B)],
                               ["HMAC_DOWN_JTAG", "USER"]),
                    e.burn_efuse({"KEY_PURPOSE_4": "10"}))),
    Case("c3-digest-purpose-key", "esp32c3",
         [{"burn_key": {"block": "BLOCK_KEY4", "purpose": "SECURE_BOOT_DIGEST0", "data": KEY32.hex()}},
          {"burn_efuse": {"SECURE_BOOT_EN": 1, "SPI_BOOT_CRYPT_CNT": 1}}],
         lambda e: (e.burn_key(["BLOCK_KEY4"], [_b(KEY32)], ["SECURE_BOOT_DIGEST0"]),
                    e.burn_efuse({"SECURE_BOOT_EN": "1", "SPI_BOOT_CRYPT_CNT": "1"}))),
    # ---------------- esp32s3 ----------------
    Case("s3-xts256", "esp32s3",
         [{"burn_key": {"block": "BLOCK_KEY1", "purpose": "XTS_AES_256_KEY", "data": KEY64.hex()}}],
         lambda e: e.burn_key(["BLOCK_KEY1"], [_b(KEY64)], ["XTS_AES_256_KEY"])),
    Case("s3-mac-usb-lockdown", "esp32s3",
         [{"burn_custom_mac": "02:00:00:12:34:56"},
          {"burn_efuse": {"DIS_USB_JTAG": 1, "DIS_USB_OTG": 1, "DIS_PAD_JTAG": 1}},
          {"write_protect_efuse": ["DIS_USB_JTAG"]}],
         lambda e: (e.burn_custom_mac(b"\x02\x00\x00\x12\x34\x56"),
                    e.burn_efuse({"DIS_USB_JTAG": "1", "DIS_USB_OTG": "1", "DIS_PAD_JTAG": "1"}),
                    e.write_protect_efuse(["DIS_USB_JTAG"]))),
    Case("s3-flash-voltage", "esp32s3",
         [{"set_flash_voltage": "3.3V"}],
         lambda e: e.set_flash_voltage("3.3V")),
    Case("s3-user-block", "esp32s3",
         [{"burn_block_data": {"block": "BLOCK3", "data": USER32.hex()}},
          {"burn_key": {"block": "BLOCK_KEY4", "purpose": "XTS_AES_128_KEY", "data": KEY32B.hex()}}],
         lambda e: (e.burn_block_data(["BLOCK3"], [_b(USER32)]),
                    e.burn_key(["BLOCK_KEY4"], [_b(KEY32B)], ["XTS_AES_128_KEY"]))),
    # ---------------- esp32 ----------------
    Case("esp32-mac-fe", "esp32",
         [{"burn_custom_mac": "aa:bb:cc:dd:ee:02"},
          {"burn_key": {"block": "flash_encryption", "data": KEY32.hex()}},
          {"burn_efuse": {"FLASH_CRYPT_CNT": 1, "JTAG_DISABLE": 1}}],
         lambda e: (e.burn_custom_mac(b"\xaa\xbb\xcc\xdd\xee\x02"),
                    e.burn_key(["flash_encryption"], [_b(KEY32)]),
                    e.burn_efuse({"FLASH_CRYPT_CNT": "1", "JTAG_DISABLE": "1"}))),
    Case("esp32-sbv1-and-data", "esp32",
         [{"burn_key": {"block": "secure_boot_v1", "data": KEY32B.hex()}},
          {"burn_block_data": {"block": "BLOCK3", "offset": 8, "data": "deadbeef"}}],
         lambda e: (e.burn_key(["secure_boot_v1"], [_b(KEY32B)]),
                    e.burn_block_data(["BLOCK3"], [_b(bytes.fromhex("deadbeef"))], offset=8))),
    Case("esp32-unprotected-key-and-voltage", "esp32",
         [{"burn_key": {"block": "BLOCK3", "data": USER32.hex(), "read_protect": False,
                        "write_protect": False}},
          {"set_flash_voltage": "1.8V"},
          {"write_protect_efuse": ["UART_DOWNLOAD_DIS"]}],
         lambda e: (e.burn_key(["BLOCK3"], [_b(USER32)], no_protect_key=True),
                    e.set_flash_voltage("1.8V"),
                    e.write_protect_efuse(["UART_DOWNLOAD_DIS"]))),
    Case("esp32-bits-and-protect", "esp32",
         [{"burn_bit": {"block": "BLOCK3", "bits": [1, 100, 200]}},
          {"read_protect_efuse": ["BLOCK3"]},
          {"burn_efuse": {"ABS_DONE_0": 1, "DISABLE_DL_ENCRYPT": 1}}],
         lambda e: (e.burn_bit("BLOCK3", [1, 100, 200]), e.read_protect_efuse(["BLOCK3"]),
                    e.burn_efuse({"ABS_DONE_0": "1", "DISABLE_DL_ENCRYPT": "1"}))),
]
