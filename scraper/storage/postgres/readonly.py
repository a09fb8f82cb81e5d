"""How a PostgreSQL crawl database is kept unchanged by its readers, and how its values are
read as SQLite's.

PostgreSQL itself enforces that a reader writes nothing, whoever the URL's user is:

- every statement runs in its own ``READ ONLY`` transaction (``BEGIN ... READ ONLY``, which
  ``default_transaction_read_only`` cannot undo), rolled back at the end, with a snapshot taken
  first, so ``set_config('transaction_read_only', 'off', ...)`` fails as well ("cannot set
  transaction read-write mode after any query"): no INSERT, UPDATE, DELETE, DDL, nextval,
  large-object writes, SELECT FOR UPDATE;
- statements go with the extended query protocol (one Parse message: "cannot insert multiple
  commands into a prepared statement"), so ``COMMIT; DELETE ...`` never runs;
- a user statement is first run as a cursor (``DECLARE ... CURSOR FOR``), which PostgreSQL
  accepts only for a query (SELECT, VALUES, TABLE, WITH without data-modifying parts). What it
  refuses is sent again only if it starts with EXPLAIN or SHOW or with a write PostgreSQL
  refuses in a read-only transaction (INSERT, DELETE, CREATE...); other commands (DO, CALL,
  COPY, SET, LOAD, transaction control...) are refused without being sent, and an unknown
  first word is the syntax error PostgreSQL found in the cursor;
- under ``SET LOCAL ROLE scraper_reader`` when the reader may take that role: a role with no
  login that is only a member of ``pg_read_all_data``. A superuser reader creates it the first
  time (the only change a reader makes, cluster-wide, once); an administrator can create it
  for other users (``CREATE ROLE scraper_reader NOLOGIN; GRANT pg_read_all_data TO
  scraper_reader; GRANT scraper_reader TO <user>``). Under it, functions and commands that
  reach the server's files or other sessions are denied: pg_read_file, pg_ls_dir, lo_export,
  COPY TO a file or program, pg_terminate_backend/pg_cancel_backend of other roles' sessions;
- ``SET LOCAL statement_timeout`` bounds a statement.

What this cannot stop: a session authenticated as a superuser can always take its rights back
(``set_config('role', ...)`` or ``set_config('session_authorization', ...)`` are checked
against the authenticated user); a statement crafted to do so and then run SQL dynamically in
the same statement (``query_to_xml('...')``) reads server files with the superuser's rights.
It still writes nothing to the database (the read-only transaction holds). A user holding a
superuser's URL can do that with psql anyway; give readers a non-superuser role.
"""

import contextlib
import json
import re
from datetime import UTC, date, datetime, time

import orjson
import psycopg
from psycopg import errors, postgres
from psycopg.adapt import Buffer, Loader
from psycopg.types.datetime import TimestamptzLoader

READER_ROLE = "scraper_reader"
STATEMENT_TIMEOUT_S = 30.0
# One set_config per setting, in a SELECT: it takes the transaction's snapshot before the user's
# statement, and SET LOCAL would need the values in the text.
GUARD = (
    "SELECT set_config('statement_timeout', %s, true), set_config('role', %s, true), "
    "set_config('TimeZone', 'UTC', true)"
)
# What may be sent when PostgreSQL refuses a statement as a cursor: reports, and the writes a
# read-only transaction refuses (sent so that PostgreSQL's refusal is the answer).
_SENT_AGAIN = frozenset(
    {
        "EXPLAIN", "SHOW", "SELECT", "WITH", "VALUES", "TABLE", "INSERT", "UPDATE", "DELETE",
        "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "REINDEX",
        "CLUSTER", "REFRESH", "LOCK", "SECURITY", "IMPORT",
    }
)  # fmt: skip
# Commands that never reach the server from a reader (they run code, touch files or sessions,
# or control the transaction): refused as they are named.
_NOT_SENT = frozenset(
    {
        "DO", "CALL", "COPY", "SET", "RESET", "LOAD", "BEGIN", "START", "COMMIT", "END",
        "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE", "EXECUTE", "DEALLOCATE",
        "DISCARD", "LISTEN", "UNLISTEN", "NOTIFY", "CHECKPOINT", "VACUUM", "ANALYZE", "ANALYSE",
        "DECLARE", "FETCH", "MOVE", "CLOSE", "REASSIGN",
    }
)  # fmt: skip
_FIRST_WORD = re.compile(r"(?:\s|\(|--[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))*([A-Za-z_]*)")


def first_keyword(sql: str) -> str:
    """The statement's first word, upper case, after comments and parentheses."""
    match = _FIRST_WORD.match(sql)
    return match.group(1).upper() if match else ""


def may_send_again(sql: str) -> bool:
    """May a statement PostgreSQL refused as a cursor be sent as it is (see the module doc)?"""
    return first_keyword(sql) in _SENT_AGAIN


def never_sent(sql: str) -> bool:
    """Is the statement a command no reader sends (see the module doc)?"""
    return first_keyword(sql) in _NOT_SENT


async def reader_role(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> str:
    """The role user statements run under: READER_ROLE when this session may take it (created
    here if the session is a superuser's and it does not exist yet), else ``none``: the
    session's own, as for a plain role owning the crawl on a cluster without READER_ROLE (its
    statements are as read-only; only signalling its own other sessions is not denied). Runs
    outside any transaction (autocommit)."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT rolsuper, EXISTS (SELECT FROM pg_roles WHERE rolname = %s) "
            "FROM pg_roles WHERE rolname = current_user",
            (READER_ROLE,),
        )
        row = await cur.fetchone()
        superuser, exists = (bool(row[0]), bool(row[1])) if row else (False, False)
        if superuser and not exists:
            with contextlib.suppress(errors.DuplicateObject, errors.UniqueViolation):
                await cur.execute(f"CREATE ROLE {READER_ROLE} NOLOGIN")  # a race
            await cur.execute(f"GRANT pg_read_all_data TO {READER_ROLE}")
        elif not exists:
            return "none"
        try:
            await cur.execute(f"SET ROLE {READER_ROLE}")
        # not a member (42501); the role dropped meanwhile: SET ROLE says 22023, not 42704
        except (errors.InsufficientPrivilege, errors.InvalidParameterValue, errors.UndefinedObject):
            return "none"
        await cur.execute("RESET ROLE")
    return READER_ROLE


# -- values as SQLite gives them ---------------------------------------------------------------


def iso(moment: datetime) -> str:
    """A timestamp as the engine stores it on SQLite: UTC to the millisecond
    (``...T00:00:00.000+00:00``), or to the microsecond when it has some."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return utc.isoformat(timespec="milliseconds" if utc.microsecond % 1000 == 0 else "microseconds")


class _IsoTimestamptz(TimestamptzLoader):
    def load(self, data: Buffer) -> str:  # type: ignore[override]
        return iso(super().load(data))


class _Text(Loader):
    """A value as PostgreSQL writes it."""

    def load(self, data: Buffer) -> str:
        return bytes(data).decode()


class _JsonText(Loader):
    """JSON as the SQLite store keeps it: objects (``data``) as PostgreSQL writes them, which
    is Python's ``json.dumps`` spacing; arrays (``links``) compact, as orjson writes them. Only
    key order can differ: jsonb keeps an object's keys shortest first."""

    def load(self, data: Buffer) -> str:
        text = bytes(data).decode()
        return orjson.dumps(orjson.loads(text)).decode() if text.startswith("[") else text


class _Number(Loader):
    """numeric as SQLite's numbers: an int when it has no fraction, else a float."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


def use_sqlite_values(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
    """Load timestamptz as ISO text, json/jsonb as JSON text and numeric as int or float."""
    conn.adapters.register_loader("interval", _Text)
    conn.adapters.register_loader("timestamptz", _IsoTimestamptz)
    conn.adapters.register_loader("json", _JsonText)
    conn.adapters.register_loader("jsonb", _JsonText)
    conn.adapters.register_loader("numeric", _Number)


_PLAIN_TYPES = (
    "int2", "int4", "int8", "oid", "float4", "float8", "numeric", "text", "varchar", "bpchar",
    "name", "char", "bytea", "bool", "json", "jsonb", "timestamptz", "unknown",
)  # fmt: skip
PLAIN_OIDS = frozenset(info.oid for name in _PLAIN_TYPES if (info := postgres.types.get(name)))


def plain(value: object) -> object:
    """A value of any other type (dates, intervals, arrays, uuid...) as text or JSON text."""
    if value is None or isinstance(value, int | float | str | bytes):
        return value
    if isinstance(value, datetime | date | time):
        return iso(value) if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
