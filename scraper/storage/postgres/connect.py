"""Reaching a crawl database on PostgreSQL: its address as users may see it (never a password),
the connection (libpq: the URL, then ``PG*`` environment variables and ``~/.pgpass``), and
psycopg's errors as the package's one-line ones; :data:`Conn`, the type of a connection."""

import os
import urllib.parse

import psycopg
from psycopg import conninfo
from psycopg.rows import TupleRow

from scraper.errors import ScraperError, StoreError, UsageError

Conn = psycopg.AsyncConnection[TupleRow]  # a connection of the workers' pool, or a reader's

CONNECT_TIMEOUT_S = 10  # unless the URL or PGCONNECT_TIMEOUT says otherwise
APPLICATION_NAME = "scraper"


def redact(url: str) -> str:
    """``url`` without its password (in the user part or a ``password=`` parameter)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url.split("@")[-1]
    netloc = parts.netloc
    if "@" in netloc:
        user, _, hosts = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}@{hosts}"
    query = urllib.parse.urlencode(
        [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "password"]
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def conninfo_for(url: str) -> str:
    """What to connect with: ``url`` plus a connect timeout and an application name, each only
    where the URL and the environment leave it unset. UsageError for a malformed URL."""
    try:
        given = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid PostgreSQL address {redact(url)}: {first_line(exc)}") from None
    options: dict[str, str | int] = {}
    if "connect_timeout" not in given and "PGCONNECT_TIMEOUT" not in os.environ:
        options["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given and "PGAPPNAME" not in os.environ:
        options["application_name"] = APPLICATION_NAME
    return conninfo.make_conninfo(url, **options)


def first_line(exc: BaseException) -> str:
    """An error's message on one line: libpq's first line, whitespace collapsed."""
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return " ".join(exc.diag.message_primary.split())
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[0].split()) if lines else type(exc).__name__


def connect_error(url: str, exc: psycopg.Error) -> StoreError:
    """A failed connection (server down, no such database or role, authentication) as one line."""
    message = first_line(exc).removeprefix("connection failed: ")
    return StoreError(f"cannot connect to {redact(url)}: {message}")


def translate(url: str, exc: psycopg.Error) -> ScraperError:
    """A failed statement: exit 2 for the statement (syntax, unknown table, a refused write),
    exit 1 for the database (connection lost, server shut down, a statement timeout)."""
    state = exc.sqlstate or ""
    message = first_line(exc)
    # invalid_transaction_state (read-only transaction, read-write mode), insufficient_privilege
    if state.startswith("25") or state == "42501":
        return UsageError(f"refused: the database is opened read-only ({message})")
    if "cannot insert multiple commands" in message:
        return UsageError("give one SQL statement at a time (found more after a ';')")
    if state == "57014":  # query_canceled: statement_timeout
        return StoreError(f"{redact(url)}: {message}")
    if isinstance(exc, psycopg.OperationalError) and not state.startswith(("22", "42")):
        return StoreError(f"{redact(url)}: {message}")
    return UsageError(message)
