"""The SQL text of the PostgreSQL store (used by :mod:`.store`, :mod:`.claims`, :mod:`.setup`).

A batch passes each column as one array, unpacked by ``unnest``: one statement per table per
batch, whatever its size. Leases are timed by ``statement_timestamp()``, not ``now()`` (the
transaction's start): a worker counts its lease from before it sent the statement, so the
database's end of the lease is never earlier than the worker's.
"""

from scraper.storage.versionorder import latest_version

# Advisory lock keys ("SCRP" and a number): creating the schema, and reserving the page budget.
SETUP_KEY = 0x5343_5250_0001
BUDGET_KEY = 0x5343_5250_0002
TAKE_LOCK = "SELECT pg_advisory_xact_lock(%s)"

# -- opening ------------------------------------------------------------------------------------
TABLE_COUNT = "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
HAS_META = "SELECT to_regclass('meta') IS NOT NULL"
VERSION = "SELECT value FROM meta WHERE key = 'schema_version'"
SET_VERSION = "INSERT INTO meta VALUES ('schema_version', %s)"
REGISTER = """
INSERT INTO workers (name) VALUES (%s)
ON CONFLICT (name) DO UPDATE SET started_at = now(), heartbeat_at = now()
"""
# A worker's leases given up (leaving the crawl, or a previous process of the same name found at
# opening): the next start waits for the spacing, counted from now or from the lease's end.
RELEASE_HOSTS = """
UPDATE hosts SET owner = NULL, lease_until = NULL,
    next_at = greatest(next_at, statement_timestamp() + make_interval(secs => gap_s))
WHERE owner = %s
"""
HEARTBEAT = "UPDATE workers SET heartbeat_at = now() WHERE name = %s"
PUBLISH = "UPDATE workers SET status = %s, heartbeat_at = now() WHERE name = %s"
PUT_META = """
INSERT INTO meta VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value
"""
GET_META = "SELECT value FROM meta WHERE key = %s"

# -- the frontier -------------------------------------------------------------------------------
# (urls, hosts, depths): new URLs pending, each new host a row of hosts; returns how many new
ADD_URLS = """
WITH new AS (
    INSERT INTO frontier (url, host, depth)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])
    ON CONFLICT DO NOTHING
    RETURNING host
), new_hosts AS (
    INSERT INTO hosts (host) SELECT DISTINCT host FROM new ORDER BY host
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM new
"""
IS_KNOWN = "SELECT EXISTS (SELECT 1 FROM frontier WHERE url = %s)"

# Pages stored plus URLs claimed by anyone: what --max-pages counts (under BUDGET_KEY).
BUDGET_USED = """
SELECT (SELECT count(*) FROM pages)
     + (SELECT count(*) FROM frontier WHERE state = 'in_progress')
"""
# The shallowest pending URLs of some hosts, at most %(each)s of one host, %(limit)s in all,
# claimed by %(me)s. Each host is a seek into frontier_pending_host. No row lock: a host's URLs
# are claimed only by the worker holding its lease.
_CLAIM_FROM = """
UPDATE frontier f SET state = 'in_progress', claimed_by = %(me)s
FROM (
    SELECT c.id FROM {hosts} AS h(host)
    CROSS JOIN LATERAL (
        SELECT id, depth FROM frontier
        WHERE host = h.host AND state = 'pending'
        ORDER BY depth, id LIMIT %(each)s
    ) AS c
    ORDER BY c.depth, c.id LIMIT %(limit)s
) AS picked
WHERE f.id = picked.id AND f.state = 'pending'
RETURNING f.id, f.url, f.host, f.depth, f.attempts
"""
# The hosts this worker holds (not left out) with more than %(margin_s)s of lease left: no
# other worker can take one over while this claim runs (no lock needed), and a host with less
# left may not start requests until renewed anyway.
CLAIM_HELD = """
WITH held AS (
    SELECT host FROM hosts
    WHERE owner = %(me)s AND host NOT IN (SELECT unnest(%(excluded)s::text[]))
      AND lease_until > statement_timestamp() + make_interval(secs => %(margin_s)s)
)""" + _CLAIM_FROM.format(hosts="held")
CLAIM_HOSTS = _CLAIM_FROM.format(hosts="unnest(%(hosts)s::text[])")
# Lease up to %(scan)s hosts with pending URLs, or URLs another worker claimed and left: first
# those of another worker's expired lease (a dead worker's: its claims and hosts wait on them),
# then free ones (never leased, or released) due first; as many as the claim needs: hosts whose
# pending URLs (counted up to %(cap)s each) before them in that order fall short of %(need)s.
# Returns each host, its previous owner, and the seconds to wait before its first request: its
# recorded next start, and after an expired lease its end plus the spacing (the owner may have
# started a request just before it ended).
_HAS_WORK = """
      AND host NOT IN (SELECT unnest(%(excluded)s::text[]))
      AND ((SELECT true FROM frontier f WHERE f.host = hosts.host AND f.state = 'pending'
            LIMIT 1)  -- a probe of frontier_pending_host per host (EXISTS here: a hashed scan)
           OR host IN (SELECT host FROM frontier WHERE state = 'in_progress'
                       AND claimed_by IS DISTINCT FROM %(me)s))
"""
LEASE_HOSTS = f"""
WITH orphaned AS (  -- leases of dead workers: first (hosts_owner), their claims wait on them
    SELECT host, owner, lease_until, next_at, gap_s FROM hosts
    WHERE owner IS NOT NULL AND lease_until < statement_timestamp() AND owner <> %(me)s
      {_HAS_WORK}
    ORDER BY lease_until, host LIMIT %(scan)s
    FOR UPDATE SKIP LOCKED
), free AS (  -- then free hosts, due first (hosts_next)
    SELECT host, owner, lease_until, next_at, gap_s FROM hosts
    WHERE owner IS NULL
      {_HAS_WORK}
    ORDER BY next_at, host LIMIT greatest(0, %(scan)s - (SELECT count(*) FROM orphaned))
    FOR UPDATE SKIP LOCKED
), candidates AS (
    SELECT 0 AS rank, * FROM orphaned UNION ALL SELECT 1, * FROM free
), counted AS (
    SELECT c.*, sum(n.pending) OVER (ORDER BY c.rank, c.next_at, c.host) - n.pending AS before
    FROM candidates AS c CROSS JOIN LATERAL (
        SELECT count(*) AS pending FROM (
            SELECT 1 FROM frontier f WHERE f.host = c.host AND f.state = 'pending' LIMIT %(cap)s
        ) AS p
    ) AS n
)
UPDATE hosts h SET owner = %(me)s,
    lease_until = statement_timestamp() + make_interval(secs => %(lease_s)s)
FROM counted AS c
WHERE h.host = c.host AND c.before < %(need)s
RETURNING h.host, c.owner, greatest(
    0.0,
    extract(epoch FROM greatest(c.next_at, statement_timestamp()) - statement_timestamp()),
    CASE WHEN c.owner IS NOT NULL THEN
        extract(epoch FROM c.lease_until + make_interval(secs => c.gap_s) - statement_timestamp())
    END
)::float8
"""
# (hosts, waits): hosts leased by a claim that took none of their URLs (others were shallower)
# given back at once, their next start kept.
UNLEASE = """
UPDATE hosts h SET owner = NULL, lease_until = NULL,
    next_at = statement_timestamp() + make_interval(secs => t.wait_s)
FROM unnest(%s::text[], %s::float8[]) AS t(host, wait_s)
WHERE h.host = t.host
"""
# URLs of hosts just leased that another worker claims: it held the host and is gone (its
# lease ran out) or gave the host up, so its claims are abandoned.
RESET_TAKEN = """
UPDATE frontier SET state = 'pending', claimed_by = NULL
WHERE state = 'in_progress' AND host = ANY(%(hosts)s::text[])
  AND claimed_by IS DISTINCT FROM %(me)s
"""

# -- leases -------------------------------------------------------------------------------------
# Every host this worker holds: those in %(keep)s extended, the others released; each one's
# next start and spacing recorded from (hosts, waits, gaps) (missing: no wait, spacing kept).
# Returns the hosts it held and whether each is kept. (ORDER BY host ... FOR UPDATE: the rows
# are locked in one order, as claims lock them.)
RENEW = """
WITH held AS (
    SELECT host FROM hosts WHERE owner = %(me)s ORDER BY host FOR UPDATE
), timing AS (
    SELECT * FROM unnest(%(hosts)s::text[], %(waits)s::float8[], %(gaps)s::float8[])
        AS t(host, wait_s, gap_s)
)
UPDATE hosts h SET
    owner = CASE WHEN kept THEN h.owner END,
    lease_until = CASE WHEN kept
        THEN statement_timestamp() + make_interval(secs => %(lease_s)s) END,
    next_at = statement_timestamp() + make_interval(secs => coalesce(t.wait_s, 0.0)),
    gap_s = coalesce(t.gap_s, h.gap_s)
FROM held LEFT JOIN timing AS t USING (host),
    LATERAL (SELECT held.host = ANY(%(keep)s::text[]) OR EXISTS (
        -- URLs fetched but not yet committed (in the sink's batch): the host stays this
        -- worker's, or a new owner would take them back and fetch them again
        SELECT 1 FROM frontier f
        WHERE f.claimed_by = %(me)s AND f.host = held.host AND f.state = 'in_progress'
    ) AS kept) AS k
WHERE h.host = held.host
RETURNING h.host, k.kept
"""
RELEASE_IDS = """
UPDATE frontier SET state = 'pending', claimed_by = NULL
WHERE id = ANY(%s::bigint[]) AND claimed_by = %s AND state = 'in_progress'
"""
RELEASE_MINE = """
UPDATE frontier SET state = 'pending', claimed_by = NULL
WHERE claimed_by = %s AND state = 'in_progress'
"""
# Hosts with claimed URLs and no live lease (their worker is gone), locked for the recovery.
ABANDONED_HOSTS = """
SELECT host FROM hosts
WHERE (owner IS NULL OR lease_until < statement_timestamp())
  AND host IN (SELECT host FROM frontier WHERE state = 'in_progress')
ORDER BY host FOR UPDATE SKIP LOCKED
"""
CLEAR_EXPIRED = """
UPDATE hosts SET owner = NULL, lease_until = NULL,
    next_at = greatest(next_at, lease_until + make_interval(secs => gap_s))
WHERE host = ANY(%s::text[]) AND owner IS NOT NULL
"""
RECOVER = """
UPDATE frontier SET state = 'pending', claimed_by = NULL
WHERE state = 'in_progress' AND host = ANY(%s::text[])
"""
# Is any URL left to fetch or being fetched? (two partial indexes: no scan of the frontier)
UNFINISHED = """
SELECT EXISTS (SELECT 1 FROM frontier WHERE state = 'pending')
    OR EXISTS (SELECT 1 FROM frontier WHERE state = 'in_progress')
"""
PAGE_COUNT = "SELECT count(*) FROM pages"
TALLY = """
SELECT state, CASE state WHEN 'failed' THEN coalesce(last_error, 'unknown') END, count(*)
FROM frontier GROUP BY 1, 2
"""

# -- the sink -----------------------------------------------------------------------------------
PAGE_COLUMNS = (
    "url, final_url, status, content_type, title, description, text, depth, fetched_at, "
    "elapsed_ms, size_bytes, data, links, host, etag, last_modified, body_hash, content_hash, "
    "checked_at, revisit_s, next_visit_at"
)
# each column's type, in PAGE_COLUMNS's order
_PAGE_TYPES = [
    "text", "text", "int", "text", "text", "text", "text",
    "int", "text", "int", "int", "text", "text", "text",
    "text", "text", "text", "text", "text", "float8", "text",
]  # fmt: skip
_CASTS = {"fetched_at": "::timestamptz", "data": "::jsonb", "links": "::jsonb",
          "checked_at": "::timestamptz", "next_visit_at": "::timestamptz"}  # fmt: skip
_NAMES = PAGE_COLUMNS.split(", ")
# a page fetched again replaces every column but its URL, host and content hash (unless it was
# fetched before the stored one: versions are ordered by fetch time, DESIGN.md 3); changed_at
# moves only when the content hash does (a page written twice after a crash stays unchanged)
_UPDATED = ", ".join(f"{c} = excluded.{c}" for c in _NAMES[1:] if c not in ("host", "content_hash"))
UPSERT_PAGES = f"""
INSERT INTO pages ({PAGE_COLUMNS}, changed_at)
SELECT {", ".join(c + _CASTS.get(c, "") for c in _NAMES)}, checked_at::timestamptz
FROM unnest({", ".join(f"%s::{t}[]" for t in _PAGE_TYPES)}) AS t({PAGE_COLUMNS})
ON CONFLICT (url) DO UPDATE SET {_UPDATED},
    changed_at = CASE WHEN pages.content_hash IS NOT DISTINCT FROM excluded.content_hash
                      THEN pages.changed_at ELSE excluded.changed_at END,
    content_hash = excluded.content_hash
WHERE pages.fetched_at <= excluded.fetched_at
"""
# The same page columns (before UPSERT_PAGES): a version for each page whose content differs
# from its URL's version fetched last before it (none for a re-fetch of the same content, nor
# for a URL first seen gone).
INSERT_VERSIONS = f"""
INSERT INTO versions (url, fetched_at, status, change, content_type, content_hash, title,
    description, text, data)
SELECT t.url, t.fetched_at::timestamptz, t.status,
       CASE WHEN latest.id IS NULL THEN 'new' WHEN t.status IN (404, 410) THEN 'removed'
            ELSE 'changed' END,
       t.content_type, t.content_hash, t.title, t.description, t.text, t.data::jsonb
FROM unnest({", ".join(f"%s::{t}[]" for t in _PAGE_TYPES)}) AS t({PAGE_COLUMNS})
LEFT JOIN LATERAL (SELECT id, content_hash FROM versions v
                   WHERE v.url = t.url AND v.fetched_at <= t.fetched_at::timestamptz
                   ORDER BY v.fetched_at DESC, v.id DESC LIMIT 1) AS latest ON true
WHERE CASE WHEN latest.id IS NULL THEN t.status NOT IN (404, 410)
           ELSE latest.content_hash IS DISTINCT FROM t.content_hash END
"""
# (urls, charsets, bodies): each body for its URL's latest version, one kept per version
INSERT_BODIES = """
INSERT INTO bodies (version_id, url, charset, body)
SELECT (SELECT max(id) FROM versions v WHERE v.url = t.url), t.url, t.charset, t.body
FROM unnest(%s::text[], %s::text[], %s::bytea[]) AS t(url, charset, body)
WHERE EXISTS (SELECT 1 FROM versions v WHERE v.url = t.url)
ON CONFLICT (version_id) DO NOTHING
"""
# (urls, checked_at, etags, last_modified, body hashes, intervals, next visits): revisits that
# found their page unchanged
CHECKED = """
UPDATE pages p SET checked_at = t.checked_at::timestamptz, etag = t.etag,
    last_modified = t.last_modified, body_hash = coalesce(t.body_hash, p.body_hash),
    revisit_s = t.revisit_s, next_visit_at = t.next_visit_at::timestamptz
FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::float8[],
            %s::text[]) AS t(url, checked_at, etag, last_modified, body_hash, revisit_s,
                             next_visit_at)
WHERE p.url = t.url
"""
PREVIOUS = """
SELECT url, etag, last_modified, body_hash, content_hash, revisit_s FROM pages
WHERE url = ANY(%s::text[])
"""
SCHEDULE = """
UPDATE frontier SET state = 'pending', attempts = 0, last_error = NULL, claimed_by = NULL
WHERE state IN ('done', 'failed') AND url IN (SELECT url FROM pages WHERE {where})
"""
# Failed URLs back to pending (resume --retry-failed): those whose last_error is in the array,
# or all of them when it is empty.
RETRY_FAILED = """
UPDATE frontier SET state = 'pending', attempts = 0, last_error = NULL, claimed_by = NULL
WHERE state = 'failed' AND (cardinality(%(reasons)s::text[]) = 0
                            OR last_error = ANY(%(reasons)s::text[]))
"""
# (urls, hosts, depths): where followed redirects ended, content stored under the first URL;
# done, so a link to one later is not fetched again (pending ones are not claimed yet).
REDIRECT_TARGETS_DONE = """
INSERT INTO frontier (url, host, depth, state)
SELECT url, host, depth, 'done' FROM unnest(%s::text[], %s::text[], %s::int[])
    AS t(url, host, depth)
ON CONFLICT (url) DO UPDATE SET state = 'done' WHERE frontier.state = 'pending'
"""
# (ids, states, attempts, errors): the batch's URLs finished, whoever holds them now
FINISH = """
UPDATE frontier f SET state = t.state, attempts = t.attempts, last_error = t.last_error,
    claimed_by = NULL
FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::text[]) AS t(id, state, attempts, last_error)
WHERE f.id = t.id
"""

# -- reparse ------------------------------------------------------------------------------------
PARSED_PAGE = (
    "p.content_type IN ('text/html', 'application/xhtml+xml') AND p.status BETWEEN 200 AND 299"
)
BODIES_PAGE = (
    "SELECT b.version_id, b.url, p.final_url, b.charset, b.body FROM bodies b "
    "JOIN pages p USING (url) JOIN versions v ON v.id = b.version_id "
    "WHERE b.version_id > %s AND v.status BETWEEN 200 AND 299 "
    "AND v.content_type IN ('text/html', 'application/xhtml+xml', 'application/pdf') "
    "ORDER BY b.version_id LIMIT %s"
)
WITHOUT_BODY = (
    f"SELECT count(*) FROM pages p WHERE {PARSED_PAGE} "
    "AND NOT EXISTS (SELECT 1 FROM bodies b WHERE b.url = p.url)"
)
UPDATE_PARSED = """
UPDATE versions v SET title = t.title, description = t.description, text = t.text,
    data = t.data::jsonb, content_hash = t.content_hash
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
    AS t(id, title, description, text, data, content_hash)
WHERE v.id = t.id
"""
UPDATE_PARSED_PAGES = f"""
UPDATE pages p SET title = t.title, description = t.description, text = t.text,
    data = t.data::jsonb, links = t.links::jsonb, content_hash = t.content_hash
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
            %s::text[], %s::text[]) AS t(id, url, title, description, text, data, content_hash,
                                         links)
WHERE p.url = t.url AND t.id = {latest_version("t.url")}
"""

# -- unknown outcomes ---------------------------------------------------------------------------
# URLs this worker claims and does not know it claims (not in %(known)s): a claim whose COMMIT
# reached the server while the worker saw its connection die. A retried claim takes them back
# (their hosts' leases extended, with each host's wait before its next request; NULL when the
# worker no longer holds the host); the periodic reconciliation gives them back.
ADOPT = """
WITH mine AS (
    SELECT id, url, host, depth, attempts FROM frontier
    WHERE claimed_by = %(me)s AND state = 'in_progress' AND id <> ALL(%(known)s::bigint[])
), held AS (
    UPDATE hosts h SET lease_until = statement_timestamp() + make_interval(secs => %(lease_s)s)
    WHERE h.owner = %(me)s AND h.host IN (SELECT host FROM mine)
    RETURNING h.host, extract(
        epoch FROM greatest(h.next_at, statement_timestamp()) - statement_timestamp()
    )::float8 AS wait_s
)
SELECT m.id, m.url, m.host, m.depth, m.attempts, held.wait_s
FROM mine AS m LEFT JOIN held USING (host) ORDER BY m.id
"""
MINE_CLAIMED = "SELECT id FROM frontier WHERE claimed_by = %s AND state = 'in_progress'"
