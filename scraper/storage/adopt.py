"""Frontier rows for pages that arrive without a claim (an import of archived captures), in
both dialects: :meth:`CrawlStore.adopt`.

Each URL gets a frontier row ``in_progress`` (at depth 0 when new), so the sink's batch marks it
``done`` with its page in one transaction, as a crawled URL is: a process that dies before the
batch leaves it ``in_progress``, which ``resume`` puts back to pending like any claim it
recovers. A pending URL (a link found earlier) is taken over; a done or failed one stays as it
is until its page is written.
"""

# [[url, host], ...] -> {url: id}
SQLITE_ADOPT = """
INSERT INTO frontier (url, host, depth, state)
SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 0, 'in_progress'
FROM json_each(?) WHERE true
ON CONFLICT (url) DO UPDATE SET state = 'in_progress' WHERE state = 'pending'
"""
SQLITE_ADOPTED = """
SELECT json_group_object(url, id) FROM frontier
WHERE url IN (SELECT json_extract(value, '$[0]') FROM json_each(?))
"""

# (urls, hosts, worker): rows (url, id); each new host a row of hosts, as ADD_URLS adds them.
POSTGRES_ADOPT = """
WITH given AS (
    SELECT * FROM unnest(%s::text[], %s::text[]) AS t(url, host)
), taken AS (
    INSERT INTO frontier (url, host, depth, state, claimed_by)
    SELECT url, host, 0, 'in_progress', %s FROM given ORDER BY url
    ON CONFLICT (url) DO UPDATE SET state = 'in_progress', claimed_by = excluded.claimed_by
    WHERE frontier.state = 'pending'
    RETURNING url, id
), new_hosts AS (
    INSERT INTO hosts (host) SELECT DISTINCT host FROM given ORDER BY host
    ON CONFLICT DO NOTHING
)
SELECT url, id FROM taken
UNION
SELECT f.url, f.id FROM frontier AS f JOIN given USING (url)
"""
