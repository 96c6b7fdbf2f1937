"""The register bus: the one interface every eFuse controller driver talks through.

The virtual chip implements it in-process, the ROM serial link over the wire, so
`--virt`, `serve-virtual` and a real chip all run the same driver code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol

FULL_MASK = 0xFFFFFFFF


class MaskedWrite(NamedTuple):
    """Set the `mask` bits of register `addr` to those of `value` (others unchanged)."""

    addr: int
    value: int
    mask: int = FULL_MASK


class RegisterBus(Protocol):
    """32-bit register access at absolute addresses of the chip's address space."""

    def read(self, addr: int) -> int:
        """Read the 32-bit register at `addr`."""
        ...

    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
        """Write `value` to the register at `addr`; the link may wait `delay_after_us` after."""
        ...


def write_many(bus: RegisterBus, writes: Sequence[MaskedWrite], *, delay_after_us: int = 0) -> None:
    """Apply `writes` in order, in one transaction where the bus offers one.

    The ROM's WRITE_REG command carries any number of (address, value, mask, delay)
    entries applied in order, so a link sends a whole register load as one frame; a bus
    without `write_many` gets the writes one by one (read-modify-write for masked ones).
    """
    batch = getattr(bus, "write_many", None)
    if batch is not None:
        batch(list(writes), delay_after_us=delay_after_us)
        return
    for i, w in enumerate(writes):
        value = w.value
        if w.mask != FULL_MASK:
            value = (bus.read(w.addr) & ~w.mask) | (w.value & w.mask)
        last = i == len(writes) - 1
        bus.write(w.addr, value & FULL_MASK, delay_after_us=delay_after_us if last else 0)
