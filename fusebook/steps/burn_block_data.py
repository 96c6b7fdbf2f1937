"""`burn_block_data`: bytes into a block at an offset (from `data:` or a file)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import Field

from fusebook.chips.models import ChipDef
from fusebook.efuse import codecs
from fusebook.errors import SourceLocation
from fusebook.plan.requests import Operation, PlanContext, Request, step_error
from fusebook.recipe.types import BlockRef, HexData, Int, OrTemplate, Text, is_template
from fusebook.secret import Secret
from fusebook.steps.base import (
    ExactlyOneSource,
    StepBase,
    StepCheck,
    StepFiles,
    StepKind,
    read_file_arg,
    step_data,
)


class BurnBlockDataArgs(ExactlyOneSource):
    block: BlockRef
    offset: Int | None = Field(None, description="byte offset into the block (default 0)")
    file: Text | None = None
    data: HexData | None = None


class BurnBlockDataStep(StepBase):
    kind: ClassVar[str] = "burn_block_data"
    burn_block_data: Annotated[BurnBlockDataArgs | str, OrTemplate(BurnBlockDataArgs)]


def check(c: StepCheck, args: Any) -> None:
    if isinstance(args, str):
        return
    blk = c.block(args.block, "block")
    c.file(args.file, "file")
    if blk is None or args.data is None or is_template(args.data):
        return
    offset = args.offset if isinstance(args.offset, int) else 0
    size = len(codecs.parse_hex_bytes(args.data))
    if offset + size > blk.words * 4:
        c.fail(f"{size} bytes at offset {offset} do not fit {blk.name} ({blk.words * 4} bytes)", c.at("data"))


def prepare(args: Any, files: StepFiles, chip: ChipDef, origin: SourceLocation | None) -> Any:
    return read_file_arg(args, files, origin, secret=False)


@dataclass(frozen=True)
class BurnBlockData:
    """A rendered burn_block_data: `data:` as rendered or `file:` as read, at `offset`."""

    block: str | int | None
    offset: Any
    data: Any
    file: Any

    @classmethod
    def of(cls, op: Operation) -> BurnBlockData:
        args = op.args if isinstance(op.args, dict) else {}
        return cls(args.get("block"), args.get("offset", 0) or 0, args.get("data"), args.get("file"))

    @property
    def secret(self) -> bool:
        """Data from a secret input (or a key file) stays out of plans and logs like a key."""
        return isinstance(self.data, Secret) or isinstance(self.file, Secret)


def requests(ctx: PlanContext, op: Operation) -> None:
    step = BurnBlockData.of(op)
    blk = ctx.block(op, step.block)
    data = step_data(op, step.data, step.file, "burn_block_data")
    offset = step.offset
    size = ctx.image.data_bytes(blk)
    if not isinstance(offset, int) or offset < 0 or offset >= size:
        raise step_error(op, f"offset {offset!r} is outside {blk.name} ({size} bytes)")
    if offset + len(data) > size:
        raise step_error(op, f"{len(data)} bytes at offset {offset} do not fit {blk.name} ({size} bytes)")
    mask = ((1 << (8 * len(data))) - 1) << (8 * offset)
    value = int.from_bytes(data, "little") << (8 * offset)
    ctx.out.requests.append(Request(blk.id, mask, value, True, blk.name, op.origin, step.secret, guard=blk.name))


KIND = StepKind("burn_block_data", BurnBlockDataStep, args_model=BurnBlockDataArgs, check=check,
                prepare=prepare, requests=requests, value=BurnBlockData)
