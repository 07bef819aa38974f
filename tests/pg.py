"""A real PostgreSQL server for the tests: Debian's `postgresql` package (`make install` installs it), `initdb`
into a temporary folder, listening on a free loopback port with its socket in that folder, stopped and removed
afterwards. Run as the `postgres` user when the tests run as root (the server refuses root)."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sshd import free_port

PASSWORD = "s3cret-md-test"    # the test role's password (the tests give it the libpq way: PGPASSWORD or a file)


def bindir() -> Path | None:
    """Where initdb and pg_ctl are (Debian keeps them off PATH), None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if bindir() is None:
        return "PostgreSQL's programs are not installed (make install installs Debian's postgresql as root)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: the server refuses to run as root"
    return None


class Postgres:
    """One server; `url(db)` for the role `md` (password PASSWORD) and a database it owns."""

    def __init__(self):
        self.bin = bindir()
        self.root = Path(tempfile.mkdtemp(prefix="md-pg-"))
        self.data, self.log = self.root / "data", self.root / "server.log"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pw = self.root / "pw"
        pw.write_text("admin-" + PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(pw, "postgres", "postgres")
        self._run("initdb", "-D", self.data, "-U", "admin", "--pwfile", pw, "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions")
        self.start()
        self.sql("postgres", f"CREATE ROLE md LOGIN PASSWORD '{PASSWORD}'")

    def _run(self, program, *args, check=True):
        cmd = [str(self.bin / program), *map(str, args)]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120, cwd=self.root)

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1", "start")

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)

    def sql(self, db: str, statement: str) -> str:
        return self._run("psql", "-X", "-q", "-At", "-h", self.root, "-p", self.port, "-U", "admin", "-d", db,
                         "-v", "ON_ERROR_STOP=1", "-c", statement).stdout

    def new_db(self, name: str) -> str:
        """A fresh database owned by md; its URL (no password in it)."""
        self.sql("postgres", f"CREATE DATABASE {name} OWNER md")
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql://md@127.0.0.1:{self.port}/{name}"

    def close(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
