# An esptool 5 API script for the ESP32, without batch mode: each call burns at once.
import os

from espefuse import init_commands

with init_commands(chip="esp32", virt=True, virt_efuse_file=os.environ["EFUSE_FILE"],
                   do_not_confirm=True) as espefuse:
    espefuse.burn_key(["flash_encryption"], [open("fe.key", "rb")], no_protect_key=True)
    espefuse.burn_efuse({"JTAG_DISABLE": 1, "FLASH_CRYPT_CNT": 1})
    espefuse.set_flash_voltage("3.3V")
    espefuse.burn_bit("BLOCK3", [100, 101])
