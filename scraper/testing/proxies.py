"""Real proxies on loopback for tests and the bench, from Debian packages: tinyproxy and squid
(HTTP, CONNECT for https targets; tinyproxy with basic auth) and dante-server (``danted``,
SOCKS5). Each runs in the foreground with its config and log in a directory of its own;
``with Tinyproxy(tmp) as proxy:`` starts it and waits (bounded) until it accepts connections,
leaving stops and reaps it; :meth:`ProxyServer.log` is what it logged.
"""

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from scraper.errors import ScraperError
from scraper.testing.processes import stop_process

START_S = 10.0  # the longest a proxy may take to accept connections


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProxyServer:
    """One proxy process on 127.0.0.1:``port``; subclasses write the config and command."""

    scheme = "http"
    program = ""

    def __init__(self, directory: Path, user: str = "", password: str = "") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.user, self.password = user, password
        self.log_path = self.dir / "proxy.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{self.scheme}://{auth}127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        raise NotImplementedError

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        if shutil.which(self.program) is None and not Path(self.program).exists():
            raise ScraperError(f"{self.program} is not installed (see .ci/run)")
        out = (self.dir / "stdout.log").open("wb")
        self._proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        output = (self.dir / "stdout.log").read_text(errors="replace")[-500:]
        raise ScraperError(f"{self.program} did not start on port {self.port}: {output}")

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)


class Tinyproxy(ProxyServer):
    """tinyproxy: HTTP and CONNECT, basic auth when ``user`` is given; it logs each request
    (``Request (file descriptor N): GET http://...``)."""

    program = "tinyproxy"

    def command(self) -> list[str]:
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 60",
            "LogLevel Connect",
            f'LogFile "{self.log_path}"',
            "MaxClients 512",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        if self.user:
            lines.append(f"BasicAuth {self.user} {self.password}")
        conf = self.dir / "tinyproxy.conf"
        conf.write_text("\n".join(lines) + "\n")
        return [self.program, "-d", "-c", str(conf)]


class Squid(ProxyServer):
    """squid without a cache, access log in squid's native format (one line per request)."""

    program = "/usr/sbin/squid"

    def command(self) -> list[str]:
        # squid drops root for user proxy, which must reach its logs: a directory of its own in
        # the system's temporary directory (a test's tmp_path is private), removed at the end.
        self.dir = Path(tempfile.mkdtemp(prefix="scraper-squid-"))
        self.dir.chmod(0o755)
        shutil.chown(self.dir, "proxy", "proxy")
        self.log_path = self.dir / "access.log"
        lines = [
            f"http_port 127.0.0.1:{self.port}",
            f"pid_filename {self.dir}/squid.pid",
            "cache deny all",
            f"access_log stdio:{self.log_path} squid",
            f"cache_log {self.dir}/cache.log",
            f"coredump_dir {self.dir}",
            "http_access allow localhost",
            "http_access deny all",
            "shutdown_lifetime 0 seconds",
            "via off",
            "forwarded_for delete",
        ]
        conf = self.dir / "squid.conf"
        conf.write_text("\n".join(lines) + "\n")
        return [self.program, "-N", "-f", str(conf)]

    def stop(self) -> None:
        super().stop()
        if self.dir.name.startswith("scraper-squid-"):
            self._log = self.log()  # kept for log() after the stop
            shutil.rmtree(self.dir, ignore_errors=True)

    def log(self) -> str:
        return getattr(self, "_log", None) or super().log()


class Dante(ProxyServer):
    """danted, SOCKS5 without authentication; logs each connection it passes."""

    scheme = "socks5"
    program = "/usr/sbin/danted"

    def command(self) -> list[str]:
        conf = self.dir / "danted.conf"
        conf.write_text(
            f"logoutput: {self.log_path}\n"
            f"internal: 127.0.0.1 port = {self.port}\n"
            "external: 127.0.0.1\n"
            "socksmethod: none\nclientmethod: none\n"
            "user.privileged: root\nuser.unprivileged: nobody\n"
            "client pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}\n"
            "socks pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n"
            "  log: connect error\n}\n"
        )
        return [self.program, "-f", str(conf), "-N", "1"]
