"""Scratch databases on an existing PostgreSQL server, for the bench: a new empty database next
to the one a URL names, and dropping it again. Blocking (psycopg's sync connection), for callers
outside an event loop."""

import re
import urllib.parse

import psycopg
from psycopg import conninfo, sql

from scraper.errors import UsageError
from scraper.storage.postgres.connect import connect_error, conninfo_for, redact, translate

_SUFFIX = re.compile(r"[a-z0-9_]{1,20}")


def sibling_url(url: str, suffix: str) -> str:
    """``url`` naming the database ``<its database>_<suffix>`` instead (UsageError for a suffix
    that is not 1-20 of ``a-z0-9_``); libpq's default database (the user's name) when the URL
    names none."""
    if not _SUFFIX.fullmatch(suffix):
        raise UsageError(f"invalid database suffix {suffix!r}")
    try:
        info = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise UsageError(f"invalid PostgreSQL address {redact(url)}") from None
    base = str(info.get("dbname") or info.get("user") or "postgres")
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.urlencode(
        [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "dbname"]
    )
    name = urllib.parse.quote(f"{base}_{suffix}", safe="")
    return f"{parts.scheme}://{parts.netloc}/{name}" + (f"?{query}" if query else "")


def _database(url: str) -> str:
    return str(conninfo.conninfo_to_dict(url)["dbname"])


def _run(url: str, statement: sql.Composed) -> None:
    """One statement outside a transaction on the database ``url`` names."""
    try:
        with psycopg.connect(conninfo_for(url), autocommit=True) as conn:
            conn.execute(statement)
    except psycopg.OperationalError as exc:
        if exc.sqlstate is None:  # no connection at all
            raise connect_error(url, exc) from None
        raise translate(url, exc) from None
    except psycopg.Error as exc:
        raise translate(url, exc) from None


def fresh_database(url: str, suffix: str) -> str:
    """A new empty database ``<url's database>_<suffix>`` on ``url``'s server, made over a
    connection to ``url`` (whose user needs CREATEDB); its URL. A database of that name is
    dropped first (a scratch database left by an interrupted run). StoreError when the server
    cannot be reached, UsageError when it refuses."""
    target = sibling_url(url, suffix)
    drop_database(url, suffix)
    _run(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_database(target))))
    return target


def drop_database(url: str, suffix: str) -> None:
    """Drop ``<url's database>_<suffix>`` if it exists, its open connections closed first."""
    name = _database(sibling_url(url, suffix))
    _run(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
