"""A private PostgreSQL server for tests and the bench: Debian's ``postgresql`` package,
``initdb`` into a temporary directory (as the ``postgres`` user when run as root, since the server
refuses to run as root), ``pg_ctl`` on a private port on 127.0.0.1 with its socket in that
directory, fsync off (commits still synchronous: see ``start``). Databases are made and dropped
with the server's own ``createdb``/``dropdb`` (the product's driver is owned by the storage
layer). Linux; needs ``runuser`` as root.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from scraper.errors import ScraperError

START_S = 60.0


def pg_bin_dir() -> Path:
    """The directory of the newest installed PostgreSQL's server programs."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_major, reverse=True)
    if not found:
        raise ScraperError(
            "PostgreSQL's server programs are not installed (apt-get install postgresql)"
        )
    return found[0].parent


def _major(initdb: Path) -> int:
    try:
        return int(initdb.parent.parent.name)
    except ValueError:
        return 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster; ``start()`` then ``stop()`` (always, even on failure).

    ``listen`` is the address it listens on (``*`` for every interface, e.g. for network
    namespaces reaching it over veth pairs); clients use ``host``.
    """

    def __init__(self, *, listen: str = "127.0.0.1", host: str = "127.0.0.1") -> None:
        self.bin = pg_bin_dir()
        self.port = free_port()
        self.host = host
        self.listen = listen
        self.root = Path(tempfile.mkdtemp(prefix="scraper-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres = os.geteuid() == 0
        self._started = False
        self._options = ""

    def url(self, database: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

    def _run(self, *args: str, timeout_s: float = START_S) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, check=False, cwd=self.root
        )

    def start(self) -> None:
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.root.chmod(0o755)
        init = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        if init.returncode != 0:
            raise ScraperError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
        if self.listen != "127.0.0.1":  # clients in network namespaces, over veth pairs
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 10.0.0.0/8 trust\n")
        # fsync and full-page writes off: a crash of the server's processes (``-m immediate``)
        # keeps what they wrote in the OS's cache, only a crash of the machine would not.
        # synchronous_commit stays on: off, a COMMIT is answered before its WAL is written, and
        # an immediate stop loses transactions the client was told had committed (~0.6 s of
        # them), which no crawler survives and no production server does.
        self._options = (
            f"-p {self.port} -k {self.root} -c listen_addresses='{self.listen}' "
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        started = self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", self._options, "-w", "-t", str(int(START_S)), "start",
        )  # fmt: skip
        self._started = True
        if started.returncode != 0:
            raise ScraperError(f"PostgreSQL did not start: {self.log_tail()}")

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log.read_text().splitlines()[-lines:])
        except OSError as exc:
            return str(exc)

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast``: connections cut, committed data kept) and start again, same port."""
        self.shut_down(mode)
        self.start_again()

    def shut_down(self, mode: str = "fast") -> None:
        """Stop the server, keeping its data (``start_again`` brings it back)."""
        self.pg_ctl("stop", "-m", mode)

    def start_again(self) -> None:
        """Start the stopped server with its first options (port, socket, fsync off)."""
        self.pg_ctl("start", "-l", str(self.log), "-o", self._options)

    def pg_ctl(self, *args: str) -> None:
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args)
        if done.returncode != 0:
            raise ScraperError(f"pg_ctl {' '.join(args)} failed: {done.stderr.strip()}")

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql over the server's socket; its output (unaligned, tuples only)."""
        done = self._run(
            str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "postgres",
            "-d", database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql,
        )  # fmt: skip
        if done.returncode != 0:
            raise ScraperError(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        try:
            if self._started:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "-w", "stop")  # fmt: skip
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
