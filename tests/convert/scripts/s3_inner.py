# Run by s3_batch.py through execute_scripts, with its own --index and config file.
import json

inner = json.load(args.configfiles[0])
for bit in inner["bits"]:
    espefuse(esp, efuses, args, "burn_bit BLOCK_KEY4 {}".format(bit + args.index))
espefuse(esp, efuses, args, "write_protect_efuse BLOCK_KEY4")
