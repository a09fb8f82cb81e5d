"""Read-only access to a crawl database: ad-hoc SQL, full-text search, export and statistics.

The storage layer's reading half (``store`` is the crawl's writing half). A ``ReadStore`` never
changes the database, and this is enforced by SQLite itself, twice:

- the file is opened with a read-only URI (``file:...?mode=ro``), so the pager refuses to write;
- an authorizer (``sqlite3_set_authorizer``) lets a statement be prepared only if everything it
  does is reading: SELECT, reading columns, functions, recursive CTEs and a list of pragmas that
  only report. INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, ATTACH (and so VACUUM INTO), DETACH,
  REINDEX, ANALYZE, transactions and pragmas given a value are denied before they run.

Reading never blocks the crawl: the database is in WAL mode, so a reader works on a snapshot
while the writer goes on. A busy timeout covers the brief moments WAL needs a lock (recovery).
"""

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, cast

import aiosqlite

from scraper.errors import ScraperError, StoreError, UsageError
from scraper.storage.proxyhealth import PROXY_HEALTH_SCHEMA
from scraper.storage.reading import (
    BY_HOST,
    CHANGED_SINCE,
    CHANGES,
    CrawlCounts,
    Row,
    WorkerStatus,
    read_counts,
    read_totals,
    search_words,
)
from scraper.storage.sqlite.schema import REVISITS_SCHEMA
from scraper.storage.sqlite.setup import scalar, schema_version

BUSY_TIMEOUT_S = 10.0
CHUNK_ROWS = 500  # rows fetched per round trip to the connection's thread

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Pragmas that only report something; allowed without a value (`PRAGMA page_count`).
_REPORTING_PRAGMAS = frozenset(
    {
        "application_id", "auto_vacuum", "cache_size", "collation_list", "compile_options",
        "data_version", "database_list", "encoding", "foreign_keys", "freelist_count",
        "function_list", "journal_mode", "module_list", "page_count", "page_size",
        "pragma_list", "schema_version", "user_version",
    }
)  # fmt: skip
# Pragmas whose argument names what to look at, not a value to set (`PRAGMA table_info(pages)`).
_LOOKUP_PRAGMAS = frozenset(
    {
        "foreign_key_check", "foreign_key_list", "index_info", "index_list", "index_xinfo",
        "integrity_check", "quick_check", "table_info", "table_list", "table_xinfo",
    }
)  # fmt: skip
# sqlite3_declare_vtab (FTS5, table-valued pragmas) reports the CREATE TABLE it parses as
# UPDATEs of the schema table, which the read-only file would refuse anyway.
_SCHEMA_TABLES = frozenset({"sqlite_master", "sqlite_temp_master", "sqlite_schema"})
_ACTION_NAMES = {
    getattr(sqlite3, f"SQLITE_{name}"): name.replace("_", " ")
    for name in (
        "CREATE_INDEX", "CREATE_TABLE", "CREATE_TEMP_INDEX", "CREATE_TEMP_TABLE",
        "CREATE_TEMP_TRIGGER", "CREATE_TEMP_VIEW", "CREATE_TRIGGER", "CREATE_VIEW", "DELETE",
        "DROP_INDEX", "DROP_TABLE", "DROP_TEMP_INDEX", "DROP_TEMP_TABLE", "DROP_TEMP_TRIGGER",
        "DROP_TEMP_VIEW", "DROP_TRIGGER", "DROP_VIEW", "INSERT", "PRAGMA", "TRANSACTION",
        "UPDATE", "ATTACH", "DETACH", "ALTER_TABLE", "REINDEX", "ANALYZE", "CREATE_VTABLE",
        "DROP_VTABLE", "FUNCTION", "SAVEPOINT",
    )
}  # fmt: skip
# Errors of the database file rather than of the statement (exit 1, not 2).
_FILE_ERRORS = frozenset(
    {
        sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_FULL,
    }
)  # fmt: skip

# The snippet is of the text if the query matched it (snippet() then marks a word), else of
# the title (`title:socket`): a snippet that marks nothing differs not from one without markers.
_SEARCH = """
SELECT p.url, p.title,
       CASE WHEN snippet(pages_fts, 1, :open, :close, '…', 12)
                 = snippet(pages_fts, 1, '', '', '…', 12)
            THEN snippet(pages_fts, 0, :open, :close, '…', 12)
            ELSE snippet(pages_fts, 1, :open, :close, '…', 12) END AS snippet,
       CAST(printf('%.3g', -bm25(pages_fts, 10.0, 1.0)) AS REAL) AS score
FROM pages_fts JOIN pages AS p ON p.id = pages_fts.rowid
WHERE pages_fts MATCH :match
ORDER BY bm25(pages_fts, 10.0, 1.0), p.url  -- ties by URL, as on PostgreSQL
LIMIT :limit
"""
# Before schema version 5, pages had no host column (a reader never migrates).
_BY_HOST_V4 = """
SELECT f.host, count(*) FROM pages AS p JOIN frontier AS f ON f.url = p.url
GROUP BY f.host ORDER BY 2 DESC, 1
"""


class SqliteRows:
    """The result of one statement: its column names, then its rows a chunk at a time."""

    def __init__(
        self, columns: tuple[str, ...], cursor: aiosqlite.Cursor, store: "ReadStore"
    ) -> None:
        self.columns = columns
        self._cursor = cursor
        self._store = store

    async def fetch(self) -> list[Row]:
        """The next chunk of at most CHUNK_ROWS rows; an empty list at the end."""
        try:
            return cast(list[Row], await self._cursor.fetchmany(CHUNK_ROWS))
        except sqlite3.Error as exc:
            raise self._store.translate(exc) from None


class ReadStore:
    """A crawl database opened read-only. Use as ``async with ReadStore(path) as store:``.

    Entering raises UsageError if there is no file at ``path`` and StoreError if it is not a
    crawl database (or one newer than this scraper); the file is never changed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schema_version = 0
        self._db: aiosqlite.Connection | None = None
        self._denied: str | None = None
        self._internal = False

    async def __aenter__(self) -> Self:
        if not self.path.is_file():
            raise UsageError(f"no crawl database at {self.path}")
        try:
            self._db = await self._connect()
            await self._db.set_authorizer(self._authorize)
            await self._check()
        except BaseException as exc:  # Ctrl-C too: an open connection's thread would hang exit
            await self.close()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot open database {self.path}: {exc}") from None
            raise
        return self

    async def _connect(self) -> aiosqlite.Connection:
        """Open the file read-only, then hand the connection to aiosqlite's thread.

        Not ``aiosqlite.connect``: when its open fails, it stops its connection thread without
        waiting, and that thread then reports to an event loop that a one-shot command has
        already closed ("Exception in thread ...: Event loop is closed"). Here a failed open
        never starts that thread. Opening only opens the file (reading starts with the first
        statement), so it is done right here, on the event loop. In a directory it cannot write
        (a read-only mount, a copy on a CD), WAL mode cannot make its ``-shm`` index, so the
        file is opened ``immutable``: read as it is, without the locks no writer could need.
        """
        uri = f"{self.path.absolute().as_uri()}?mode=ro"
        if not os.access(self.path.absolute().parent, os.W_OK):
            uri += "&immutable=1"  # WAL's -shm cannot be made there: nothing can write it anyway
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,  # used from now on by aiosqlite's thread alone
        )
        try:
            return await aiosqlite.Connection(lambda: conn, CHUNK_ROWS)
        except BaseException:
            conn.close()
            raise

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if e is not None and self._db is not None:
            await self._db.interrupt()  # a statement still running (Ctrl-C) stops at once
        await self.close()

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await db.close()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("read store is not open")
        return self._db

    async def _check(self) -> None:
        """Refuse a file that is not a crawl database of a version this scraper reads."""
        self.schema_version = await schema_version(self.db, self.path)

    # -- the authorizer -----------------------------------------------------------------------

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None
    ) -> int:
        """SQLite's authorizer callback (on the connection's thread): deny all but reading."""
        if self._internal or _is_read(action, arg1, arg2):
            return sqlite3.SQLITE_OK
        self._denied = _describe(action, arg1, arg2)
        return sqlite3.SQLITE_DENY

    def translate(self, exc: sqlite3.Error) -> ScraperError:
        """A one-line error for a failed statement: exit 2 for the statement, 1 for the file."""
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
        if code == sqlite3.SQLITE_AUTH:
            denied = self._denied or "a write"
            return UsageError(f"refused: the database is opened read-only ({denied})")
        if code == sqlite3.SQLITE_READONLY:
            return UsageError(f"refused: the database is opened read-only ({exc})")
        if isinstance(exc, sqlite3.ProgrammingError) and "one statement" in str(exc):
            return UsageError("give one SQL statement at a time (found more after a ';')")
        if code in _FILE_ERRORS:
            return StoreError(f"{self.path}: {exc}")
        return UsageError(str(exc))

    # -- reading ------------------------------------------------------------------------------

    async def _scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        return await scalar(self.db, sql, params)

    @contextlib.asynccontextmanager
    async def rows(
        self, sql: str, params: Sequence[object] | Mapping[str, object] = ()
    ) -> AsyncIterator[SqliteRows]:
        """Run one statement; its rows are read as they are consumed (bounded memory).

        UsageError for a statement SQLite refuses (syntax, unknown table, any write).
        """
        self._denied = None
        try:
            cursor = await self.db.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.translate(exc) from None
        try:
            columns = tuple(d[0] for d in cursor.description or ())
            yield SqliteRows(columns, cursor, self)
        finally:
            await cursor.close()

    def search(
        self, terms: Sequence[str], *, raw: bool, limit: int, markers: tuple[str, str]
    ) -> contextlib.AbstractAsyncContextManager[SqliteRows]:
        """Pages matching ``terms`` (plain words, or FTS5 syntax if ``raw``), best first (bm25,
        a title match weighs 10x the text).

        Columns: url, title, snippet (of the text, or of the title if only the title matched;
        matched words between ``markers``), score.
        """
        if self.schema_version < 2:
            raise StoreError(
                f"{self.path} has no full-text index yet (schema version {self.schema_version}); "
                "`scraper resume` upgrades it"
            )
        match = " ".join(terms) if raw else fts_query(terms)
        opening, closing = markers
        params = {"open": opening, "close": closing, "match": match, "limit": limit or -1}
        return self.rows(_SEARCH, params)

    async def meta(self, key: str) -> str | None:
        """A value of the ``meta`` table (``settings``, ``status``), None if there is none."""
        value = await self._scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return value if isinstance(value, str) else None

    async def worker_statuses(self) -> list[str]:
        """The status snapshot (JSON) each worker of the crawl published last: one at most on
        SQLite, where one worker at a time writes a crawl."""
        status = await self.meta("status")
        return [] if status is None else [status]

    async def workers(self) -> list[WorkerStatus]:
        """The one worker's last status, if it published one (its liveness: the crawl lock)."""
        return [WorkerStatus("", status, None, None) for status in await self.worker_statuses()]

    async def pending_hosts(self) -> None:
        """None: one worker holds every host of an SQLite crawl (no leases)."""
        return None

    def pages(
        self, changed_since: str | None = None
    ) -> contextlib.AbstractAsyncContextManager[SqliteRows]:
        """Every stored page with all its columns, in the order they were first stored (with
        ``changed_since``: only pages new or changed since then, not removed)."""
        if changed_since is None:
            return self.rows("SELECT * FROM pages ORDER BY id")
        self._need_revisits()
        where = CHANGED_SINCE.format(mark="?")
        return self.rows(f"SELECT * FROM pages WHERE {where} ORDER BY id", (changed_since,))

    def changes(self, since: str) -> contextlib.AbstractAsyncContextManager[SqliteRows]:
        """New, changed and removed pages since ``since``, oldest first."""
        self._need_revisits()
        return self.rows(CHANGES.format(mark="?"), (since,))

    def _need_revisits(self) -> None:
        """UsageError for a database from before revisits (schema 6): reading never migrates."""
        if self.schema_version < REVISITS_SCHEMA:
            raise UsageError(
                f"{self.path} has schema version {self.schema_version}, from before revisits; "
                f"`scraper resume --db {self.path}` upgrades it (and goes on with the crawl)"
            )

    async def counts(self) -> CrawlCounts:
        """The crawl in numbers, all read from one snapshot (one read transaction)."""
        try:
            await self._run_internal("BEGIN")
            try:
                return await self._counts()
            finally:
                await self._run_internal("COMMIT")
        except sqlite3.Error as exc:
            raise self.translate(exc) from None

    async def totals(self) -> tuple[tuple[str, int], ...]:
        """Pages and URLs by state (see ``CrawlReader.totals``)."""
        try:
            return await read_totals(self._all)
        except sqlite3.Error as exc:
            raise self.translate(exc) from None

    async def _run_internal(self, sql: str) -> None:
        """Our own transaction statements, which the authorizer denies to user SQL."""
        self._internal = True
        try:
            await self.db.execute(sql)
        finally:
            self._internal = False

    async def _all(self, sql: str) -> list[Row]:
        async with self.db.execute(sql) as cur:
            return [tuple(row) for row in await cur.fetchall()]

    async def _counts(self) -> CrawlCounts:
        by_host = BY_HOST if self.schema_version >= 5 else _BY_HOST_V4
        links = "SELECT coalesce(sum(json_array_length(links)), 0) FROM pages"
        proxies = self.schema_version >= PROXY_HEALTH_SCHEMA
        return await read_counts(self._all, links, by_host, proxies)


def fts_query(terms: Sequence[str]) -> str:
    """An FTS5 query matching pages that contain every word of ``terms``.

    Each word is quoted as an FTS5 string, so quotes, ``-``, ``:``, ``AND`` or parentheses
    in it are plain text, never syntax; a trailing ``*`` asks for a prefix (``crawl*``).
    Words without a letter or digit (which the tokenizer would drop) are left out.
    """
    quoted = (
        '"' + word.replace('"', '""') + '"' + ("*" if prefix else "")
        for word, prefix in search_words(terms)
    )
    return " ".join(quoted)


def _is_read(action: int, arg1: str | None, arg2: str | None) -> bool:
    if action in _ALLOWED_ACTIONS:
        return not (action == sqlite3.SQLITE_FUNCTION and arg2 == "load_extension")
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        return name in _LOOKUP_PRAGMAS or (name in _REPORTING_PRAGMAS and arg2 is None)
    return action == sqlite3.SQLITE_UPDATE and arg1 in _SCHEMA_TABLES


def _describe(action: int, arg1: str | None, arg2: str | None) -> str:
    """What a denied action would have done, in the words of SQL (for the error message)."""
    if arg1 in _SCHEMA_TABLES:  # SQLite checks the schema table's change before the statement
        return {sqlite3.SQLITE_INSERT: "CREATE", sqlite3.SQLITE_DELETE: "DROP"}.get(action, "ALTER")
    if action == sqlite3.SQLITE_ATTACH and not arg1:  # VACUUM rebuilds through an attached copy
        return "VACUUM"
    if action == sqlite3.SQLITE_ALTER_TABLE:  # (database, table)
        arg1 = arg2
    what = " ".join(filter(None, [_ACTION_NAMES.get(action, f"action {action}"), arg1]))
    return f"{what} = {arg2}" if action == sqlite3.SQLITE_PRAGMA and arg2 else what
