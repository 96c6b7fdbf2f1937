"""`include:` steps: relative paths, confinement to the recipe's directory, cycles, vars, origins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.render import compile_recipe, render_steps

from .helpers import HEAD, context, recipe_file, where, write

LOCK = """\
vars:
  soft_jtag: 1
  block: null
steps:
  - name: pad JTAG off
    burn_efuse: {DIS_PAD_JTAG: 1}
  - burn_efuse: {SOFT_DIS_JTAG: "{{ vars.soft_jtag }}"}
    when: vars.soft_jtag > 0
ensure:
  - that: efuses.DIS_PAD_JTAG
"""


def test_included_steps_take_the_include_s_place_and_keep_their_origin(tmp_path: Path) -> None:
    write(tmp_path, "common/lock.yaml", LOCK)
    path = recipe_file(tmp_path, """\
        steps:
          - burn_efuse: {DIS_USB_JTAG: 1}
          - include: common/lock.yaml
          - burn_custom_mac: 02:00:00:00:00:01
        """)
    r = load_recipe(path)
    assert [s.kind for s in r.steps] == ["burn_efuse", "burn_efuse", "burn_efuse", "burn_custom_mac"]
    origins = [(Path(s.origin.file).relative_to(tmp_path).as_posix(), s.origin.line, s.origin.column)
               for s in r.sources.steps]
    assert origins == [("recipe.yaml", 5, 5), ("common/lock.yaml", 5, 5), ("common/lock.yaml", 7, 5),
                       ("recipe.yaml", 7, 5)]
    assert r.sources.ensure[0].origin.line == 10 and r.sources.ensure[0].origin.file.endswith("common/lock.yaml")
    assert r.sources.declared_vars == {"soft_jtag", "block"}


def render_names(path: Path, **kw: object) -> list[tuple[str, object]]:
    r = load_recipe(path)
    steps = render_steps(compile_recipe(r), context(r, **kw))  # type: ignore[arg-type]
    return [(s.name or s.kind, s.args) for s in steps]


def test_vars_precedence_defaults_then_recipe_then_include(tmp_path: Path) -> None:
    write(tmp_path, "lock.yaml", LOCK)
    # the fragment's default
    assert render_names(recipe_file(tmp_path, "steps:\n  - include: lock.yaml\n"))[1] == (
        "burn_efuse", {"SOFT_DIS_JTAG": 1})
    # the recipe's vars override the fragment's defaults ...
    assert render_names(recipe_file(tmp_path, "vars: {soft_jtag: 2}\nsteps:\n  - include: lock.yaml\n"))[1] == (
        "burn_efuse", {"SOFT_DIS_JTAG": 2})
    # ... and --set overrides a var declared only in the fragment
    assert render_names(recipe_file(tmp_path, "steps:\n  - include: lock.yaml\n"), set_vars={"soft_jtag": "3"})[1] == (
        "burn_efuse", {"SOFT_DIS_JTAG": 3})
    # the include's vars override both, and may be templates over the including scope
    path = recipe_file(tmp_path, """\
        vars: {soft_jtag: 2, level: 6}
        steps:
          - include: {file: lock.yaml, vars: {soft_jtag: "{{ vars.level + 1 }}"}}
        """)
    assert render_names(path)[1] == ("burn_efuse", {"SOFT_DIS_JTAG": 7})
    # and a fragment's `when` sees its own scope
    assert len(render_names(recipe_file(tmp_path, "vars: {soft_jtag: 0}\nsteps:\n  - include: lock.yaml\n"))) == 1


def test_an_include_s_when_and_name_apply_to_its_steps(tmp_path: Path) -> None:
    write(tmp_path, "lock.yaml", "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n")
    path = recipe_file(tmp_path, """\
        vars: {lock: false}
        steps:
          - name: lockdown
            include: lock.yaml
            when: vars.lock
        """)
    assert render_names(path) == []
    assert render_names(path, set_vars={"lock": "true"}) == [("lockdown", {"DIS_PAD_JTAG": 1})]
    step = render_steps(compile_recipe(load_recipe(path)), context(load_recipe(path), set_vars={"lock": "true"}))[0]
    assert step.when == "vars.lock"


def test_an_include_may_not_set_a_var_the_fragment_does_not_declare(tmp_path: Path) -> None:
    write(tmp_path, "lock.yaml", LOCK)
    path = recipe_file(tmp_path, "steps:\n  - include: {file: lock.yaml, vars: {soft_jtg: 1}}\n")
    with pytest.raises(InputError) as e:
        load_recipe(path)
    assert where(e.value) == ("recipe.yaml", 5, 39)
    assert e.value.hint == "did you mean soft_jtag?"


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside.yaml", "sub/../../outside.yaml", "~/x.yaml"])
def test_includes_cannot_leave_the_recipe_directory(tmp_path: Path, target: str) -> None:
    write(tmp_path, "outside.yaml", "steps: []\n")
    path = recipe_file(tmp_path / "recipes", f"steps:\n  - include: {target}\n")
    with pytest.raises(InputError) as e:
        load_recipe(path)
    assert where(e.value) == ("recipe.yaml", 5, 14)
    assert "outside the recipe's directory" in e.value.message or "not a relative path" in e.value.message


def test_a_symlink_out_of_the_recipe_directory_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "secret/frag.yaml", "steps: []\n")
    (tmp_path / "recipes").mkdir()
    os.symlink(tmp_path / "secret", tmp_path / "recipes" / "linked")
    path = recipe_file(tmp_path / "recipes", "steps:\n  - include: linked/frag.yaml\n")
    with pytest.raises(InputError, match="outside the recipe's directory"):
        load_recipe(path)


def test_a_symlink_inside_the_recipe_directory_is_fine(tmp_path: Path) -> None:
    write(tmp_path, "common/frag.yaml", "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n")
    os.symlink(tmp_path / "common", tmp_path / "alias")
    r = load_recipe(recipe_file(tmp_path, "steps:\n  - include: alias/frag.yaml\n"))
    assert [s.kind for s in r.steps] == ["burn_efuse"]


def test_include_cycles_name_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "steps:\n  - include: b.yaml\n")
    write(tmp_path, "b.yaml", "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n  - include: a.yaml\n")
    with pytest.raises(InputError) as e:
        load_recipe(recipe_file(tmp_path, "steps:\n  - include: a.yaml\n"))
    assert e.value.message == "include cycle: a.yaml -> b.yaml -> a.yaml"
    assert where(e.value) == ("b.yaml", 3, 14)


def test_a_recipe_including_itself(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="include cycle: recipe.yaml -> recipe.yaml"):
        load_recipe(recipe_file(tmp_path, "steps:\n  - include: recipe.yaml\n"))


def test_the_same_fragment_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "lock.yaml", LOCK)
    path = recipe_file(tmp_path, """\
        steps:
          - include: {file: lock.yaml, vars: {soft_jtag: 1}}
          - include: {file: lock.yaml, vars: {soft_jtag: 0}}
        """)
    assert [a for _, a in render_names(path)] == [{"DIS_PAD_JTAG": 1}, {"SOFT_DIS_JTAG": 1}, {"DIS_PAD_JTAG": 1}]


def test_errors_in_a_fragment_are_located_in_the_fragment(tmp_path: Path) -> None:
    write(tmp_path, "frag.yaml", "# a fragment\nsteps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n  - burn_bits: {}\n")
    with pytest.raises(InputError) as e:
        load_recipe(recipe_file(tmp_path, "steps:\n  - include: frag.yaml\n"))
    assert where(e.value) == ("frag.yaml", 4, 5) and e.value.hint == "did you mean burn_bit?"


def test_a_fragment_with_recipe_keys_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "frag.yaml", "name: x\nsteps: []\n")
    with pytest.raises(InputError) as e:
        load_recipe(recipe_file(tmp_path, "steps:\n  - include: frag.yaml\n"))
    assert where(e.value) == ("frag.yaml", 1, 1) and "unknown key 'name'" in e.value.message


def test_a_missing_fragment_is_reported_at_the_include(tmp_path: Path) -> None:
    with pytest.raises(InputError) as e:
        load_recipe(recipe_file(tmp_path, "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n  - include: nope.yaml\n"))
    assert where(e.value) == ("recipe.yaml", 6, 14) and "no such file" in e.value.message


def test_include_paths_are_not_templates(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot be a template"):
        load_recipe(recipe_file(tmp_path, "steps:\n  - include: \"{{ vars.f }}.yaml\"\n"))


def test_fragments_are_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "common/a.yaml", "steps:\n  - include: b.yaml\n")
    write(tmp_path, "common/b.yaml", "steps:\n  - burn_efuse: {DIS_PAD_JTAG: 1}\n")
    r = load_recipe(write(tmp_path, "recipe.yaml", HEAD + "steps:\n  - include: common/a.yaml\n"))
    assert r.sources.steps[0].origin.file.endswith("common/b.yaml")
    assert r.sources.files[1:] == (str(tmp_path / "common/a.yaml"), str(tmp_path / "common/b.yaml"))
