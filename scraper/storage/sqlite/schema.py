"""The crawl database's schema, its version, and the migrations from older versions.

Part of the storage layer (only ``store`` and ``readstore`` use it). A database records its
version in ``meta.schema_version`` and is marked with ``PRAGMA application_id``. A crawl opening
an older database migrates it in one transaction; a newer one is refused.
"""

from scraper.storage.captures import captures_ddl
from scraper.storage.contents import MARKDOWN_VIEW, contents_ddl
from scraper.storage.cookies import cookies_ddl
from scraper.storage.metadata import METADATA_VIEW
from scraper.storage.proxyhealth import proxy_health_ddl
from scraper.storage.rendered import RENDERED_COLUMN
from scraper.storage.revisits import (
    BODIES_OF_VERSIONS,
    FIRST_VERSIONS,
    revisit_columns,
    versions_ddl,
)
from scraper.storage.sqlite.metadata import METADATA
from scraper.storage.versionorder import VERSION_ORDER_SCHEMA, reordered_views

SCHEMA_VERSION = VERSION_ORDER_SCHEMA
REVISITS_SCHEMA = 6  # versions, changes, the revisit columns of pages
# 7 (CONTENTS_SCHEMA): contents, chunks and the pages_markdown view (storage.contents)
# 8 (METADATA_SCHEMA): metadata and the pages_metadata view (storage.metadata)
# 9 (COOKIES_SCHEMA): the cookies table, the session's jar (storage.cookies)
# 10 (CAPTURES_SCHEMA): captures, each fetch's hops as received (--archive; storage.captures)
# 11 (PROXY_HEALTH_SCHEMA): proxy_health (storage.proxyhealth)
# 12 (RENDERED_SCHEMA): pages.rendered (storage.rendered)
# 13 (VERSION_ORDER_SCHEMA): the views by fetch time (storage.versionorder)
APPLICATION_ID = 0x53435250  # "SCRP": marks the file as a crawl database

# Full-text index over pages(title, text), kept in step by triggers (FTS5 external content).
# `content="pages"` is spelled the way datasette and sqlite-utils look for it (their detect_fts
# matches `content="pages"` or `content=[pages]`, not `content = 'pages'`), so datasette offers
# `?_search=` on the pages table.
_FTS_TABLE = """
CREATE VIRTUAL TABLE pages_fts USING fts5(
    title, text, content="pages", content_rowid="id",
    tokenize = 'unicode61 remove_diacritics 2'
);
"""
_FTS_TRIGGERS = """
CREATE TRIGGER pages_fts_insert AFTER INSERT ON pages BEGIN
    INSERT INTO pages_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER pages_fts_delete AFTER DELETE ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER pages_fts_update AFTER UPDATE OF title, text ON pages BEGIN
    INSERT INTO pages_fts (pages_fts, rowid, title, text)
    VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO pages_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
"""
_FTS = _FTS_TABLE + _FTS_TRIGGERS
_FTS_REBUILD = "INSERT INTO pages_fts (pages_fts) VALUES ('rebuild');"

# The link graph as rows, one per (page, link): a view over pages.links, so a page's links are
# written as one value (not one B-tree insert each) and `WHERE from_url = ?` still uses the
# pages.url index.
_LINKS_VIEW = """
CREATE VIEW links (from_url, to_url) AS
SELECT p.url, l.value FROM pages AS p, json_each(p.links) AS l;
"""

# Pending URLs by host: claims that leave out hosts whose queue is full find the other hosts by
# skipping from one host to the next in this index, instead of reading the left-out hosts' rows.
_PENDING_BY_HOST = """
CREATE INDEX frontier_pending_host ON frontier (host, depth, id) WHERE state = 'pending';
"""

# Raw bodies (--store-html), zlib-compressed, one per version of a page, for `scraper reparse`:
# created by the first batch that has one, so a crawl without --store-html has no such table.
BODIES = """
CREATE TABLE IF NOT EXISTS bodies (
    version_id INTEGER PRIMARY KEY,  -- versions.id
    url        TEXT NOT NULL,
    charset    TEXT,
    body       BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS bodies_url ON bodies (url);
"""

# The schema's types, by the kinds the revisit tables' columns name (storage.revisits).
_TYPES = {"id": "INTEGER PRIMARY KEY", "text": "TEXT", "time": "TEXT", "seconds": "REAL"}
_TYPES |= {"int": "INTEGER", "json": "TEXT"}
_VERSIONS = versions_ddl(_TYPES)
_REVISIT_COLUMNS = revisit_columns(_TYPES)
_CONTENTS = contents_ddl({"bigint": "INTEGER", "int": "INTEGER", "text": "TEXT"})
_COOKIES = cookies_ddl({"bigint": "INTEGER", "int": "INTEGER", "text": "TEXT"})
_PROXY_HEALTH = proxy_health_ddl({"bigint": "INTEGER", "text": "TEXT"})
_CAPTURES = captures_ddl(
    {"id": "INTEGER PRIMARY KEY", "bigint": "INTEGER", "int": "INTEGER", "text": "TEXT"}
    | {"blob": "BLOB"}
)


# (No comma in a comment before the last column: SQLite's DROP COLUMN cuts at the last comma it
# finds before the column, comment or not.)

# Pages by host (stats, "pages per host"): an index instead of a join with frontier.
_PAGES_BY_HOST = """
CREATE INDEX pages_host ON pages (host);
"""

# The host[:port] of a normalized URL in SQL, as scraper.urls.url_host computes it: what lies
# between "//" and the next "/" (or the end).
_AFTER_SCHEME = "substr(url, instr(url, '//') + 2)"
_HOST_OF_URL = f"substr({_AFTER_SCHEME}, 1, instr({_AFTER_SCHEME} || '/', '/') - 1)"

SCHEMA = (
    """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE frontier (
    id         INTEGER PRIMARY KEY,
    url        TEXT NOT NULL UNIQUE,
    host       TEXT NOT NULL,
    depth      INTEGER NOT NULL,
    state      TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'in_progress', 'done', 'failed', 'blocked')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX frontier_pending ON frontier (depth, id) WHERE state = 'pending';
"""
    + _PENDING_BY_HOST
    + """
CREATE TABLE pages (
    id           INTEGER PRIMARY KEY,
    url          TEXT NOT NULL UNIQUE,
    final_url    TEXT NOT NULL,
    status       INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    title        TEXT,
    description  TEXT,
    text         TEXT,
    depth        INTEGER NOT NULL,
    fetched_at   TEXT NOT NULL,
    elapsed_ms   INTEGER NOT NULL,
    size_bytes   INTEGER NOT NULL,
    data         TEXT,  -- JSON object of the [extract] fields, NULL when none matched
    links        TEXT,  -- JSON array of the page links (absolute and normalized) or NULL
    host         TEXT,  -- host[:port] of the URL as in frontier.host
"""
    + ",\n".join(f"    {name} {kind}" for name, kind in _REVISIT_COLUMNS)
    + """
);
"""
    + _PAGES_BY_HOST
    + _VERSIONS
    + _LINKS_VIEW
    + _FTS
    + _CONTENTS
    + METADATA
    + _COOKIES
    + _CAPTURES
    + _PROXY_HEALTH
    + RENDERED_COLUMN
)
MARK_RENDERED = "UPDATE pages SET rendered = ? WHERE url IN (SELECT value FROM json_each(?))"

# MIGRATIONS[n] turns a version-n database into version n + 1.
MIGRATIONS = {
    1: "ALTER TABLE pages ADD COLUMN data TEXT;" + _FTS + _FTS_REBUILD,
    2: """
ALTER TABLE pages ADD COLUMN links TEXT;
UPDATE pages SET links = (SELECT json_group_array(to_url) FROM links WHERE from_url = pages.url)
WHERE url IN (SELECT from_url FROM links);
DROP TABLE links;
"""
    + _LINKS_VIEW,
    3: _PENDING_BY_HOST,
    # pages_fts declared as datasette recognises it (the index rebuilt under the new
    # declaration); pages.host, filled from each URL, and its index.
    4: "DROP TRIGGER pages_fts_insert; DROP TRIGGER pages_fts_delete;"
    "DROP TRIGGER pages_fts_update; DROP TABLE pages_fts;"
    + _FTS
    + _FTS_REBUILD
    + f"ALTER TABLE pages ADD COLUMN host TEXT; UPDATE pages SET host = {_HOST_OF_URL};"
    + _PAGES_BY_HOST,
    # Revisits: the new columns of pages (hashes from the stored content, by the Python
    # function the store registers), every page its first version, bodies one per version.
    5: "".join(f"ALTER TABLE pages ADD COLUMN {name} {kind};" for name, kind in _REVISIT_COLUMNS)
    + """
UPDATE pages SET checked_at = fetched_at, changed_at = fetched_at,
    content_hash = scraper_content_hash(status, content_type, size_bytes, title, text, data);
"""
    + _VERSIONS
    + FIRST_VERSIONS
    + """
CREATE TABLE IF NOT EXISTS bodies (url TEXT PRIMARY KEY, charset TEXT, body BLOB NOT NULL);
ALTER TABLE bodies RENAME TO bodies_5;
"""
    + BODIES
    + BODIES_OF_VERSIONS,
    # Main content: the contents and chunks tables, empty until pages are fetched or reparsed.
    6: _CONTENTS,
    # Metadata: the metadata table and its view, empty until pages are fetched or reparsed.
    7: METADATA,
    # The session's cookie jar, empty until a crawl with cookies on saves it.
    8: _COOKIES,
    # Captures (--archive): the captures table, empty until pages are fetched with --archive.
    9: _CAPTURES,
    10: _PROXY_HEALTH,  # proxies' health: empty until a crawl goes through a proxy
    # Pages built by JavaScript: every page stored so far was fetched over HTTP.
    11: RENDERED_COLUMN,
    # Versions by fetch time: pages_markdown and pages_metadata made again.
    12: reordered_views(MARKDOWN_VIEW + METADATA_VIEW),
}
