"""A claim on PostgreSQL, in one transaction: the page budget reserved, URLs of the hosts this
worker holds, then hosts leased as the claim needs and their URLs (the SQL is in
:mod:`.statements`)."""

import dataclasses
import time
from collections.abc import Mapping

from psycopg.rows import TupleRow

from scraper.storage.postgres.setup import Conn
from scraper.storage.postgres.statements import (
    BUDGET_KEY,
    BUDGET_USED,
    CLAIM_HELD,
    CLAIM_HOSTS,
    LEASE_HOSTS,
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


async def claim(conn: Conn, req: Request) -> Claimed:
    """Run one claim on ``conn`` (not in a transaction yet).

    With ``max_pages``, claims wait for each other on an advisory lock, then count pages
    stored plus URLs claimed by anyone: the budget stays exact with several workers.
    """
    async with conn.transaction():
        limit = req.limit
        if req.max_pages:
            await conn.execute(TAKE_LOCK, (BUDGET_KEY,))
            used = await (await conn.execute(BUDGET_USED)).fetchone()
            limit = min(limit, req.max_pages - (used[0] if used else 0))
        if limit <= 0:
            return Claimed([])
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
