"""A plan as espefuse's staged-write token (`EFSW:...`), for firmware that burns it itself.

ESP-IDF's `esp_efuse_token_burn()` takes the token `espefuse --show-token` prints before a
burn: per block, the bits staged in the write registers. espefuse stages the whole value
of every field (or key, or block data) a command changes, bits already burned included,
and leaves out a request whose bits are all burned already. On a 3/4-coded block it says
it leaves out a 6-byte group that already holds exactly the staged bytes, yet its token
still carries that group (espefuse 5.6 clears a copy of the group, not the staged bits),
so the token here carries it too. The planner records those bits as `BurnPlan.staged`;
this module only lays them out.

The token carries the raw staged bits, key material included: `has_key_material` tells
the caller when printing it would show a key.
"""

from __future__ import annotations

from fusebook.plan.model import BurnPlan
from fusebook.snapshot.formats import encode_token

TOKEN_KIND = "EFSW"


def has_key_material(plan: BurnPlan) -> bool:
    """True if a block the plan writes holds a key or secret input: the token would show it."""
    return any(w.secret for w in plan.writes) or any(plan.secret_bits.values())


def _staged_bytes(plan: BurnPlan, block: int) -> bytes:
    """The block's staged bits as its data bytes (24 of a 3/4-coded ESP32 block's 32)."""
    image = plan.before
    blk = image.chip.blocks[block]
    return plan.staged.get(block, 0).to_bytes(blk.words * 4, "little")[: image.data_bytes(blk)]


def staged_write_token(plan: BurnPlan) -> str:
    """The plan's EFSW token, as espefuse prints it with `--show-token` for the same burn.

    A plan that burns nothing gives the token of an empty write (every block empty).
    """
    chip = plan.before.chip
    blocks = [_staged_bytes(plan, b.id) for b in chip.blocks]
    return encode_token(TOKEN_KIND, chip.name, plan.revision, blocks, [])
