"""Crawls of a site behind a login (the test site's members area, ``scraper.testing.login``):
the form's CSRF field sent back, the session kept, logout links never followed, the session
restored once when it is gone (then ``auth_lost``), the jar kept in the database."""

import asyncio
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from scraper.config import Settings, load_settings
from scraper.crawl import Crawl
from scraper.crawl.session import MAX_STRIKES
from scraper.errors import ScraperError, UsageError
from scraper.testing import MEMBERS, PASSWORD, USER
from tests.conftest import TEST_SETTINGS, pg_rows, traffic

SECRET_VAR = "SCRAPER_TEST_MEMBER_PASSWORD"


def login_config(tmp_path: Path, *, success: str = "/members/*", extra: str = "") -> Path:
    """A config whose site 127.0.0.1 logs in to the members area with the password from
    ``$SCRAPER_TEST_MEMBER_PASSWORD``."""
    path = tmp_path / "login.toml"
    path.write_text(
        '[site."127.0.0.1"]\n'
        f"{extra}"
        '[site."127.0.0.1".login]\n'
        'url = "/login"\n'
        f"success = '{success}'\n"
        f'fields = {{ user = "{USER}", password = "${{{SECRET_VAR}}}" }}\n'
    )
    return path


async def crawl_members(
    site: TestServer,
    tmp_path: Path,
    db: str = "",
    save_settings: bool = True,
    paths: tuple[str, ...] = ("/members/",),
    **overrides: Any,
) -> Path:
    db = db or str(tmp_path / "crawl.db")
    config = overrides.pop("config", None) or login_config(tmp_path)
    values: dict[str, Any] = {**TEST_SETTINGS, "db": db}
    base = Settings(**values)
    seeds = tuple(str(site.make_url(path)) for path in paths)
    settings = load_settings(config, base=base, seeds=seeds, **overrides)
    await Crawl(settings, save_settings=save_settings).run()
    return Path(db)


def stored(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql).fetchall()


def paths(site: TestServer, urls: list[tuple[Any, ...]]) -> set[str]:
    base = str(site.make_url("/"))[:-1]
    return {str(url).removeprefix(base) for (url, *_rest) in urls}


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_VAR, PASSWORD)
    return PASSWORD


async def test_a_crawl_behind_a_login_stores_the_members_pages(
    site: TestServer, tmp_path: Path, password: str
):
    """One login (the form's CSRF token and the password from the environment sent back) opens
    the members' pages, which are stored; the logout links and the login page are never
    requested after it, and the session cookie is kept in the database."""
    db = await crawl_members(site, tmp_path)
    members = site.app[MEMBERS]
    assert len(members.posts) == 1
    (post,) = members.posts
    assert post["user"] == USER
    assert post["password"] == password
    assert post["csrf"]
    assert "remember" not in post
    assert "go" not in post
    pages = paths(site, stored(db, "SELECT url FROM pages"))
    assert pages == {"/members/", *(f"/members/{n}" for n in range(5))}
    hits = traffic(site).hits
    assert hits["/logout"] == 0
    assert hits["/account/sign-out?x=1"] == 0
    assert members.logouts == 0
    assert hits["/login"] == 2  # the form and its POST, once: never as a page
    assert stored(db, "SELECT url FROM frontier WHERE state != 'done'") == []
    jar = stored(db, "SELECT domain, name, httponly, expires IS NOT NULL FROM cookies")
    assert ("127.0.0.1", "member", 1, 1) in jar


async def test_concurrent_fetchers_of_a_site_wait_for_its_one_login(
    site: TestServer, tmp_path: Path, password: str
):
    """Six members' pages as seeds, eight fetchers: one login, made before the first of
    them, and every page stored (none answered by the login page)."""
    seeds = (*(f"/members/{n}" for n in range(5)), "/members/")
    db = await crawl_members(site, tmp_path, paths=seeds, concurrency=8, per_host=8)
    assert len(site.app[MEMBERS].posts) == 1
    starts = [path for _, path in traffic(site).starts]
    first_member = min(i for i, path in enumerate(starts) if path.startswith("/members/"))
    assert starts.index("/login") < first_member
    rows = stored(db, "SELECT url, title FROM pages")
    assert len(rows) == 6
    assert all(title.startswith("Member") for _, title in rows)


async def test_a_page_whose_session_is_gone_logs_in_again_once_then_fails_auth_lost(
    site: TestServer, tmp_path: Path, password: str
):
    """A page that ends the session and lands on the login page makes the crawler log in once
    more and fetch it again; landing there again, it fails with auth_lost; the other pages
    are stored (logging in again for them), and no login page is."""
    members = site.app[MEMBERS]
    members.gone_link = members.gone_kills = True
    db = await crawl_members(site, tmp_path, concurrency=1)
    assert 2 <= len(members.posts) <= 3  # the first login, one for gone, one after it
    assert traffic(site).hits["/members/gone"] == 2
    (row,) = stored(db, "SELECT last_error, attempts FROM frontier WHERE url LIKE '%/gone'")
    assert row[0] == "auth_lost"
    assert not any("/login" in url for (url,) in stored(db, "SELECT final_url FROM pages"))
    assert len(stored(db, "SELECT 1 FROM pages")) == 6


async def test_a_login_page_that_sends_a_live_session_on_is_not_sent_the_form(
    site: TestServer, tmp_path: Path, password: str
):
    """A page that lands on the login page while the session is alive: the login page sends
    the crawler on, so no form is sent again; the page fails with auth_lost."""
    site.app[MEMBERS].gone_link = True
    db = await crawl_members(site, tmp_path, concurrency=1)
    assert len(site.app[MEMBERS].posts) == 1
    assert traffic(site).hits["/login"] == 3  # the form, its POST, the check for gone
    assert traffic(site).hits["/members/gone"] == 2
    (row,) = stored(db, "SELECT last_error FROM frontier WHERE url LIKE '%/gone'")
    assert row[0] == "auth_lost"


async def test_a_site_whose_logins_never_hold_stops_logging_in_after_three(
    site: TestServer, tmp_path: Path, password: str
):
    """Five pages that each end the session: three logins again come to nothing, then the
    other pages fail with auth_lost at once, without another login."""
    site.app[MEMBERS].gone_kills = True
    seeds = tuple(f"/members/gone?n={n}" for n in range(5))
    db = await crawl_members(site, tmp_path, paths=seeds, concurrency=1)
    assert len(site.app[MEMBERS].posts) == 1 + MAX_STRIKES
    assert stored(db, "SELECT DISTINCT last_error FROM frontier") == [("auth_lost",)]
    assert stored(db, "SELECT count(*) FROM pages") == [(0,)]


async def test_an_expired_session_is_logged_in_to_again(
    site: TestServer, tmp_path: Path, password: str
):
    """Sessions that end after three pages: the crawler logs in again each time one ends and
    still stores every members' page, none of them a login page."""
    site.app[MEMBERS].session_pages = 3
    site.app[MEMBERS].pages = 8
    db = await crawl_members(site, tmp_path, concurrency=1)
    logins = site.app[MEMBERS].logins
    assert 3 <= logins <= 5  # 9 pages, 3 a session
    rows = stored(db, "SELECT url, title FROM pages")
    assert paths(site, rows) == {"/members/", *(f"/members/{n}" for n in range(8))}
    assert all(title != "Sign in" for _, title in rows)


async def test_a_wrong_password_stops_the_crawl_with_one_line_naming_the_site(
    site: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A login that lands on the form again is an error naming the site, never the password;
    no members' page is fetched."""
    monkeypatch.setenv(SECRET_VAR, "not-the-password")
    with pytest.raises(ScraperError) as caught:
        await crawl_members(site, tmp_path)
    message = str(caught.value)
    assert "site 127.0.0.1" in message
    assert "login failed" in message
    assert "not-the-password" not in message
    assert "\n" not in message
    assert traffic(site).hits["/members/0"] == 0


async def test_a_missing_secret_is_a_usage_error_naming_the_variable(
    site: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A login whose ``${VAR}`` is not set fails before sending anything, naming the site and
    the variable."""
    monkeypatch.delenv(SECRET_VAR, raising=False)
    with pytest.raises(UsageError, match=rf"site 127\.0\.0\.1: login needs .* {SECRET_VAR}"):
        await crawl_members(site, tmp_path)
    assert site.app[MEMBERS].posts == []
    assert traffic(site).hits["/login"] == 0


async def test_a_selector_success_check_and_own_logout_patterns(
    site: TestServer, tmp_path: Path, password: str
):
    """``success`` as a CSS selector is looked for on the page the login lands on, and
    ``logout_patterns`` replace the default ones (a link to /logout is then followed)."""
    config = login_config(
        tmp_path, success='a[href="/logout"]', extra='logout_patterns = ["sign-out"]\n'
    )
    await crawl_members(site, tmp_path, config=config)
    hits = traffic(site).hits
    assert site.app[MEMBERS].logins >= 1
    assert hits["/account/sign-out?x=1"] == 0
    assert hits["/logout"] == 1


async def test_another_worker_of_a_shared_crawl_goes_on_with_the_session(
    site: TestServer, tmp_path: Path, password: str, pg_url: str
):
    """On PostgreSQL, a worker that joins the crawl after the first one logged in loads the
    session from the database and fetches the members' pages without logging in."""
    site.app[MEMBERS].pages = 12
    await crawl_members(site, tmp_path, db=pg_url, max_pages=3)
    assert site.app[MEMBERS].logins == 1
    await crawl_members(site, tmp_path, db=pg_url, save_settings=False)
    assert site.app[MEMBERS].logins == 1
    found = await pg_rows(pg_url, "SELECT count(*), count(*) FILTER (WHERE title = 'Sign in') "
                                  "FROM pages")  # fmt: skip
    assert found == [(13, 0)]


async def test_a_session_cookie_expired_between_runs_means_one_new_login(
    site: TestServer, tmp_path: Path, password: str
):
    """The session cookie kept in the database expires before the next run: it is not loaded,
    the next run logs in once more and stores the remaining pages."""
    members = site.app[MEMBERS]
    members.cookie_max_age_s = 1
    await crawl_members(site, tmp_path, max_pages=2)
    assert members.logins == 1
    db = tmp_path / "crawl.db"
    assert [name for (name,) in stored(db, "SELECT name FROM cookies")].count("member") == 1
    await asyncio.sleep(1.2)
    members.cookie_max_age_s = 3600
    await crawl_members(site, tmp_path, save_settings=False)
    assert members.logins == 2
    assert len(stored(db, "SELECT 1 FROM pages")) == 6
    assert stored(db, "SELECT url FROM frontier WHERE state != 'done'") == []
