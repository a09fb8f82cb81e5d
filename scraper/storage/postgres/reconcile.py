"""What this worker knows it claims, and the reconciliation of that with what the database says
it claims.

Every write of a shared crawl may have an unknown outcome: the connection dies after the COMMIT
was sent, before its answer came. A write run again whole is harmless for all but one (pages
and states are upserts, renewals and releases set what they set), and that one is the claim: the
lost attempt may have claimed URLs the worker never heard of. The store keeps the ids of the
URLs it handed out (:class:`Known`); a retried claim takes back the rows claimed for this
worker outside them (:mod:`.claims`), and every ``RECONCILE_S`` the lease renewal gives back
any such row left (:func:`give_back_unknown`): a worker never holds a URL nobody works on.
"""

import time
from collections.abc import Iterable

from scraper.storage.postgres.setup import Conn
from scraper.storage.postgres.statements import MINE_CLAIMED, RELEASE_IDS

RECONCILE_S = 10.0


class Known:
    """The frontier ids this worker claimed and has neither written nor given back."""

    def __init__(self, every_s: float = RECONCILE_S) -> None:
        self.ids: set[int] = set()
        self._every_s = every_s
        self._next_at = time.monotonic() + every_s

    def claimed(self, ids: Iterable[int]) -> None:
        self.ids.update(ids)

    def ended(self, ids: Iterable[int]) -> None:
        self.ids.difference_update(ids)

    def due(self) -> bool:
        """Time for a reconciliation (then not again for ``every_s``)."""
        now = time.monotonic()
        if now < self._next_at:
            return False
        self._next_at = now + self._every_s
        return True


async def give_back_unknown(conn: Conn, worker: str, known: Known) -> tuple[set[int], list[int]]:
    """Back to pending: the URLs claimed for ``worker`` that it does not know. Returns the ids
    the database has it claim (the caller prunes ``known`` to them once committed) and those
    given back. Run under the store's claim lock: no claim adds ids meanwhile."""
    mine = {row[0] for row in await (await conn.execute(MINE_CLAIMED, (worker,))).fetchall()}
    unknown = sorted(mine - known.ids)
    if unknown:
        await conn.execute(RELEASE_IDS, (unknown, worker))
    return mine, unknown
