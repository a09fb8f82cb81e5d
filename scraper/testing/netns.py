"""Several machines on one: a network namespace per simulated machine, joined to this one by two
veth pairs, one to reach the database and one to reach the sites (``10.R.N+K.2`` inside machine
K, ``10.R.N+K.1`` on this side, N = 0 for the database's link, 100 for the sites'), so a process
started in it reaches servers listening here (on ``0.0.0.0``) over TCP at a gateway address, and
a partition is a link set down: the database's alone (the worker can still reach the sites, the
case where it could break politeness), or both. Linux, as root (``ip netns``); every namespace
made is deleted by :meth:`Machines.close`, a partition healed or not.
"""

import os
import random
import subprocess
from types import TracebackType
from typing import Self

from scraper.errors import ScraperError

LINKS = {"db": 0, "site": 100}  # each link's third address byte, plus the machine's number


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if done.returncode != 0:
        raise ScraperError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")


class Machines:
    """``count`` simulated machines; ``with Machines(3) as m: m.prefix(0) + [cmd...]``."""

    def __init__(self, count: int) -> None:
        self.count = count
        # A random /16 of 10.x and a random name: tests running at once never collide.
        self._net = random.randrange(100, 250)  # 10.R.0.0/16
        self._tag = f"scr{os.getpid() % 100000}{random.randrange(1000)}"
        self._made: list[int] = []

    def name(self, k: int) -> str:
        return f"{self._tag}m{k}"

    def _outside(self, k: int, link: str) -> str:
        return f"{self._tag}{link[0]}{k}"

    def gateway(self, k: int, link: str = "db") -> str:
        """The address of this machine as machine ``k`` reaches it over ``link`` (db, site)."""
        return f"10.{self._net}.{LINKS[link] + k}.1"

    def prefix(self, k: int) -> list[str]:
        """The command prefix that runs a program on machine ``k``."""
        return ["ip", "netns", "exec", self.name(k)]

    def __enter__(self) -> Self:
        try:
            for k in range(self.count):
                self._make(k)
        except BaseException:
            self.close()
            raise
        return self

    def _make(self, k: int) -> None:
        ns = self.name(k)
        _ip("netns", "add", ns)
        self._made.append(k)
        _ip("-n", ns, "link", "set", "lo", "up")
        for link in LINKS:
            out, inside = self._outside(k, link), f"{self._tag}i{link[0]}{k}"
            _ip("link", "add", out, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", ns)
            _ip("addr", "add", f"{self.gateway(k, link)}/24", "dev", out)
            _ip("link", "set", out, "up")
            inner = self.gateway(k, link).removesuffix(".1") + ".2"
            _ip("-n", ns, "addr", "add", f"{inner}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")

    def partition(self, k: int, links: tuple[str, ...] = ("db",)) -> None:
        """Cut machine ``k`` off ``links``: they go down (connections hang, as in a real one)."""
        for link in links:
            _ip("link", "set", self._outside(k, link), "down")

    def heal(self, k: int, links: tuple[str, ...] = tuple(LINKS)) -> None:
        for link in links:
            _ip("link", "set", self._outside(k, link), "up")

    def close(self) -> None:
        for k in self._made:
            for link in LINKS:
                subprocess.run(
                    ["ip", "link", "del", self._outside(k, link)], capture_output=True, check=False
                )
            subprocess.run(["ip", "netns", "del", self.name(k)], capture_output=True, check=False)
        self._made.clear()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
