"""A claim on PostgreSQL, in one transaction: the page budget reserved, URLs of the hosts this
worker holds, then hosts leased as the claim needs and their URLs (the SQL is in
:mod:`.statements`).

A claim's outcome may be unknown: its COMMIT reached the server, and the connection died before
the answer came. The store then runs it again with the ids this worker knows it claims
(``known``): the retry first takes back the rows claimed for this worker outside that set (the
lost attempt's, the same URLs) and claims only what is still missing, so nothing stays claimed
by a worker that does not know it (and the page budget counts the URLs once)."""

import dataclasses
import time
from collections.abc import Collection, Mapping

from psycopg.rows import TupleRow

from scraper.storage.postgres.setup import Conn
from scraper.storage.postgres.statements import (
    ADOPT,
    BUDGET_KEY,
    BUDGET_USED,
    CLAIM_HELD,
    CLAIM_HOSTS,
    LEASE_HOSTS,
    RELEASE_IDS,
    RESET_TAKEN,
    TAKE_LOCK,
    UNLEASE,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """What a claim asks for (see ``CrawlStore.claim``), and for whom."""

    worker: str
    lease_s: float
    margin_s: float  # claim from held hosts with more lease than this left
    limit: int
    excluded: list[str]
    max_pages: int
    per_host: int
    new_hosts: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Claimed:
    """The claimed rows (id, url, host, depth, attempts), and the hosts leased for them with
    the wait before each one's first request, by a statement sent at ``sent_at``."""

    rows: list[TupleRow]
    leased: Mapping[str, float] = dataclasses.field(default_factory=dict)
    sent_at: float = 0.0


async def claim(conn: Conn, req: Request, known: Collection[int] | None = None) -> Claimed:
    """Run one claim on ``conn`` (not in a transaction yet); ``known``: a retry after an
    unknown outcome, with the ids this worker knows it claims.

    With ``max_pages``, claims wait for each other on an advisory lock, then count pages
    stored plus URLs claimed by anyone: the budget stays exact with several workers.
    """
    async with conn.transaction():
        limit = req.limit
        if req.max_pages:
            await conn.execute(TAKE_LOCK, (BUDGET_KEY,))
            used = await (await conn.execute(BUDGET_USED)).fetchone()
        back = await _take_back(conn, req, known) if known is not None else Claimed([])
        limit -= len(back.rows)
        if req.max_pages:
            limit = min(limit, req.max_pages - (used[0] if used else 0))
        if limit <= 0:
            return back
        fresh = await _claim(conn, req, limit)
        # the leases' ends counted from the earlier statement of the two
        sent_at = min(t for t in (back.sent_at, fresh.sent_at, time.monotonic()) if t)
        return Claimed(back.rows + fresh.rows, {**fresh.leased, **back.leased}, sent_at)


async def _take_back(conn: Conn, req: Request, known: Collection[int]) -> Claimed:
    """The rows claimed for this worker that it does not know (a lost attempt's), on hosts it
    still holds (their leases extended); those on hosts it lost are given back."""
    sent_at = time.monotonic()
    params = {"me": req.worker, "known": sorted(known), "lease_s": req.lease_s}
    found = await (await conn.execute(ADOPT, params)).fetchall()
    lost = [row[0] for row in found if row[5] is None]
    if lost:
        await conn.execute(RELEASE_IDS, (lost, req.worker))
    kept = [row for row in found if row[5] is not None]
    return Claimed([row[:5] for row in kept], {row[2]: row[5] for row in kept}, sent_at)


async def _claim(conn: Conn, req: Request, limit: int) -> Claimed:
    """Up to ``limit`` URLs: of the hosts this worker holds, then of hosts leased for them."""
    each = req.per_host or limit
    held = {
        "me": req.worker, "excluded": req.excluded, "each": each, "limit": limit,
        "margin_s": req.margin_s,
    }  # fmt: skip
    rows = await (await conn.execute(CLAIM_HELD, held)).fetchall()
    need = limit - len(rows)
    if need <= 0 or req.new_hosts == 0:
        return Claimed(rows)
    return await _lease_and_claim(conn, req, rows, need)


async def _lease_and_claim(conn: Conn, req: Request, rows: list[TupleRow], need: int) -> Claimed:
    """Lease free hosts for ``need`` more URLs (at most ``new_hosts`` hosts), free the URLs
    other workers left claimed on them, and claim theirs."""
    scan = need if req.new_hosts is None else min(req.new_hosts, need)
    params = {
        "me": req.worker, "excluded": req.excluded, "scan": scan,
        "cap": req.per_host or need, "need": need, "lease_s": req.lease_s,
    }  # fmt: skip
    sent_at = time.monotonic()
    leased = await (await conn.execute(LEASE_HOSTS, params)).fetchall()
    if not leased:
        return Claimed(rows)
    hosts = sorted(host for host, _, _ in leased)
    await conn.execute(RESET_TAKEN, {"hosts": hosts, "me": req.worker})
    more = {"me": req.worker, "hosts": hosts, "each": req.per_host or need, "limit": need}
    taken = await (await conn.execute(CLAIM_HOSTS, more)).fetchall()
    waits = {host: wait_s for host, _, wait_s in leased}
    unused = waits.keys() - {row[2] for row in taken}
    if unused:
        await conn.execute(UNLEASE, (sorted(unused), [waits.pop(h) for h in sorted(unused)]))
    return Claimed(rows + taken, waits, sent_at)
