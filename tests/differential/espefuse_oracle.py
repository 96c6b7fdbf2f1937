"""Drive espefuse's own API in virtual batch mode: the independent oracle for burns."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

from espefuse import init_commands


def espefuse_burn(chip: str, efuse_file: Path, actions: Callable[[Any], None]) -> str:
    """Run `actions(commands)` in one espefuse batch against `efuse_file`; return its log."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), init_commands(
        chip=chip, virt=True, virt_efuse_file=str(efuse_file), do_not_confirm=True
    ) as cmds:
        cmds.use_batch_mode()
        actions(cmds)
        cmds.burn_all()
    return out.getvalue()


def espefuse_fields(chip: str, efuse_file: Path) -> dict[str, Any]:
    """Every field value espefuse reads from `efuse_file` (its `get()` forms)."""
    with contextlib.redirect_stdout(io.StringIO()):
        with init_commands(chip=chip, virt=True, virt_efuse_file=str(efuse_file)) as cmds:
            values = {}
            for e in cmds.efuses.efuses:
                if e.word is None:
                    continue
                try:
                    values[e.name] = e.get()
                except Exception:  # computed fields that need a live chip
                    continue
            return values


def espefuse_blocks(chip: str, efuse_file: Path) -> list[bytes]:
    """Each block's read registers as espefuse's virtual controller holds them."""
    with contextlib.redirect_stdout(io.StringIO()):
        with init_commands(chip=chip, virt=True, virt_efuse_file=str(efuse_file)) as cmds:
            out = []
            for b in cmds.efuses.blocks:
                words = [cmds.efuses.read_reg(b.rd_addr + 4 * i) for i in range(b.len)]
                out.append(b"".join(w.to_bytes(4, "little") for w in words))
            return out
