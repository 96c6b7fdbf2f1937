# An espefuse 4 execute_scripts script for the ESP32: flash encryption and secure boot v2.
espefuse(esp, efuses, args, "burn_efuse JTAG_DISABLE 1 DISABLE_SDIO_HOST 1")
espefuse(esp, efuses, args, "burn_key flash_encryption fe.key --no-protect-key")
espefuse(esp, efuses, args, "burn_key_digest sb.pem")
espefuse(esp, efuses, args, "burn_bit BLOCK3 64 66 69 72")
espefuse(esp, efuses, args, "burn_custom_mac 02:11:22:33:44:55")
espefuse(esp, efuses, args, "set_flash_voltage 3.3V")
crypt_cnt = efuses["FLASH_CRYPT_CNT"].get()
if crypt_cnt in [0, 3]:
    espefuse(esp, efuses, args, "burn_efuse FLASH_CRYPT_CNT 1")
else:
    espefuse(esp, efuses, args, "burn_efuse DISABLE_DL_CACHE 1")
espefuse(esp, efuses, args, "write_protect_efuse MAC_VERSION")
