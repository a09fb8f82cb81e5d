"""The claims of the SQLite store: which pending URLs a claim takes (the SQL is in
:mod:`.statements`). Called under the store's lock, inside its claim."""

from collections.abc import Sequence

import aiosqlite
import orjson

from scraper.models import FrontierItem
from scraper.storage.revisits import claimed_item
from scraper.storage.sqlite.statements import (
    CLAIM,
    CLAIM_HOSTS,
    CLAIM_IN_ORDER,
    CLAIM_SCAN,
    CLAIM_SCANNED,
    CLAIMED,
    HOST_PENDING,
    HOST_WALK,
    MARK_CLAIMED,
    PENDING_HOSTS,
    PENDING_HOSTS_AFTER,
)


class Claims:
    """The ways a claim finds URLs, on the store's connection."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._turn = ""  # where claims with a cap per host take up the walk over hosts

    async def in_order(self, limit: int) -> list[FrontierItem]:
        """The first ``limit`` pending URLs in order."""
        return await self._take(CLAIM_IN_ORDER, (limit,))

    async def scanned(self, excluded: list[str], limit: int) -> list[FrontierItem]:
        """The first ``CLAIM_SCAN`` pending URLs in order, less those of ``excluded`` hosts."""
        sql = CLAIM_SCANNED.format(not_in=f"({','.join('?' * len(excluded))})")
        return await self._take(sql, [CLAIM_SCAN, *excluded, limit])

    async def by_host(self, excluded: set[str], limit: int) -> list[FrontierItem]:
        """Up to ``limit`` URLs, the shallowest of each of up to ``CLAIM_HOSTS`` hosts (in host
        order) with pending URLs and not in ``excluded``."""
        rows = await self.db.execute_fetchall(PENDING_HOSTS, (CLAIM_HOSTS + len(excluded),))
        hosts = [host for (host,) in rows if host not in excluded][: min(CLAIM_HOSTS, limit)]
        if not hosts:
            return []
        each = limit // len(hosts)  # >= 1; a host with fewer leaves room unused
        sql = CLAIM + " UNION ALL ".join([HOST_PENDING] * len(hosts)) + CLAIMED
        return await self._take(sql, [v for host in hosts for v in (host, each)])

    async def in_turn(self, excluded: set[str], limit: int, per_host: int) -> list[FrontierItem]:
        """Up to ``per_host`` URLs (shallowest first) of each host with pending URLs not in
        ``excluded``, hosts taken in turn from where the last such claim stopped, until
        ``limit``: a host's turn does not depend on its URLs' place in the frontier's order."""
        rows: list[FrontierItem] = []
        hosts = await self._hosts_in_turn(excluded, -(-limit // per_host))
        caps = [min(per_host, limit - per_host * n) for n in range(len(hosts))]  # sum <= limit
        arms = list(zip(hosts, caps, strict=True))
        for start in range(0, len(arms), CLAIM_HOSTS):
            chunk = arms[start : start + CLAIM_HOSTS]
            sql = CLAIM + " UNION ALL ".join([HOST_PENDING] * len(chunk)) + CLAIMED
            rows += await self._take(sql, [v for arm in chunk for v in arm])
        return rows

    async def _take(self, sql: str, params: Sequence[object]) -> list[FrontierItem]:
        """Claim what ``sql`` (a CLAIM ... CLAIMED statement) reads: two steps in all."""
        ((found,),) = await self.db.execute_fetchall(sql, params)  # an aggregate: one row
        rows = orjson.loads(found)
        if rows:
            ids = [row[0] for row in rows]  # as text: SQLite 3.45+ reads a BLOB as JSONB
            await self.db.execute(MARK_CLAIMED, (orjson.dumps(ids).decode(),))
        return [claimed_item(row) for row in rows]

    async def _hosts_in_turn(self, excluded: set[str], count: int) -> list[str]:
        """Up to ``count`` hosts with pending URLs, none in ``excluded``, walking the hosts in
        name order from the last one returned, round once at most."""
        found: list[str] = []
        after, wrapped = self._turn, False
        while len(found) < count:
            step = await self.db.execute_fetchall(PENDING_HOSTS_AFTER, (after, HOST_WALK))
            names = [host for (host,) in step]
            for host in names:
                if wrapped and host > self._turn:
                    return self._advance(found)  # round once: back where this walk began
                if host not in excluded:
                    found.append(host)
                    if len(found) == count:
                        break
            if len(names) == HOST_WALK:
                after = names[-1]
            elif wrapped or not self._turn:
                break
            else:
                after, wrapped = "", True
        return self._advance(found)

    def _advance(self, found: list[str]) -> list[str]:
        if found:
            self._turn = found[-1]
        return found
