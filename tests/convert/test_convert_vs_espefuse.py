"""Differential: a script run by espefuse and its converted recipe applied by fusebook burn the same bits.

espefuse 4 runs each `execute_scripts` script (and esptool 5's espefuse API each API script)
on its virtual chip; fusebook converts the script, applies the recipe with `--virt
--efuse-file` to a copy of the same starting image, and the two eFuse files must be equal
byte for byte. Between them the scripts make every call convert translates, on the ESP32,
ESP32-C3 and ESP32-S3.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fusebook.cli.main import main
from tests.convert.esptool4 import ensure_esptool4
from tests.differential.espefuse_oracle import espefuse_blocks

SCRIPTS = Path(__file__).parent / "scripts"


@dataclass(frozen=True)
class Case:
    script: str
    chip: str
    index: int | None = None
    configfiles: tuple[str, ...] = ()
    before: tuple[tuple[str, int], ...] = ()  # fields burned into the starting image

    @property
    def api(self) -> bool:
        return "_api" in self.script


CASES = [
    Case("c3_lockdown.py", "esp32c3", 1, ("units.json",)),
    Case("c3_lockdown.py", "esp32c3", 2, ("units.json",)),
    Case("esp32_secure.py", "esp32"),
    Case("esp32_secure.py", "esp32", before=(("FLASH_CRYPT_CNT", 1),)),  # the `else:` branch
    Case("s3_batch.py", "esp32s3", 7, ("s3.json",)),
    Case("c3_api.py", "esp32c3"),
    Case("c3_api.py", "esp32c3", before=(("DIS_DOWNLOAD_ICACHE", 1),)),  # a `when:` that is false
    Case("esp32_api.py", "esp32"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scripts with the key and data files they name (made here, not checked in)."""
    d = tmp_path_factory.mktemp("scripts")
    for f in SCRIPTS.iterdir():
        if f.is_file():
            shutil.copy(f, d / f.name)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    (d / "sb.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                                 serialization.NoEncryption()))
    (d / "fe.key").write_bytes(bytes(range(0x40, 0x60)))
    (d / "hmac.key").write_bytes(bytes(range(0xa0, 0xc0)))
    (d / "data.bin").write_bytes(bytes.fromhex("1122334455667788"))
    return d


def _espefuse4(py: Path, case: Case, efuse_file: Path, cwd: Path) -> None:
    cmd = [str(py), "-m", "espefuse", "--virt", "--path-efuse-file", str(efuse_file), "--chip", case.chip,
           "--do-not-confirm", "execute_scripts", case.script]
    if case.index is not None:
        cmd += ["--index", str(case.index)]
    for c in case.configfiles:
        cmd += ["--configfiles", c]
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _espefuse5_api(case: Case, efuse_file: Path, cwd: Path) -> None:
    env = {**os.environ, "EFUSE_FILE": str(efuse_file)}
    r = subprocess.run([sys.executable, case.script], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def _blank(case: Case, efuse_file: Path, cwd: Path) -> None:
    """The starting image, made by espefuse 5 (the same layout as 4's) so both tools start equal."""
    code = ("import sys, json, contextlib, io\nfrom espefuse import init_commands\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    with init_commands(chip=sys.argv[1], virt=True, virt_efuse_file=sys.argv[2],\n"
            "                       do_not_confirm=True) as c:\n"
            "        before = json.loads(sys.argv[3])\n"
            "        if before:\n"
            "            c.burn_efuse(before)\n")
    subprocess.run([sys.executable, "-c", code, case.chip, str(efuse_file), json.dumps(dict(case.before))],
                   cwd=cwd, check=True, capture_output=True, timeout=60)
    assert efuse_file.exists()


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.script}-{c.chip}-{c.index}-{len(c.before)}")
def test_converted_recipe_burns_what_the_script_burns(case: Case, workdir: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    theirs, ours = tmp_path / "espefuse.bin", tmp_path / "fusebook.bin"
    _blank(case, theirs, workdir)
    shutil.copy(theirs, ours)
    if case.api:
        _espefuse5_api(case, theirs, workdir)
    else:
        _espefuse4(ensure_esptool4(), case, theirs, workdir)

    monkeypatch.chdir(workdir)
    out = tmp_path / "recipe" / "converted.yaml"
    out.parent.mkdir()
    argv = ["convert", case.script, "--chip", case.chip, "-o", str(out)]
    if case.configfiles:
        argv += ["--configfiles", *case.configfiles]
    assert main(argv) == 0, capsys.readouterr().err
    assert main(["validate", str(out)]) == 0, capsys.readouterr().err
    argv = ["apply", str(out), "--virt", "--chip", case.chip, "--efuse-file", str(ours), "--yes", "--no-ledger"]
    if case.index is not None:
        argv += ["--index", str(case.index)]
    assert main(argv) == 0, capsys.readouterr()
    assert _differences(case.chip, ours, theirs) == []


def _differences(chip: str, ours: Path, theirs: Path) -> list[str]:
    """The eFuse blocks, as espefuse reads them from each file, that differ.

    The blocks, not the whole file: the file also holds the controller's timing registers,
    which fusebook's driver programs and espefuse's virtual burn does not.
    """
    mine, reference = espefuse_blocks(chip, ours), espefuse_blocks(chip, theirs)
    return [f"block {n}: fusebook {a.hex()} espefuse {b.hex()}"
            for n, (a, b) in enumerate(zip(mine, reference, strict=True)) if a != b]
