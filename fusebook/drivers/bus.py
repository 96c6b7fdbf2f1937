"""The register bus: the one interface every eFuse controller driver talks through.

The virtual chip implements it in-process, the ROM serial link over the wire, so
`--virt`, `serve-virtual` and a real chip all run the same driver code.
"""

from __future__ import annotations

from typing import Protocol


class RegisterBus(Protocol):
    """32-bit register access at absolute addresses of the chip's address space."""

    def read(self, addr: int) -> int:
        """Read the 32-bit register at `addr`."""
        ...

    def write(self, addr: int, value: int, *, delay_after_us: int = 0) -> None:
        """Write `value` to the register at `addr`; the link may wait `delay_after_us` after."""
        ...
