"""The SQL text of the crawl's writes and claims (SQLite's dialect), used by :mod:`.store`.

Batches pass their rows as one JSON array unpacked by ``json_each``: one statement per table per
batch, whatever its size.
"""

from scraper.storage.sqlite.metadata import INSERT_METADATA
from scraper.storage.versionorder import latest_version

# A sink batch is written with one statement per table, its rows passed as one JSON array and
# unpacked by json_each: SQLite then inserts them all in one call that runs without the GIL.
# (executemany binds each row in Python, taking the GIL back once per row: with the event loop
# busy in the main thread, that cost 3x the SQL itself.)
PAGE_COLUMNS = (
    "url, final_url, status, content_type, title, description, text, depth, fetched_at, "
    "elapsed_ms, size_bytes, data, links, host, etag, last_modified, body_hash, content_hash, "
    "checked_at, revisit_s, next_visit_at"
)
_PAGE_VALUES = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(21))
# A page's content replaced (a new page, or a revisit that found it changed; not by a capture
# older than the stored one: versions are ordered by fetch time, DESIGN.md 3): changed_at moves
# only when its content hash does (a page written twice after a crash stays unchanged).
UPSERT_PAGE = f"""
INSERT INTO pages ({PAGE_COLUMNS}, changed_at)
SELECT {_PAGE_VALUES}, json_extract(value, '$[18]')
FROM json_each(?) WHERE true
ON CONFLICT (url) DO UPDATE SET
    final_url = excluded.final_url, status = excluded.status,
    content_type = excluded.content_type, title = excluded.title,
    description = excluded.description, text = excluded.text, depth = excluded.depth,
    fetched_at = excluded.fetched_at, elapsed_ms = excluded.elapsed_ms,
    size_bytes = excluded.size_bytes, data = excluded.data, links = excluded.links,
    etag = excluded.etag, last_modified = excluded.last_modified,
    body_hash = excluded.body_hash, checked_at = excluded.checked_at,
    revisit_s = excluded.revisit_s, next_visit_at = excluded.next_visit_at,
    changed_at = CASE WHEN pages.content_hash IS excluded.content_hash THEN pages.changed_at
                      ELSE excluded.changed_at END,
    content_hash = excluded.content_hash
WHERE pages.fetched_at <= excluded.fetched_at
"""
# The same page rows (before UPSERT_PAGE): a version for each whose content differs from its
# URL's version fetched last before it (none for a re-fetch of the same content, nor for a URL
# first seen gone); an older capture imported later is compared with what preceded it in time.
INSERT_VERSIONS = """
INSERT INTO versions (url, fetched_at, status, change, content_type, content_hash, title,
    description, text, data)
SELECT p.url, p.fetched_at, p.status,
       CASE WHEN latest.id IS NULL THEN 'new' WHEN p.status IN (404, 410) THEN 'removed'
            ELSE 'changed' END,
       p.content_type, p.content_hash, p.title, p.description, p.text, p.data
FROM (SELECT json_extract(value, '$[0]') AS url, json_extract(value, '$[8]') AS fetched_at,
             json_extract(value, '$[2]') AS status, json_extract(value, '$[17]') AS content_hash,
             json_extract(value, '$[3]') AS content_type,
             json_extract(value, '$[4]') AS title, json_extract(value, '$[5]') AS description,
             json_extract(value, '$[6]') AS text, json_extract(value, '$[11]') AS data
      FROM json_each(?)) AS p
LEFT JOIN versions AS latest ON latest.id = (
    SELECT v.id FROM versions AS v WHERE v.url = p.url AND v.fetched_at <= p.fetched_at
    ORDER BY v.fetched_at DESC, v.id DESC LIMIT 1)
WHERE CASE WHEN latest.id IS NULL THEN p.status NOT IN (404, 410)
           ELSE latest.content_hash IS NOT p.content_hash END
"""
# [[url, markdown, [[seq, heading, markdown, tokens, hash], ...]], ...] (after INSERT_VERSIONS):
# each page's main content and chunks for its URL's latest version, one kept per version (a page
# written twice stays one); none for a URL without a version.
INSERT_CONTENTS = """
INSERT OR IGNORE INTO contents (version_id, url, markdown)
SELECT (SELECT max(id) FROM versions WHERE url = json_extract(value, '$[0]')),
       json_extract(value, '$[0]'), json_extract(value, '$[1]')
FROM json_each(?)
"""
# Each page's URL, version and chunk array are read once ("LIMIT -1" keeps the subquery from
# being flattened into the join, which read them from the page's whole JSON again for each chunk:
# 80 -> 60 us a bench page).
INSERT_CHUNKS = """
INSERT OR IGNORE INTO chunks (version_id, seq, url, heading, markdown, tokens, hash)
SELECT page.version_id, json_extract(c.value, '$[0]'), page.url,
       json_extract(c.value, '$[1]'), json_extract(c.value, '$[2]'),
       json_extract(c.value, '$[3]'), json_extract(c.value, '$[4]')
FROM (SELECT json_extract(value, '$[0]') AS url, json_extract(value, '$[2]') AS chunks,
             (SELECT max(id) FROM versions WHERE url = json_extract(value, '$[0]')) AS version_id
      FROM json_each(?) LIMIT -1) AS page, json_each(page.chunks) AS c
"""
# A body for the latest version of its URL (params: url, charset, body, url); one kept per
# version.
INSERT_BODY = """
INSERT OR IGNORE INTO bodies (version_id, url, charset, body)
SELECT max(id), ?, ?, ? FROM versions WHERE url = ? HAVING max(id) IS NOT NULL
"""
# [[url, checked_at, etag, last_modified, body_hash, revisit_s, next_visit_at], ...]: revisits
# that found their page unchanged.
CHECKED = """
UPDATE pages SET checked_at = json_extract(row.value, '$[1]'),
    etag = json_extract(row.value, '$[2]'), last_modified = json_extract(row.value, '$[3]'),
    body_hash = coalesce(json_extract(row.value, '$[4]'), body_hash),
    revisit_s = json_extract(row.value, '$[5]'), next_visit_at = json_extract(row.value, '$[6]')
FROM json_each(?) AS row WHERE pages.url = json_extract(row.value, '$[0]')
"""
# How many of a batch's pages (its UPSERT_PAGE rows) are stored already: revisits, not new.
STORED_OF_BATCH = """
SELECT count(*) FROM pages WHERE url IN (SELECT json_extract(value, '$[0]') FROM json_each(?))
"""
# Stored pages back to pending for a revisit ({where}: which pages), in one statement.
SCHEDULE = """
UPDATE frontier SET state = 'pending', attempts = 0, last_error = NULL
WHERE state IN ('done', 'failed') AND url IN (SELECT url FROM pages WHERE {where})
"""
# Failed URLs back to pending (resume --retry-failed): those whose last_error is in the JSON
# array given twice, or all of them when it is empty.
RETRY_FAILED = """
UPDATE frontier SET state = 'pending', attempts = 0, last_error = NULL
WHERE state = 'failed' AND (? = '[]' OR last_error IN (SELECT value FROM json_each(?)))
"""
# [[depth, [[url, host], ...]], ...]: the new URLs of a batch's pages, or seeds (add_urls)
INSERT_NEW_URLS = """
INSERT OR IGNORE INTO frontier (url, host, depth)
SELECT json_extract(url.value, '$[0]'), json_extract(url.value, '$[1]'),
       json_extract(page.value, '$[0]')
FROM json_each(?) AS page, json_each(page.value, '$[1]') AS url
"""
# [[url, host, depth], ...]: where followed redirects ended, content stored under the first URL;
# done, so a link to one later is not fetched again (pending ones are not claimed yet).
REDIRECT_TARGETS_DONE = """
INSERT INTO frontier (url, host, depth, state)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), 'done'
FROM json_each(?) WHERE true
ON CONFLICT (url) DO UPDATE SET state = 'done' WHERE state = 'pending'
"""
# [[id, state, attempts, last_error], ...]
FINISH = """
UPDATE frontier SET state = json_extract(row.value, '$[1]'),
    attempts = json_extract(row.value, '$[2]'), last_error = json_extract(row.value, '$[3]')
FROM json_each(?) AS row WHERE frontier.id = json_extract(row.value, '$[0]')
"""
# -- a sink batch in one statement ---------------------------------------------------------
# INSERT INTO batch (pages, checked, targets, found, finished) VALUES (?, ?, ?, ?, ?): an
# INSTEAD OF trigger on this connection's temporary view runs the batch's statements above, each
# reading its JSON rows from the inserted column (NULL: none). One trip to the connection's
# thread instead of up to eight (BEGIN, six statements, COMMIT), each of which waited for a
# turn of the busy event loop; one statement is also a transaction of its own. Made when the
# store opens (nothing in the file: TEMP objects live and die with the connection).


def _reading(sql: str, column: str) -> str:
    """``sql`` with its rows from the inserted row's ``column`` instead of its parameter."""
    if sql.count("json_each(?)") != 1:
        raise ValueError("a batch statement reads exactly one JSON parameter")
    return sql.replace("json_each(?)", f"json_each(NEW.{column})").strip() + ";\n"


BATCH_COLUMNS = ("pages", "contents", "checked", "targets", "found", "finished", "metadata")
BATCH_WRITER = (
    f"CREATE TEMP VIEW batch ({', '.join(BATCH_COLUMNS)}) AS SELECT "
    + ", ".join(["NULL"] * len(BATCH_COLUMNS))
    + ";"
    "CREATE TEMP TRIGGER batch_write INSTEAD OF INSERT ON batch BEGIN\n"
    + _reading(INSERT_VERSIONS, "pages")  # before the pages: compared with the latest
    + _reading(INSERT_CONTENTS, "contents")  # after the versions: for the latest
    + _reading(INSERT_CHUNKS, "contents")
    + _reading(INSERT_METADATA, "metadata")  # after the versions: for the latest
    + _reading(UPSERT_PAGE, "pages")
    + _reading(CHECKED, "checked")
    + _reading(REDIRECT_TARGETS_DONE, "targets")  # before the new URLs: a target stays done
    + _reading(INSERT_NEW_URLS, "found")
    + _reading(FINISH, "finished")
    + "END;"
)
WRITE_BATCH = f"INSERT INTO batch VALUES ({', '.join('?' * len(BATCH_COLUMNS))})"

# -- claims: the chosen rows read as one JSON value, then marked in_progress by id ----------
# One value, not a row each: each step of a statement retakes the GIL in the connection's
# thread, and behind a busy event loop 256 rows (UPDATE ... RETURNING) cost a claim ~20 ms
# where SQLite needs ~2. With each URL, what the last visit of its stored page left (revisits).
CLAIM = (
    "SELECT json_group_array(json_array(f.id, f.url, f.host, f.depth, f.attempts, p.id, "
    "p.etag, p.last_modified, p.body_hash, p.content_hash, p.revisit_s)) "
    "FROM frontier AS f LEFT JOIN pages AS p ON p.url = f.url WHERE f.id IN ("
)
CLAIMED = ")"
# [id, ...]: the URLs a claim read, claimed (in the claim's hold of the connection: nothing else
# writes the frontier between the two, the crawl lock keeping other processes out).
MARK_CLAIMED = (
    "UPDATE frontier SET state = 'in_progress' WHERE id IN (SELECT value FROM json_each(?))"
)
CLAIM_IN_ORDER = (
    f"{CLAIM}SELECT id FROM frontier WHERE state = 'pending' ORDER BY depth, id LIMIT ?{CLAIMED}"
)
# The first pending URLs in order (at most CLAIM_SCAN), less those of full hosts; {not_in}: (?, ...)
CLAIM_SCANNED = (
    CLAIM + "SELECT id FROM (SELECT id, host, depth FROM frontier WHERE state = 'pending' "
    "ORDER BY depth, id LIMIT ?) WHERE host NOT IN {not_in} ORDER BY depth, id LIMIT ?" + CLAIMED
)
CLAIM_SCAN = 4096  # ~0.4 ms of SQLite
# One host's shallowest pending URLs (params: host, limit): an arm of a claim's UNION ALL.
HOST_PENDING = (
    "SELECT * FROM (SELECT id FROM frontier WHERE state = 'pending' AND host = ? "
    "ORDER BY depth, id LIMIT ?)"
)
# Distinct hosts with pending URLs, each found by one seek past the previous one (a loose index
# scan of frontier_pending_host): cost ~ hosts returned x log(pending), whatever their URLs.
PENDING_HOSTS = """
WITH RECURSIVE hosts (host) AS (
    SELECT min(host) FROM frontier WHERE state = 'pending'
    UNION ALL
    SELECT (SELECT min(host) FROM frontier WHERE state = 'pending' AND host > hosts.host)
    FROM hosts WHERE hosts.host IS NOT NULL
    LIMIT ?
)
SELECT host FROM hosts WHERE host IS NOT NULL
"""
CLAIM_HOSTS = 64  # hosts a claim that leaves some out draws from (SQLite allows 500 arms)
# The same walk from just after a host (params: host, limit): claims with a cap per host take
# hosts in turn from where the previous claim stopped, so every host gets its turn.
PENDING_HOSTS_AFTER = """
WITH RECURSIVE hosts (host) AS (
    SELECT (SELECT min(host) FROM frontier WHERE state = 'pending' AND host > ?)
    UNION ALL
    SELECT (SELECT min(host) FROM frontier WHERE state = 'pending' AND host > hosts.host)
    FROM hosts WHERE hosts.host IS NOT NULL
    LIMIT ?
)
SELECT host FROM hosts WHERE host IS NOT NULL
"""
HOST_WALK = 256  # hosts read per step of that walk

PARSED_PAGE = (
    "p.content_type IN ('text/html', 'application/xhtml+xml') AND p.status BETWEEN 200 AND 299"
)
BODIES_PAGE = (
    "SELECT b.version_id, b.url, p.final_url, b.charset, b.body FROM bodies b "
    "JOIN pages p USING (url) JOIN versions v ON v.id = b.version_id "
    "WHERE b.version_id > ? AND v.status BETWEEN 200 AND 299 "
    "AND v.content_type IN ('text/html', 'application/xhtml+xml', 'application/pdf') "
    "ORDER BY b.version_id LIMIT ?"
)

TALLY = """
SELECT state, CASE state WHEN 'failed' THEN coalesce(last_error, 'unknown') END, count(*)
FROM frontier GROUP BY 1, 2
"""

# Is any URL left to fetch or being fetched? (scans the frontier when none is: at the end only)
UNFINISHED = "SELECT 1 FROM frontier WHERE state IN ('pending', 'in_progress') LIMIT 1"

# reparse: a version parsed again (params: title, description, text, data, content_hash, id),
# and its page when it is the URL's latest (params: ..., links, content_hash, url, version id).
REPARSED_VERSION = (
    "UPDATE versions SET title = ?, description = ?, text = ?, data = ?, content_hash = ? "
    "WHERE id = ?"
)
REPARSED_PAGE = (
    "UPDATE pages SET title = ?1, description = ?2, text = ?3, data = ?4, links = ?5, "
    f"content_hash = ?6 WHERE url = ?7 AND {latest_version('?7')} = ?8"
)
# reparse: a version's main content parsed again (params: version id, url, markdown), its
# chunks replaced (DELETE: version id; INSERT: version id, seq, url, heading, markdown, tokens,
# hash).
REPARSED_CONTENT = (
    "INSERT INTO contents (version_id, url, markdown) VALUES (?, ?, ?) "
    "ON CONFLICT (version_id) DO UPDATE SET markdown = excluded.markdown"
)
REPARSED_CHUNKS_GONE = "DELETE FROM chunks WHERE version_id = ?"
REPARSED_CHUNK = "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?)"
