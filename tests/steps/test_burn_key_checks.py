"""What `fusebook validate` says of a burn_key's purpose and key file, word for word and at
the part of the step it is about (line:column in the recipe)."""

from __future__ import annotations

from pathlib import Path

from fusebook.chips.loader import load_chip
from fusebook.errors import InputError
from fusebook.recipe.loader import load_recipe
from fusebook.recipe.static_checks import validate_recipe

C3_PURPOSES = ("USER, RESERVED, XTS_AES_128_KEY, HMAC_DOWN_ALL, HMAC_DOWN_JTAG, HMAC_DOWN_DIGITAL_SIGNATURE, "
               "HMAC_UP, SECURE_BOOT_DIGEST0, SECURE_BOOT_DIGEST1, SECURE_BOOT_DIGEST2")


def _problems(folder: Path, chip: str, step: str, extra: str = "") -> list[tuple[str, str | None, str]]:
    """(message, hint, line:column) of each problem in a recipe of the one step `step` (line 5)."""
    path = folder / "r.yaml"
    path.write_text(f"fusebook: 1\nname: t\nchip: {chip}\nsteps:\n  - {step}\n{extra}")
    recipe = load_recipe(path)
    found: list[InputError] = validate_recipe(recipe, [load_chip(c) for c in recipe.chips])
    return [(p.message, p.hint, f"{p.location.line}:{p.location.column}" if p.location else "nowhere") for p in found]


def test_a_purpose_on_esp32_is_named_where_it_is_written(tmp_path: Path) -> None:
    # at the purpose's value (column 40), not at the step (column 15)
    assert _problems(tmp_path, "esp32", "burn_key: {block: BLOCK3, purpose: USER, data: '00'}") == [
        ("esp32 key blocks have no purpose; the block name says what a key is for",
         "leave out `purpose:` (blocks: flash_encryption, secure_boot_v1, secure_boot_v2, BLOCK3)", "5:40")]


def test_a_missing_purpose_lists_every_purpose_of_the_chip(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "burn_key: {block: BLOCK_KEY1, data: '00'}") == [
        ("on esp32c3 this step needs `purpose:`", f"purposes: {C3_PURPOSES}", "5:15")]


def test_a_missing_digest_purpose_lists_the_digest_purposes_only(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("")
    assert _problems(tmp_path, "esp32c3", "burn_key_digest: {block: BLOCK_KEY1, file: k.pem}") == [
        ("on esp32c3 this step needs `purpose:`",
         "purposes: SECURE_BOOT_DIGEST0, SECURE_BOOT_DIGEST1, SECURE_BOOT_DIGEST2", "5:22")]


def test_a_purpose_from_a_template_is_left_to_the_render(tmp_path: Path) -> None:
    step = "burn_key: {block: BLOCK_KEY1, purpose: '{{ vars.p }}', data: '00'}"
    assert _problems(tmp_path, "esp32c3", step, "vars: {p: USER}\n") == []
    assert _problems(tmp_path, "esp32c3", "burn_key: {block: BLOCK_KEY1, purpose: NOPE, data: '00'}") != []


def test_a_missing_key_file_is_named_where_the_file_is_written(tmp_path: Path) -> None:
    assert _problems(tmp_path, "esp32c3", "burn_key: {block: BLOCK_KEY1, purpose: USER, file: nope.bin}") == [
        (f"file nope.bin does not exist (looked at {tmp_path}/nope.bin)", None, "5:56")]
    (tmp_path / "nope.bin").write_bytes(b"\x01" * 32)
    assert _problems(tmp_path, "esp32c3", "burn_key: {block: BLOCK_KEY1, purpose: USER, file: nope.bin}") == []


def test_validate_refuses_a_digest_in_a_block_named_for_an_esp32_key(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("")
    assert _problems(tmp_path, "esp32", "burn_key_digest: {block: secure_boot_v1, file: k.pem}") == [
        ("secure_boot_v1 names a block for a key, not for a secure boot v2 digest",
         "write `block: BLOCK2`", "5:30")]
    assert _problems(tmp_path, "esp32", "burn_key_digest: {block: secure_boot_v2, file: k.pem}") == []
