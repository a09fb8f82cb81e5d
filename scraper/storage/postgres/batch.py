"""A sink batch written to PostgreSQL in one transaction: each table's rows as column arrays
unpacked by ``unnest``, the statements sent in one pipeline (one round trip for the batch).

Rows are sorted (pages and URLs by URL, states by id) so that two workers writing batches at
once lock rows in the same order; duplicates within a batch are folded, since an upsert may not
change one row twice in a statement.
"""

from collections.abc import Sequence

import orjson

from scraper.models import CheckedRecord, PageRecord, Reparsed, SinkRecord
from scraper.storage.postgres.captures import capture_statements
from scraper.storage.postgres.contents import batch_statements, reparse_statements
from scraper.storage.postgres.metadata import metadata_statements, reparse_metadata_statements
from scraper.storage.postgres.schema import MARK_RENDERED
from scraper.storage.postgres.setup import Conn
from scraper.storage.postgres.statements import (
    ADD_URLS,
    CHECKED,
    FINISH,
    INSERT_BODIES,
    INSERT_VERSIONS,
    REDIRECT_TARGETS_DONE,
    UPDATE_PARSED,
    UPDATE_PARSED_PAGES,
    UPSERT_PAGES,
)
from scraper.storage.rendered import rendered_urls
from scraper.storage.revisits import checked_columns, finished_rows, visit_columns
from scraper.urls import url_host


def json_array(values: Sequence[str]) -> str | None:
    """A list as JSON text for a jsonb column, None when empty (as SQLite stores it)."""
    return orjson.dumps(list(values)).decode() if values else None


def clean(text: str | None) -> str | None:
    """PostgreSQL's text has no NUL character (SQLite's does): dropped."""
    return text.replace("\x00", "") if text and "\x00" in text else text


def clean_json(text: str | None) -> str | None:
    """JSON text for jsonb, which refuses ``\\u0000`` in strings: NULs dropped from them."""
    if text is None or "\\u0000" not in text:
        return text
    return orjson.dumps(_without_nul(orjson.loads(text))).decode()


def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


async def write(conn: Conn, records: Sequence[SinkRecord]) -> None:
    """Versions of pages whose content changed, pages upserted by URL (a page written twice
    stays one row, one version), bodies per version, pages found unchanged marked checked,
    redirect targets done, new URLs pending with their hosts, and each record's URL finished
    (done, failed or blocked; unclaimed), whichever worker claims it now."""
    pages = sorted(
        {r.url: r for r in records if isinstance(r, PageRecord)}.values(), key=lambda p: p.url
    )
    columns = _page_columns(pages)
    statements: list[tuple[str, list[list[object]]]] = [
        (INSERT_VERSIONS, columns),  # before the pages: compared with the latest version
        (UPSERT_PAGES, columns),
        *batch_statements(pages),  # after the versions: for the latest
        *metadata_statements(pages),
        *capture_statements(records),  # --archive
    ]
    bodies = [(p.url, p.charset, p.body) for p in pages if p.body is not None]
    if bodies:
        statements.append((INSERT_BODIES, _columns(bodies, 3)))
    checked = sorted(checked_columns(r) for r in records if isinstance(r, CheckedRecord))
    if checked:
        statements.append((CHECKED, _columns(checked, 7)))
    targets = sorted({p.redirected_to[0]: (*p.redirected_to, p.depth) for p in pages
                      if p.redirected_to}.values())  # fmt: skip
    if targets:  # before the new URLs: a target also linked from this batch stays done
        statements.append((REDIRECT_TARGETS_DONE, _columns(targets, 3)))
    found = sorted({(url, host, p.depth + 1) for p in pages for url, host in p.new_urls})
    if found:
        statements.append((ADD_URLS, _columns(found, 3)))
    for sql, urls in zip(MARK_RENDERED, rendered_urls(pages), strict=True):
        if urls:
            statements.append((sql, [list[object](urls)]))
    statements.append((FINISH, _columns(sorted(finished_rows(records)), 4)))
    async with conn.pipeline():
        for sql, params in statements:
            await conn.execute(sql, params)


def _columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    return [[row[i] for row in rows] for i in range(width)]


def _page_columns(pages: Sequence[PageRecord]) -> list[list[object]]:
    rows = [
        (p.url, p.final_url, p.status, p.content_type, clean(p.title), clean(p.description),
         clean(p.text), p.depth, p.fetched_at, p.elapsed_ms, p.size_bytes, clean_json(p.data),
         json_array(p.links), url_host(p.url), *visit_columns(p))
        for p in pages
    ]  # fmt: skip
    return _columns(rows, 21)


async def update_parsed(conn: Conn, pages: Sequence[Reparsed]) -> None:
    """Versions parsed again (``reparse``): their title, description, text, data and content
    hash; for the latest version of its URL, its page's too, and its links; their main content
    and chunks replaced. Idempotent: run again whole after a lost connection."""
    columns: list[list[object]] = [
        [p.version_id for p in pages],
        [clean(p.title) for p in pages],
        [clean(p.description) for p in pages],
        [clean(p.text) for p in pages],
        [clean_json(p.data) for p in pages],
        [p.content_hash for p in pages],
    ]
    await conn.execute(UPDATE_PARSED, columns)
    links: list[object] = [json_array(p.links) for p in pages]
    await conn.execute(
        UPDATE_PARSED_PAGES, [columns[0], [p.url for p in pages], *columns[1:], links]
    )
    for sql, params in [*reparse_statements(pages), *reparse_metadata_statements(pages)]:
        await conn.execute(sql, params)
