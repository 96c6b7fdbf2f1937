"""esptool 4.x, the last espefuse with `execute_scripts`, as a test-time tool in a venv of its own.

It cannot share the main venv (which holds esptool 5, the reference everywhere else), so the
first test that needs it makes a venv under the cache folder (`$FUSEBOOK_ESPTOOL4_VENV`, or
`~/.cache/fusebook/esptool4`) and installs esptool 4 into it with pip; a test skips, saying
why, if that cannot be done (no network, no pip).
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock; one worker at a time is the user's care
    fcntl = None  # type: ignore[assignment]

import pytest

#: The esptool 4 release used, and bitstring below 4 (4.x's newer bitstring lacks what it imports).
REQUIREMENTS = ("esptool==4.10.0", "bitstring>=3.1.6,<4")


def venv_dir() -> Path:
    env = os.environ.get("FUSEBOOK_ESPTOOL4_VENV")
    if env:
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "fusebook" / "esptool4"


def python() -> Path:
    return venv_dir() / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _works(py: Path) -> bool:
    if not py.exists():
        return False
    r = subprocess.run([str(py), "-c", "import espefuse, esptool; assert esptool.__version__.startswith('4.')"],
                       capture_output=True, timeout=60)
    return r.returncode == 0


def ensure_esptool4() -> Path:
    """The venv's python, made on first use; skips the test if esptool 4 cannot be installed.

    A lock file serialises the making, so test workers running at once build it only once.
    """
    py = python()
    if _works(py):
        return py
    try:
        venv_dir().parent.mkdir(parents=True, exist_ok=True)
        lock = open(venv_dir().parent / (venv_dir().name + ".lock"), "w")
    except OSError as e:
        pytest.skip(f"esptool 4 (for execute_scripts) cannot be installed in {venv_dir()}: {e}")
    with lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if _works(py):  # another worker made it meanwhile
            return py
        return _make(py)


def _make(py: Path) -> Path:
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir())
        r = subprocess.run([str(py), "-m", "pip", "install", "--quiet", *REQUIREMENTS],
                           capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"esptool 4 (for execute_scripts) could not be installed in {venv_dir()}: {e}")
    if r.returncode != 0 or not _works(py):
        pytest.skip(f"esptool 4 (for execute_scripts) could not be installed in {venv_dir()}: "
                    f"{(r.stderr or r.stdout).strip().splitlines()[-1:] }")
    return py
