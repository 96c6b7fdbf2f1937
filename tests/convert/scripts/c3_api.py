# An esptool 5 API script for an ESP32-C3 (run with EFUSE_FILE naming a virtual eFuse file).
import os

from espefuse import init_commands

with init_commands(chip="esp32c3", virt=True, virt_efuse_file=os.environ["EFUSE_FILE"],
                   do_not_confirm=True, batch_mode=True) as espefuse:
    espefuse.burn_efuse({"DIS_USB_JTAG": 1, "SOFT_DIS_JTAG": "7"})
    espefuse.burn_bit("BLOCK_USR_DATA", [3, 4, 40])
    espefuse.burn_custom_mac(b"\x02\xaa\xbb\xcc\xdd\xee")
    with open("fe.key", "rb") as key:
        espefuse.burn_key(["BLOCK_KEY0"], [key], ["XTS_AES_128_KEY"])
    espefuse.burn_key_digest(["BLOCK_KEY1"], [open("sb.pem", "rb")], ["SECURE_BOOT_DIGEST1"])
    espefuse.burn_block_data(["BLOCK_USR_DATA"], [open("data.bin", "rb")], offset=16)
    if espefuse.efuses["DIS_DOWNLOAD_ICACHE"].get() == 0:
        espefuse.burn_efuse({"DIS_DOWNLOAD_ICACHE": 1})
    espefuse.write_protect_efuse(["DIS_DOWNLOAD_ICACHE"])
    espefuse.read_protect_efuse(["BLOCK_SYS_DATA2"])
    espefuse.burn_all(check_batch_mode=True)
    espefuse.summary()
    if espefuse.efuses["DIS_USB_JTAG"].get() != 1:
        raise RuntimeError("DIS_USB_JTAG was not burned")
