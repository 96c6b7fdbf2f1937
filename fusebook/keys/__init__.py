"""Key material: Secure Boot V2 public-key digests, ECDSA private keys, key files.

- `digest`: the public-key digest `burn_key_digest` burns (RSA-3072, ECDSA P-192/256/384).
- `ecdsa`: an ECDSA private key PEM to the per-block bytes `burn_key` burns.
- `files`: key files (raw binary, hex, PEM) to `Secret`s.
- `schemes`: which signature schemes each chip verifies (the chip data's `secure_boot:`).

Nothing here prints, logs or formats key bytes: secret results are `Secret`s, and errors
describe inputs without quoting them.
"""
