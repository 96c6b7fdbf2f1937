"""A real PostgreSQL server for the ledger tests, started by the suite itself.

Debian's `postgresql` package puts the server's programs in /usr/lib/postgresql/N/bin.
The server refuses to run as root, so under root (CI, containers) the data folder goes to
an unprivileged account (`nobody`) and the programs run as it through `runuser` or
`setpriv`. It listens on a free port on 127.0.0.1 only, trusts local connections (the
tests have no passwords to keep) and runs without fsync: nothing here must survive a
power cut, and each start takes about a second.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: What a skipped PostgreSQL test says, so `make test` tells how to run it.
HOW_TO_ENABLE = "install the PostgreSQL server to run them: `apt-get install postgresql`"
MARK = "PostgreSQL ledger"

SUPERUSER = "fusebook"


def find_bindir() -> Path | None:
    """The newest installed server's programs (initdb, pg_ctl), or None."""
    found = []
    for initdb in glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        version = Path(initdb).parent.parent.name
        found.append((int(version) if version.isdigit() else 0, Path(initdb).parent))
    if found:
        return max(found)[1]
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def skip_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None if they can."""
    if find_bindir() is None:
        return f"{MARK} tests skipped: no PostgreSQL server programs (initdb, pg_ctl); {HOW_TO_ENABLE}"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return (f"{MARK} tests skipped: the psycopg package is missing; "
                "install it with `pip install 'psycopg[binary]'` (it is in fusebook's test extra)")
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_unprivileged() -> tuple[list[str], str | None]:
    """The command prefix that runs a program as an unprivileged account, and that account."""
    if os.geteuid() != 0:
        return [], None
    user = "nobody"
    if shutil.which("runuser"):
        return ["runuser", "-u", user, "--"], user
    entry = pwd.getpwnam(user)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"], user


class PostgresServer:
    """One server for a test session; `create_ledger` gives each test an empty place of its own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="fbpg", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = 0
        self._prefix, user = _as_unprivileged()
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self._names = itertools.count(1)

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._prefix, *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.folder, check=False)

    def start(self) -> None:
        done = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                         "-E", "UTF8", "--no-locale", "--no-sync")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")
        last = ""
        for _ in range(5):  # a free port may be taken between looking and listening
            self.port = _free_port()
            options = (f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c shared_buffers=16MB -c max_connections=60")
            done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                             "-w", "-t", "30", "-o", options, "start")
            if done.returncode == 0:
                return
            last = done.stdout + done.stderr + self.log()
        raise RuntimeError(f"the PostgreSQL server did not start: {last[-2000:]}")

    def log(self) -> str:
        try:
            return (self.folder / "log").read_text(errors="replace")
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_ledger(self) -> str:
        """The URL of a new, empty place for a ledger: a schema of its own in the server's
        `postgres` database (a new schema costs milliseconds, a new database a second)."""
        import psycopg

        name = f"s{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url()}?options=-csearch_path%3D{name}"

    def stop(self) -> None:
        if self.port:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
