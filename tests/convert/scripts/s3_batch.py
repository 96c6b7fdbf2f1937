# An espefuse 4 execute_scripts script for the ESP32-S3 that runs another one.
import json

config = json.load(args.configfiles[0])
for cmd in config["first"]:
    espefuse(esp, efuses, args, cmd.format(index=args.index))
espefuse(esp, efuses, args, "execute_scripts s3_inner.py --index 5 --configfiles inner.json")
espefuse(esp, efuses, args, "set_flash_voltage 1.8V")
espefuse(esp, efuses, args, "burn_key BLOCK_KEY2 hmac.key HMAC_UP")
