"""Starting chips for recipe tests: an image from a snapshot plus a few fields, on a virtual chip.

A case starts from `blank`, an EFSR token or a snapshot file, and may burn a few fields on
top (as a chip that already had secure boot, or JTAG off). The fields are burned by the
planner itself, so the start obeys the chip's rules (coding, protections) as a real chip
would. The image is then held by an in-memory virtual chip: nothing touches a file or a port.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fusebook.chips.loader import load_chip
from fusebook.drivers.controller import controller_for
from fusebook.efuse.image import EfuseImage
from fusebook.errors import FusebookError, InputError, SourceLocation
from fusebook.plan.operations import Operation, step_requests
from fusebook.plan.planner import build_plan
from fusebook.session import Session, factory_mac
from fusebook.snapshot.formats import load_snapshot

#: The factory MAC a test chip gets when its start has none (Espressif's OUI, unit 1):
#: fixed, so a case's plan and warnings are the same on every run.
DEFAULT_FACTORY_MAC = "7c:df:a1:00:00:01"


def start_image(
    chip: str | None,
    snapshot: str = "blank",
    fields: Mapping[str, Any] | None = None,
    *,
    base_dir: Path | None = None,
    location: SourceLocation | None = None,
    default_chip: str | None = None,
) -> EfuseImage:
    """The image a case starts from (InputError, at `location`, for a start that cannot be made).

    `snapshot` is `blank`, an EFSR token, or a file relative to `base_dir`. A token or a
    fusebook snapshot names its chip; `chip`, if given, must agree. A blank start and an
    espefuse efuse file take `chip`, else `default_chip` (a recipe's first chip).
    `fields` are burned on it with the planner's rules, as `burn_efuse` would.
    """
    name = chip or default_chip
    if name is None and snapshot == "blank":
        raise InputError("a blank start needs a chip", location=location,
                         hint="name the chip, e.g. esp32c3, or give a snapshot")
    try:
        if snapshot == "blank" or snapshot.startswith(("EFSR:", "EFSW:", "EFSRW:")):
            image = load_snapshot(snapshot, name)
        else:
            path = Path(snapshot) if base_dir is None else base_dir / snapshot
            image = load_snapshot(str(path), name)
        if chip is not None and image.chip.name != load_chip(chip).name:
            raise InputError(f"the snapshot is of {image.chip.name}, the case is for {load_chip(chip).name}",
                             hint="drop `chip:` or give a snapshot of that chip")
        if fields:
            op = Operation("burn_efuse", dict(fields), "start", location)
            image = build_plan(image.chip, image, step_requests(image.chip, image, [op])).after
    except FusebookError as e:
        raise InputError(f"start: {e.message}", location=location, hint=e.hint) from None
    return image


def virtual_session(image: EfuseImage, *, mac: str | None = None) -> Session:
    """An in-memory virtual chip holding `image`, opened as a session (as `--virt` opens one).

    A start without a factory MAC (blank) gets `mac`, else DEFAULT_FACTORY_MAC, so that the
    chip has an identity as every real one has.
    """
    from fusebook.virtual.chip import VirtualChip

    chip = image.chip
    vc = VirtualChip(chip, None, identity=image.identity)
    vc.hold(image)
    if chip.has_field("MAC") and not factory_mac(image).replace(":", "").strip("0"):
        vc.set_factory_mac(mac or DEFAULT_FACTORY_MAC)
    return Session(chip, controller_for(vc, chip), "virtual:test")
