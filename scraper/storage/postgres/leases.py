"""This worker's view of its host leases, on its own clock (no SQL here: :mod:`.claims` and the
store take and renew the leases, and tell this what they got).

A lease taken or renewed by a statement sent at ``sent_at`` (``time.monotonic()`` read before
sending it) ends for this worker at ``sent_at + lease_s``: the database counts it from the
statement's start, later, so the worker's end is never after the database's. Requests start
only while more than a third of the lease is left: a worker cut off from the database stops
starting requests to its hosts well before another worker may take them over.
"""

import time
from collections.abc import Collection, Iterable, Mapping


class Leases:
    """The hosts this worker holds, when each lease ends for it, and the news for the engine:
    hosts newly leased (with their first wait) and hosts lost to another worker."""

    def __init__(self, lease_s: float) -> None:
        self.lease_s = lease_s
        self.margin_s = lease_s / 3
        self._ends: dict[str, float] = {}  # host -> end of its lease (monotonic seconds)
        self._new: dict[str, float] = {}
        self._lost: set[str] = set()

    def may_start(self, host: str) -> bool:
        end = self._ends.get(host)
        return end is not None and time.monotonic() < end - self.margin_s

    def leased(self, sent_at: float, waits: Mapping[str, float]) -> None:
        """Hosts leased by a claim sent at ``sent_at``, each with its first wait."""
        for host, wait_s in waits.items():
            self._ends[host] = sent_at + self.lease_s
            self._new[host] = wait_s
            self._lost.discard(host)

    def renewed(
        self, sent_at: float, held: Iterable[tuple[str, bool]], keep: Collection[str] = ()
    ) -> None:
        """The outcome of a renewal sent at ``sent_at``: every host the database had this
        worker hold, and whether it was kept (else released). A host believed held but not in
        ``held`` was taken over: it is lost; so is a host the engine still has work for
        (``keep``) that this worker does not hold (work requeued after the host was lost)."""
        owned = dict(held)
        for host in (self._ends.keys() | set(keep)) - owned.keys():
            self._lost.add(host)
            self._new.pop(host, None)
        self._ends = {host: sent_at + self.lease_s for host, kept in owned.items() if kept}

    def clear(self) -> None:
        """Every lease given up (released by this worker)."""
        self._ends.clear()

    def take_new(self) -> dict[str, float]:
        new, self._new = self._new, {}
        return new

    def take_lost(self) -> set[str]:
        lost, self._lost = self._lost, set()
        return lost
