"""Read-only access to a crawl database on PostgreSQL: ad-hoc SQL, full-text search, export,
statistics and the workers' status, with the interface of SQLite's ``ReadStore``.

Every operation is one ``READ ONLY`` transaction (REPEATABLE READ: one snapshot), rolled back at
its end; ``readonly`` says how PostgreSQL is made to refuse every write. Reading never blocks
the crawl (MVCC). Results stream: user statements and the export through server-side cursors
(``DECLARE``, ``CHUNK_ROWS`` rows per round trip), so memory stays flat whatever their size.
"""

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self, cast

import psycopg
from psycopg import Column, errors
from psycopg.rows import TupleRow

from scraper.errors import StoreError
from scraper.storage.postgres import readonly
from scraper.storage.postgres.connect import (
    Conn,
    connect_error,
    conninfo_for,
    first_line,
    redact,
    translate,
)
from scraper.storage.postgres.schema import REVISIT_COLUMNS, SCHEMA_VERSION
from scraper.storage.proxyhealth import PROXY_HEALTH_SCHEMA
from scraper.storage.reading import (
    CHANGED_SINCE,
    CHANGES,
    HEARTBEAT_DEAD_S,
    CrawlCounts,
    PendingHosts,
    Row,
    WorkerStatus,
    read_counts,
    read_totals,
    search_words,
)

CHUNK_ROWS = 500  # rows per fetch from a server-side cursor
Connection = Conn
# The columns of SQLite's pages table (PostgreSQL's adds the generated `search`).
PAGE_COLUMNS = (
    "id, url, final_url, status, content_type, title, description, text, depth, fetched_at, "
    "elapsed_ms, size_bytes, data, links, host, "
    + ", ".join(name for name, _kind in REVISIT_COLUMNS)
    + ", rendered"  # schema 12 (storage.rendered), last as in SQLite's
)
# Title (weight A) counts 10x the text (B), as bm25's weights on SQLite; {D, C, B, A}. Rank
# normalization 1 (divided by 1 + log(length)) makes a longer page rank lower, as bm25 does;
# equal ranks go by URL on both backends (ids follow the order pages happened to be stored).
# The snippet is of the text, or of the title if the text alone does not match.
_SEARCH = """
SELECT p.url, p.title,
       CASE WHEN p.title IS NOT NULL AND NOT to_tsvector('simple', coalesce(p.text, '')) @@ q.q
            THEN ts_headline('simple', p.title, q.q, %(options)s)
            ELSE ts_headline('simple', coalesce(p.text, ''), q.q, %(options)s) END AS snippet,
       CASE WHEN r.rank > 0 THEN round(r.rank::numeric, 2 - floor(log(r.rank::numeric))::int)
            ELSE 0 END::float8 AS score
FROM (SELECT {tsquery} AS q) AS q, pages AS p,
     LATERAL (SELECT ts_rank_cd('{{0.1, 0.1, 0.1, 1.0}}', p.search, q.q, 1) AS rank) AS r
WHERE p.search @@ q.q
ORDER BY r.rank DESC, p.url
LIMIT %(limit)s
"""
# Ages by the database's clock. The end columns read through to_jsonb: a database made before
# them (migrate.add_worker_ends) has none until a worker of this version opens it.
_WORKERS = """
SELECT w.name, w.status, extract(epoch FROM clock_timestamp() - w.heartbeat_at)::float8,
       extract(epoch FROM clock_timestamp() - (to_jsonb(w) ->> 'ended_at')::timestamptz)::float8,
       to_jsonb(w) ->> 'end_error',
       (SELECT count(*) FROM hosts h WHERE h.owner = w.name AND h.lease_until > clock_timestamp())
FROM workers w ORDER BY w.started_at, w.name
"""
_PENDING_HOSTS = """
SELECT count(*), count(*) FILTER (WHERE h.owner IS NOT NULL AND h.lease_until > clock_timestamp())
FROM hosts h WHERE EXISTS (SELECT FROM frontier f WHERE f.host = h.host AND f.state = 'pending')
"""


class PgRows:
    """A result read a chunk at a time; values of types SQLite lacks are turned into text (the
    loaders of ``readonly`` already give timestamps, JSON and numeric as SQLite's)."""

    def __init__(
        self,
        description: Sequence[Column] | None,
        next_chunk: Callable[[], Awaitable[list[TupleRow]]],
        store: "PostgresReadStore",
    ) -> None:
        self.columns = tuple(d.name for d in description or ())
        self._next_chunk = next_chunk
        self._converters = [
            (i, readonly.plain)
            for i, d in enumerate(description or ())
            if d.type_code not in readonly.PLAIN_OIDS
        ]
        self._store = store

    async def fetch(self) -> list[Row]:
        """The next chunk of at most CHUNK_ROWS rows; an empty list at the end."""
        try:
            chunk = await self._next_chunk()
        except psycopg.Error as exc:
            raise translate(self._store.url, exc) from None
        if not self._converters:
            return cast(list[Row], chunk)
        rows = []
        for row in chunk:
            values = list(row)
            for i, convert in self._converters:
                values[i] = convert(values[i])
            rows.append(tuple(values))
        return rows


class PostgresReadStore:
    """A crawl database on PostgreSQL opened read-only: ``async with PostgresReadStore(url)``.

    Entering raises StoreError if the server cannot be reached (the message never holds a
    password), if the database is not a crawl database or is newer than this scraper.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.label = redact(url)
        self.schema_version = 0
        self._conn: Connection | None = None
        self._role = "none"

    async def __aenter__(self) -> Self:
        try:
            self._conn = await psycopg.AsyncConnection.connect(
                conninfo_for(self.url), autocommit=True
            )
        except psycopg.Error as exc:
            raise connect_error(self.url, exc) from None
        try:
            readonly.use_sqlite_values(self._conn)
            self._role = await readonly.reader_role(self._conn)
            await self._conn.set_read_only(True)
            await self._conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
            await self._conn.set_autocommit(False)
            await self._check()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, psycopg.Error):  # the server's condition, not the user's input
                raise StoreError(f"cannot read {self.label}: {first_line(exc)}") from None
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    @property
    def conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("read store is not open")
        return self._conn

    @contextlib.asynccontextmanager
    async def _guarded(self) -> AsyncIterator[Connection]:
        """One read-only transaction, rolled back at the end, under the reader role and the
        statement timeout."""
        timeout_ms = str(int(readonly.STATEMENT_TIMEOUT_S * 1000))
        async with self.conn.transaction(force_rollback=True):
            await self.conn.execute(readonly.GUARD, (timeout_ms, self._role))
            yield self.conn

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[Connection]:
        """:meth:`_guarded`, psycopg's errors as the package's (a refused statement: exit 2)."""
        try:
            async with self._guarded() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(self.url, exc) from None

    async def _check(self) -> None:
        """Refuse a database that is not a crawl database of a version this scraper reads."""
        async with self._guarded():
            version = None
            if await self._scalar("SELECT to_regclass('meta') IS NOT NULL"):
                version = await self._scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        if version is None:
            raise StoreError(f"{self.label} is not a crawl database")
        try:
            self.schema_version = int(str(version))
        except ValueError:
            self.schema_version = -1
        if not 0 < self.schema_version <= SCHEMA_VERSION:
            raise StoreError(
                f"{self.label} has schema version {version}; this scraper reads versions up "
                f"to {SCHEMA_VERSION}"
            )

    # -- reading ------------------------------------------------------------------------------

    async def _all(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        async with self.conn.cursor() as cur:
            await cur.execute(sql, params)
            return cast(list[Row], await cur.fetchall())

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        found = await self._all(sql, params)
        return found[0][0] if found else None

    @contextlib.asynccontextmanager
    async def rows(self, sql: str) -> AsyncIterator[PgRows]:
        """Run one user statement read-only (see ``readonly``); rows are read as consumed.

        UsageError for a statement PostgreSQL refuses (syntax, unknown table, any write), for
        more than one statement, and for one that is neither a query nor a report.
        """
        async with self._reading() as conn:
            cursor = conn.cursor(name="scraper_rows")
            try:
                async with conn.transaction():  # a savepoint: a refused DECLARE is undone
                    await cursor.execute(sql)
            except BaseException as exc:
                with contextlib.suppress(psycopg.Error):
                    await cursor.close()
                if not isinstance(exc, errors.SyntaxError | errors.FeatureNotSupported):
                    raise
                if not readonly.may_send_again(sql):
                    raise self._refusal(sql, exc) from None
                async with self._stream(conn, sql) as rows:
                    yield rows
                return
            async with self._cursor_rows(cursor) as rows:
                yield rows

    def _refusal(self, sql: str, exc: psycopg.Error) -> Exception:
        """Why a statement that is not a query was not sent on."""
        if readonly.never_sent(sql):
            refused = errors.ReadOnlySqlTransaction(readonly.first_keyword(sql))
            return translate(self.url, refused)
        return translate(self.url, exc)  # an unknown word: the cursor's syntax error

    @contextlib.asynccontextmanager
    async def _cursor_rows(
        self, cursor: psycopg.AsyncServerCursor[TupleRow]
    ) -> AsyncIterator[PgRows]:
        try:
            yield PgRows(cursor.description, lambda: cursor.fetchmany(CHUNK_ROWS), self)
        finally:
            with contextlib.suppress(psycopg.Error):
                await cursor.close()

    @contextlib.asynccontextmanager
    async def _stream(self, conn: Connection, sql: str) -> AsyncIterator[PgRows]:
        """A statement that is not a query (EXPLAIN, SHOW; writes, which PostgreSQL refuses),
        streamed row by row with the extended protocol."""
        size = CHUNK_ROWS if psycopg.capabilities.has_stream_chunked() else 1
        cursor = conn.cursor()
        stream = cast(AsyncGenerator[TupleRow, None], cursor.stream(sql, size=size))
        try:
            first = [row async for row in _take(stream, 1)]
        except psycopg.ProgrammingError as exc:
            if exc.sqlstate:
                raise
            # psycopg's own: the statement returned no rows (it is not a report)
            raise translate(self.url, errors.ReadOnlySqlTransaction("not a query")) from None
        pending = [first]

        async def next_chunk() -> list[TupleRow]:
            if pending:
                return pending.pop()
            return [row async for row in _take(stream, CHUNK_ROWS)]

        try:
            yield PgRows(cursor.description, next_chunk, self)
        finally:
            await stream.aclose()

    def search(
        self, terms: Sequence[str], *, raw: bool, limit: int, markers: tuple[str, str]
    ) -> contextlib.AbstractAsyncContextManager[PgRows]:
        """Pages matching ``terms``, best first (``ts_rank_cd``, a title match weighs 10x the
        text), with a ``ts_headline`` snippet of the text (of the title if only it matched).

        Plain words: every word (``to_tsquery`` of quoted words, a trailing ``*`` a prefix:
        ``websearch_to_tsquery`` has no prefixes and reads ``-``, ``or`` and quotes as syntax).
        ``raw``: ``websearch_to_tsquery`` syntax ("a phrase", ``or``, ``-word``).
        """
        if raw:
            tsquery, query = "websearch_to_tsquery('simple', %(query)s)", " ".join(terms)
        else:
            tsquery, query = "to_tsquery('simple', %(query)s)", _tsquery(terms)
        start, stop = markers
        options = (
            f'StartSel="{start}", StopSel="{stop}", MaxWords=12, MinWords=5, ShortWord=0, '
            'MaxFragments=1, FragmentDelimiter=" … "'
        )
        params = {"query": query, "options": options, "limit": limit if limit > 0 else None}
        return self._query(_SEARCH.format(tsquery=tsquery), params)

    @contextlib.asynccontextmanager
    async def _query(self, sql: str, params: object = None) -> AsyncIterator[PgRows]:
        """Our own query, through a server-side cursor."""
        async with self._reading() as conn:
            cursor = conn.cursor(name="scraper_read")
            await cursor.execute(sql, cast(dict[str, object] | None, params))
            async with self._cursor_rows(cursor) as rows:
                yield rows

    def pages(
        self, changed_since: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[PgRows]:
        """Every stored page with the columns of SQLite's ``pages`` (not ``search``), first
        stored first (with ``changed_since``: only pages new or changed since, not removed)."""
        if changed_since is None:
            return self._query(f"SELECT {PAGE_COLUMNS} FROM pages ORDER BY id")
        where = CHANGED_SINCE.format(mark="%(since)s::timestamptz")
        sql = f"SELECT {PAGE_COLUMNS} FROM pages WHERE {where} ORDER BY id"
        return self._query(sql, {"since": changed_since})

    def changes(self, since: str) -> contextlib.AbstractAsyncContextManager[PgRows]:
        """New, changed and removed pages since ``since``, oldest first."""
        return self._query(CHANGES.format(mark="%(since)s::timestamptz"), {"since": since})

    async def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``settings``), None if there is none."""
        async with self._reading():
            value = await self._scalar("SELECT value FROM meta WHERE key = %s", (key,))
        return value if isinstance(value, str) else None

    async def workers(self) -> list[WorkerStatus]:
        """Every registered worker, oldest first: its last snapshot and heartbeat's age (the
        database's clock); alive when younger than HEARTBEAT_DEAD_S."""
        async with self._reading():
            found = await self._all(_WORKERS)
        return [
            WorkerStatus(
                str(name), None if status is None else str(status), float(str(age)),
                float(str(age)) < HEARTBEAT_DEAD_S and ended is None,
                None if ended is None else float(str(ended)),
                None if error is None else str(error), int(str(held)),
            )
            for name, status, age, ended, error, held in found
        ]  # fmt: skip

    async def pending_hosts(self) -> PendingHosts:
        """The hosts with pending URLs, and how many of them a live lease holds."""
        async with self._reading():
            [(hosts, held)] = await self._all(_PENDING_HOSTS)
        return PendingHosts(int(str(hosts)), int(str(held)))

    async def worker_statuses(self) -> list[str]:
        """The last status snapshot (JSON) of each worker that published one."""
        return [w.status for w in await self.workers() if w.status is not None]

    async def counts(self) -> CrawlCounts:
        """The crawl in numbers, all read from one snapshot (one REPEATABLE READ transaction)."""
        async with self._reading():
            return await read_counts(
                self._all,
                "SELECT coalesce(sum(jsonb_array_length(links)), 0) FROM pages",
                proxies=self.schema_version >= PROXY_HEALTH_SCHEMA,
            )

    async def totals(self) -> tuple[tuple[str, int], ...]:
        """Pages and URLs by state (see ``CrawlReader.totals``), in one snapshot."""
        async with self._reading():
            return await read_totals(self._all)


async def _take(stream: AsyncGenerator[TupleRow, None], n: int) -> AsyncIterator[TupleRow]:
    for _ in range(n):
        try:
            yield await anext(stream)
        except StopAsyncIteration:
            return


def _tsquery(terms: Sequence[str]) -> str:
    """A tsquery of every word of ``terms``, each quoted (its punctuation is text, never
    syntax), ``:*`` after a prefix."""
    quoted = (
        "'" + word.replace("\\", "\\\\").replace("'", "''") + "'" + (":*" if prefix else "")
        for word, prefix in search_words(terms)
    )
    return " & ".join(quoted)
