"""Quick, blocking looks at a PostgreSQL crawl database, for callers outside an event loop."""

import psycopg

from scraper.storage.postgres.connect import connect_error, conninfo_for
from scraper.storage.reading import HEARTBEAT_DEAD_S

# A worker that left the crawl is not running, whatever its heartbeat (the end column through
# to_jsonb: a database made before it has none, see readstore).
_LIVE = """
SELECT EXISTS (SELECT FROM workers w WHERE heartbeat_at > clock_timestamp() - %s::interval
               AND to_jsonb(w) ->> 'ended_at' IS NULL)
"""


def _connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(conninfo_for(url), autocommit=True)
    except psycopg.Error as exc:
        raise connect_error(url, exc) from None


def crawl_exists(url: str) -> bool:
    """Does the database at ``url`` hold a crawl's tables (its ``meta`` table)? StoreError if
    the server cannot be reached."""
    with _connect(url) as conn:
        row = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    return bool(row and row[0])


def crawl_running(url: str) -> bool:
    """Has any worker of the crawl at ``url`` that has not left it sent a heartbeat in the last
    HEARTBEAT_DEAD_S (by the database's clock)? False for a database without workers (no crawl
    yet); StoreError if the server cannot be reached."""
    with _connect(url) as conn:
        try:
            row = conn.execute(_LIVE, (f"{HEARTBEAT_DEAD_S} seconds",)).fetchone()
        except psycopg.Error:  # no workers table: not a crawl database (yet)
            return False
    return bool(row and row[0])
