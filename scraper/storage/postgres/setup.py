"""Opening a PostgreSQL crawl database: the connection (its failures as one line, without the
password), the schema (created in an empty database, checked in any other), the worker's
registration and its end, and the retry policy of every later statement."""

import asyncio
import logging
from collections.abc import Callable

import psycopg
from psycopg.conninfo import conninfo_to_dict
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from scraper.errors import Interrupted, ScraperError, StoreError
from scraper.storage.postgres.connect import Conn as Conn  # re-exported: claims, batch, store
from scraper.storage.postgres.migrate import add_worker_ends, migrate
from scraper.storage.postgres.schema import SCHEMA, SCHEMA_VERSION
from scraper.storage.postgres.statements import (
    HAS_META,
    REGISTER,
    RELEASE_HOSTS,
    SET_VERSION,
    SETUP_KEY,
    TABLE_COUNT,
    TAKE_LOCK,
    VERSION,
)

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout (whole seconds, 2 at least)
END_ERROR_CHARS = 300
# A worker's end (workers.ended_at, end_error); a new registration of its name has none.
_END = "UPDATE workers SET ended_at = now(), heartbeat_at = now(), end_error = %s WHERE name = %s"
_REOPEN = "UPDATE workers SET ended_at = NULL, end_error = NULL WHERE name = %s"


def address(url: str) -> str:
    """``url`` as it may be shown: ``postgresql://user@host:port/dbname``, no password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://?"
    user = f"{info['user']}@" if info.get("user") else ""
    port = f":{info['port']}" if info.get("port") else ""
    return f"postgresql://{user}{info.get('host', '')}{port}/{info.get('dbname', '')}"


def one_line(exc: BaseException, url: str) -> str:
    """The reason in a psycopg error, on one line and without the password of ``url``.

    libpq's connection errors read ``connection failed: connection to server at "h", port p
    failed: FATAL:  database "x" does not exist`` (with a hint on a second line): the part after
    the last ``failed:`` is the reason.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    text = text.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        password = None
    if password:
        text = text.replace(str(password), "***")
    return text


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the connection lost, the server shutting down or starting up
    (57P01, 57P03), no connection from the pool in time, a deadlock or serialization failure
    (psycopg's OperationalError covers all of these). Anything else is a bug in the SQL."""
    return isinstance(exc, psycopg.OperationalError)


def retrying(retry_s: float, url: str) -> AsyncRetrying:
    """Transient errors retried with jittered exponential backoff for ``retry_s`` in all."""
    return AsyncRetrying(
        stop=stop_after_delay(retry_s),
        wait=wait_exponential_jitter(
            multiplier=0.05, max=min(5.0, max(retry_s / 4, 0.05)), jitter=0.05
        ),
        retry=retry_if_exception(is_transient),
        before_sleep=_log_retry(url),
        reraise=True,
    )


def _log_retry(url: str) -> Callable[[RetryCallState], None]:
    def log_it(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait_s = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "database %s: %s; retrying in %.2f s",
            address(url),
            one_line(exc, url) if exc else "?",
            wait_s,
        )

    return log_it


async def connect(url: str) -> Conn:
    """A first connection, to check the server and set the database up; StoreError (one line)
    when the server is unreachable, refuses the user or has no such database."""
    try:
        return await psycopg.AsyncConnection.connect(
            url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot open database {address(url)}: {one_line(exc, url)}") from None


async def prepare_for_crawl(conn: Conn, url: str, worker: str) -> None:
    """In one transaction, under an advisory lock (workers opening at once wait for each
    other): an empty database gets the schema; one with other tables, or a crawl of another
    schema version, is refused (StoreError). Then the worker is registered, and leases left
    by a previous process of the same name (it is gone: names are ``hostname:pid``) freed."""
    async with conn.transaction():
        await conn.execute(TAKE_LOCK, (SETUP_KEY,))
        tables = await _scalar(conn, TABLE_COUNT)
        if not tables:
            await conn.execute(SCHEMA)
            await conn.execute(SET_VERSION, (str(SCHEMA_VERSION),))
        else:
            await _check_version(conn, url)
            await add_worker_ends(conn)
        await conn.execute(REGISTER, (worker,))
        await conn.execute(_REOPEN, (worker,))
        await conn.execute(RELEASE_HOSTS, (worker,))


async def leave_crawl(conn: Conn, worker: str, error: str | None) -> None:
    """The worker leaves the crawl: its leases released, its end recorded (``error``: what
    ended it, None for a clean end, finished or stopped), its heartbeat last beaten now."""
    await conn.execute(RELEASE_HOSTS, (worker,))
    await conn.execute(_END, (error, worker))


def end_error(exc: BaseException | None) -> str | None:
    """What ended a worker, on one line (at most END_ERROR_CHARS): None for a clean end, a
    signal's stop included (Ctrl-C, a cancellation)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if exc is None or isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | Interrupted):
        return None
    text = " ".join(str(exc).split())
    if not isinstance(exc, ScraperError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text[:END_ERROR_CHARS]


async def _check_version(conn: Conn, url: str) -> None:
    if not await _scalar(conn, HAS_META):
        raise StoreError(f"{address(url)} is not a crawl database")
    try:
        async with conn.transaction():  # a savepoint: another program's meta may differ
            value = await _scalar(conn, VERSION)
    except psycopg.ProgrammingError:
        value = None
    if value is None:
        raise StoreError(f"{address(url)} is not a crawl database")
    if str(value) in ("5", "6", "7"):
        log.warning(
            "upgrading %s from schema version %s to %d", address(url), value, SCHEMA_VERSION
        )
        await migrate(conn, int(str(value)))
        await conn.execute(
            "UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),)
        )
    elif str(value) != str(SCHEMA_VERSION):
        raise StoreError(
            f"{address(url)} has schema version {value}; this scraper reads version "
            f"{SCHEMA_VERSION}"
        )


async def _scalar(conn: Conn, sql: str, params: tuple[object, ...] = ()) -> object:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return None if row is None else row[0]
