"""The session's cookie jar as the crawl keeps it (schema 8): the ``cookies`` table, one row per
cookie, written by both backends the same way. A ``resume``, a recrawl and another worker of a
shared crawl load it at start, so a login's session goes on. Expired rows are deleted when the
jar is saved and never loaded. Only cookies are kept here: a login's form values never are.
"""

import time
from collections.abc import Collection, Sequence

from scraper.models import StoredCookie

COOKIES_SCHEMA = 9  # the version of both backends' schemas that adds the table

CookieKey = tuple[str, str, str]  # (domain, path, name)


def cookies_ddl(types: dict[str, str]) -> str:
    """The table, in a backend's ``types`` (``int``, ``bigint``, ``text``)."""
    text, flag = types["text"], types["int"]
    return f"""
CREATE TABLE cookies (  -- the session's cookie jar (cookies on, logins)
    domain    {text} NOT NULL,  -- the host it belongs to
    path      {text} NOT NULL,
    name      {text} NOT NULL,
    value     {text} NOT NULL,
    host_only {flag} NOT NULL,  -- 1: that host alone; 0: its subdomains too (Domain=)
    expires   {types["bigint"]},  -- Unix time; NULL: a session cookie
    secure    {flag} NOT NULL,
    httponly  {flag} NOT NULL,
    PRIMARY KEY (domain, path, name)
);
"""


# Statements with ``?`` placeholders (PostgreSQL's store swaps them for ``%s``).
LOAD_COOKIES = """
SELECT domain, path, name, value, host_only, expires, secure, httponly FROM cookies
WHERE expires IS NULL OR expires > ?
"""
SAVE_COOKIE = """
INSERT INTO cookies (domain, path, name, value, host_only, expires, secure, httponly)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (domain, path, name) DO UPDATE SET value = excluded.value,
    host_only = excluded.host_only, expires = excluded.expires, secure = excluded.secure,
    httponly = excluded.httponly
"""
DROP_COOKIE = "DELETE FROM cookies WHERE domain = ? AND path = ? AND name = ?"
DROP_EXPIRED = "DELETE FROM cookies WHERE expires IS NOT NULL AND expires <= ?"


def postgres(sql: str) -> str:
    """A statement of this module with PostgreSQL's placeholders."""
    return sql.replace("?", "%s")


def now() -> int:
    return int(time.time())


def cookie_rows(cookies: Sequence[StoredCookie]) -> list[tuple[object, ...]]:
    """The parameters of :data:`SAVE_COOKIE` for ``cookies``."""
    return [
        (c.domain, c.path, c.name, c.value, int(c.host_only), c.expires, int(c.secure),
         int(c.httponly))
        for c in cookies
    ]  # fmt: skip


def gone_rows(gone: Collection[CookieKey]) -> list[CookieKey]:
    """The parameters of :data:`DROP_COOKIE` for the keys of cookies gone from the jar."""
    return sorted(gone)


def stored_cookies(rows: Sequence[Sequence[object]]) -> list[StoredCookie]:
    """The rows of :data:`LOAD_COOKIES` as cookies."""
    return [
        StoredCookie(
            str(domain), str(path), str(name), str(value), bool(host_only),
            None if expires is None else int(str(expires)), bool(secure), bool(httponly),
        )
        for domain, path, name, value, host_only, expires, secure, httponly in rows
    ]  # fmt: skip
