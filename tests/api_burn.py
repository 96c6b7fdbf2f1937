"""Burns the way users run them: a recipe file, `fusebook.api.load_recipe`, `connect`, `apply`.

Differential tests compare fusebook with espefuse; driving fusebook through the public API
(rather than the planner and driver by hand) means what is compared is the whole path a
recipe step takes: the recipe schema and validation, templates, key files (PEM to digest,
ECDSA splitting), the planner, the driver and the virtual chip, with the chip table the
session picks for the chip's revision.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from fusebook import api
from fusebook.plan.model import BurnPlan


def same_start(chip: str, ours: Path, theirs: Path) -> None:
    """Both sides start from one new virtual chip: fusebook's, with its factory MAC.

    A new virtual chip has a factory MAC of its own; espefuse's starts all-zero. Comparing
    burns means starting both from the same file.
    """
    from fusebook.chips.loader import load_chip
    from fusebook.virtual.chip import open_virtual

    open_virtual(load_chip(chip), ours).save()
    shutil.copyfile(ours, theirs)


def write_recipe(folder: Path, chip: str, steps: list[dict[str, Any]], name: str = "case") -> Path:
    """`steps` as a recipe file in `folder`.

    A step argument `_pem` (bytes of a PEM key, as the differential cases give espefuse)
    becomes a key file beside the recipe and the step's `file:`, in place of raw `data`:
    fusebook then reads the PEM itself, as a user's recipe has it do.
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for n, step in enumerate(steps):
        clean: dict[str, Any] = {}
        for kind, args in step.items():
            if isinstance(args, dict):
                args = dict(args)
                pem = args.pop("_pem", None)
                if pem is not None:
                    key = folder / f"key{n}.pem"
                    key.write_bytes(pem)
                    args.pop("data", None)
                    args["file"] = key.name
                args = {k: v for k, v in args.items() if not k.startswith("_")}
            clean[kind] = args
        out.append(clean)
    path = folder / f"{name}.yaml"
    with open(path, "w") as f:
        YAML().dump({"fusebook": 1, "name": name, "chip": chip, "steps": out}, f)
    return path


def apply_recipe(recipe: Path, chip: str, efuse_file: Path) -> api.ApplyOutcome:
    """`fusebook apply RECIPE --virt --chip CHIP --efuse-file F --yes --no-ledger`, in process."""
    loaded = api.load_recipe(recipe)
    with api.connect(api.ConnectOptions(virt=True, chip=chip, efuse_file=efuse_file)) as session:
        return api.apply(loaded, session)


def burn_steps(chip: str, steps: list[dict[str, Any]], efuse_file: Path, folder: Path | None = None) -> BurnPlan:
    """Apply `steps` to the virtual chip in `efuse_file` through the public API; the plan burned."""
    recipe = write_recipe(folder or efuse_file.parent / f"{efuse_file.stem}-recipe", chip, steps)
    return apply_recipe(recipe, chip, efuse_file).plan
