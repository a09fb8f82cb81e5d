"""The schema of a crawl database on PostgreSQL (the same tables and columns as SQLite's, in
PostgreSQL's types), and the tables only a shared crawl needs: ``hosts`` (leases) and
``workers`` (registrations and status).

Differences from the SQLite schema, for people writing SQL against both:
- ``pages.fetched_at`` is ``timestamptz``; ``pages.data`` and ``pages.links`` are ``jsonb``
  (``data->>'price'``, ``jsonb_array_elements_text(links)``), ``links`` a view as on SQLite.
- Full-text search is a stored ``tsvector`` column, ``pages.search`` (title weighted A, text B,
  the ``simple`` configuration: no stemming, any language), with a GIN index; SQLite has the
  FTS5 table ``pages_fts`` instead.
- ``meta`` holds ``schema_version`` and ``settings``; each worker's status is a row of
  ``workers`` (SQLite has one ``meta.status``).
"""

from scraper.storage.captures import captures_ddl
from scraper.storage.contents import contents_ddl
from scraper.storage.cookies import cookies_ddl
from scraper.storage.postgres.metadata import METADATA
from scraper.storage.proxyhealth import proxy_health_ddl
from scraper.storage.rendered import RENDERED_COLUMN
from scraper.storage.revisits import revisit_columns, versions_ddl
from scraper.storage.versionorder import VERSION_ORDER_SCHEMA

# The SQLite schema's version this one matches (columns of pages, frontier); 7: contents;
# 8: metadata (postgres.metadata); 9: the cookies table; 10: captures;
# 11: proxy_health; 12: pages.rendered; 13: the views by fetch time (storage.versionorder)
SCHEMA_VERSION = VERSION_ORDER_SCHEMA

# The schema's types, by the kinds the revisit tables' columns name (storage.revisits).
_TYPES = {"id": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "text": "text"}
_TYPES |= {"time": "timestamptz", "seconds": "double precision", "int": "integer", "json": "jsonb"}
REVISIT_COLUMNS = revisit_columns(_TYPES)  # of pages (schema 6)
VERSIONS = versions_ddl(_TYPES)
BODIES = """
CREATE TABLE bodies (  -- one raw body per version (--store-html)
    version_id bigint PRIMARY KEY,
    url        text NOT NULL,
    charset    text,
    body       bytea NOT NULL
);
CREATE INDEX bodies_url ON bodies (url);
"""
CONTENTS = contents_ddl({"bigint": "bigint", "int": "integer", "text": "text"})
COOKIES = cookies_ddl({"bigint": "bigint", "int": "integer", "text": "text"})
PROXY_HEALTH = proxy_health_ddl({"bigint": "bigint", "text": "text"})
CAPTURES = captures_ddl(
    {"id": "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "bigint": "bigint"}
    | {"int": "integer", "text": "text", "blob": "bytea"}
)

SCHEMA = (
    """
CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE frontier (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url        text NOT NULL UNIQUE,
    host       text NOT NULL,
    depth      integer NOT NULL,
    state      text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'in_progress', 'done', 'failed', 'blocked')),
    attempts   integer NOT NULL DEFAULT 0,
    last_error text,
    claimed_by text  -- the worker holding an in_progress URL
);
-- A host's pending URLs shallowest first (claims), and the hosts with work left (leasing).
CREATE INDEX frontier_pending_host ON frontier (host, depth, id) WHERE state = 'pending';
CREATE INDEX frontier_claimed ON frontier (claimed_by, host) WHERE state = 'in_progress';
-- One row per host ever added. A worker fetches only from hosts it holds a lease on:
-- owner/lease_until (the database's clock). next_at: no request to the host may start before
-- it (recorded at every renewal and at release); gap_s: the host's spacing between request
-- starts as its last owner applied it (delay, Crawl-delay, autothrottle), so that a worker
-- taking the host over from a dead one keeps it.
CREATE TABLE hosts (
    host        text PRIMARY KEY,
    owner       text,
    lease_until timestamptz,
    next_at     timestamptz NOT NULL DEFAULT '-infinity',
    gap_s       double precision NOT NULL DEFAULT 0
);
CREATE INDEX hosts_owner ON hosts (owner) WHERE owner IS NOT NULL;
-- Hosts in the order claims lease them (due first): a claim reads the first free ones with
-- pending URLs, not every host.
CREATE INDEX hosts_next ON hosts (next_at, host);
CREATE TABLE workers (
    name         text PRIMARY KEY,  -- hostname:pid
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    status       text,  -- the worker's last status snapshot (JSON)
    ended_at     timestamptz,  -- when it left the crawl (NULL: it has not, or it died)
    end_error    text  -- what ended it, if an error did
);
CREATE TABLE pages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url          text NOT NULL UNIQUE,
    final_url    text NOT NULL,
    status       integer NOT NULL,
    content_type text NOT NULL,
    title        text,
    description  text,
    text         text,
    depth        integer NOT NULL,
    fetched_at   timestamptz NOT NULL,
    elapsed_ms   integer NOT NULL,
    size_bytes   integer NOT NULL,
    data         jsonb,  -- the [extract] fields, NULL when none matched
    links        jsonb,  -- array of the page's links (absolute, normalized) or NULL
    host         text,
"""
    + "".join(f"    {name} {kind},\n" for name, kind in REVISIT_COLUMNS)
    + """    search       tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', coalesce(title, '')), 'A')
        || setweight(to_tsvector('simple', coalesce(text, '')), 'B')
    ) STORED
);
CREATE INDEX pages_host ON pages (host);
CREATE INDEX pages_search ON pages USING gin (search);
"""
    + VERSIONS
    + """
CREATE VIEW links (from_url, to_url) AS
SELECT p.url, l.value FROM pages AS p, jsonb_array_elements_text(p.links) AS l(value);
"""
    + BODIES
    + CONTENTS
    + METADATA
    + COOKIES
    + CAPTURES
    + PROXY_HEALTH
    + RENDERED_COLUMN
)
MARK_RENDERED = tuple(  # rendered, not rendered
    f"UPDATE pages SET rendered = {value} WHERE url = ANY(%s::text[])" for value in (1, 0)
)
