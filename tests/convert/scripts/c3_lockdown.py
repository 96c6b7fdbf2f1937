# An espefuse 4 execute_scripts script for an ESP32-C3 production line.
# Run as: espefuse.py --chip esp32c3 execute_scripts c3_lockdown.py --index N --configfiles units.json
import json

units = json.load(args.configfiles[0])
assert args.index >= 1, "index starts at 1"

if efuses["DIS_USB_JTAG"].get() == 0:
    espefuse(esp, efuses, args, "burn_efuse DIS_USB_JTAG 1 SOFT_DIS_JTAG 7")
espefuse(esp, efuses, args, "burn_efuse KEY_PURPOSE_3 HMAC_UP")
espefuse(esp, efuses, args, "burn_bit BLOCK_USR_DATA 0 1 2 {}".format(args.index + 8))
espefuse(esp, efuses, args, "burn_custom_mac %s" % units[str(args.index)]["mac"])
espefuse(esp, efuses, args, f"burn_efuse SECURE_VERSION {units[str(args.index)]['version']}")
espefuse(esp, efuses, args, "burn_key BLOCK_KEY0 fe.key XTS_AES_128_KEY --no-read-protect")
espefuse(esp, efuses, args, "burn_key_digest BLOCK_KEY1 sb.pem SECURE_BOOT_DIGEST0")
espefuse(esp, efuses, args, "burn_block_data BLOCK_KEY5 data.bin --offset 4")
espefuse(esp, efuses, args, "read_protect_efuse BLOCK_SYS_DATA2")
espefuse(esp, efuses, args, "write_protect_efuse BLOCK_SYS_DATA2 DIS_USB_JTAG")

efuses.burn_all()

espefuse(esp, efuses, args, "summary")
if efuses["SOFT_DIS_JTAG"].get() != 7:
    raise esptool.FatalError("SOFT_DIS_JTAG was not burned")
assert not efuses["BLOCK_SYS_DATA2"].is_readable(), "BLOCK_SYS_DATA2 should be read-protected"
