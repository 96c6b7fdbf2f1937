"""The recipe's step kinds, one module each, and the one registry of them.

Each module holds everything about its kind (see `base.StepKind`): the model a recipe is
validated against (and the JSON Schema is generated from), its checks against a chip,
the files it reads, and its translation into bit requests. The recipe models, `validate`
and the planner all find a kind here, by its name; nothing else lists the kinds.

Layering: a step kind builds on the recipe's value kinds (`recipe.types`, `recipe.sources`)
and the planner's requests (`plan.requests`); `recipe.models`, `recipe.static_checks` and
`plan.operations` build on the kinds.
"""

from __future__ import annotations

from fusebook.steps import (
    burn_bit,
    burn_block_data,
    burn_custom_mac,
    burn_efuse,
    burn_key,
    burn_key_digest,
    include,
    read_protect_efuse,
    set_flash_voltage,
    write_protect_efuse,
)
from fusebook.steps.base import StepKind

#: Every step kind by its name, in the order the recipe schema lists them.
STEPS: dict[str, StepKind] = {
    k.name: k
    for k in (
        burn_efuse.KIND, burn_custom_mac.KIND, burn_key.KIND, burn_key_digest.KIND, burn_block_data.KIND,
        burn_bit.KIND, write_protect_efuse.KIND, read_protect_efuse.KIND, set_flash_voltage.KIND,
        include.KIND,
    )
}

__all__ = ["STEPS", "StepKind"]
