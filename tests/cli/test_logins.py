"""Logins through the real CLI: a session that outlives Ctrl-C, ``resume`` and ``recrawl``
without logging in again, a wrong password as one error line, and secrets (given as
``${VAR}`` in the config, set in the environment) found nowhere: not in the database file
(WAL included), the logs, ``status`` or the output."""

import json
import signal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from scraper.testing import MEMBERS, PASSWORD, USER
from tests.conftest import assert_consistent, assert_one_error_line, poll, rows, run, scraper

SECRET_VAR = "SCRAPER_TEST_MEMBER_PASSWORD"


def config(tmp_path: Path) -> Path:
    """The members area's login for 127.0.0.1 (any port), the password from the environment;
    small batches, so a stopped crawl has stored some pages."""
    path = tmp_path / "crawl.toml"
    path.write_text(
        "[storage]\nbatch_size = 2\n"
        '[site."127.0.0.1".login]\nurl = "/login"\nsuccess = "/members/*"\n'
        f'fields = {{ user = "{USER}", password = "${{{SECRET_VAR}}}" }}\n'
    )
    return path


def flags(tmp_path: Path, db: Path, *more: str) -> list[str]:
    return ["--db", str(db), "--config", str(config(tmp_path)), "--retries", "0", *more]


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """The members' password, in the environment the CLI children inherit."""
    monkeypatch.setenv(SECRET_VAR, PASSWORD)
    return PASSWORD


def member_pages(site: TestServer, db: Path) -> set[str]:
    base = str(site.make_url("/"))[:-1]
    return {url.removeprefix(base) for (url,) in rows(db, "SELECT url FROM pages")}


async def test_a_session_survives_ctrl_c_resume_and_recrawl(
    site: TestServer, tmp_path: Path, secret: str
):
    """SIGINT mid-crawl, then ``resume`` and ``recrawl``: one login in all (the session cookie
    kept in the database goes on), every members' page stored and revisited; the database and
    its WAL never hold the password, even mid-crawl."""
    members = site.app[MEMBERS]
    members.pages = 30
    db = tmp_path / "crawl.db"
    seed = str(site.make_url("/members/"))
    slow = ["--concurrency", "1", "--per-host", "1", "--delay", "0.05"]
    async with scraper(tmp_path, "crawl", seed, *flags(tmp_path, db, *slow)) as child:
        seen = members.sessions.values
        await poll(lambda: sum(seen()) >= 6 or not child.running, 30)
        assert child.running, child.diagnostics()
        wal = db.parent / f"{db.name}-wal"
        assert wal.exists()  # the crawl's writes, read while it runs: no secret there either
        assert all(secret.encode() not in path.read_bytes() for path in (db, wal))
        child.proc.send_signal(signal.SIGINT)
        code, _, err = await child.finish()
    assert code == 130, err
    assert "Traceback" not in err
    assert 0 < assert_consistent(db).get("done", 0) < 31
    assert members.logins == 1

    code, _, err = await run(tmp_path, "resume", "--db", str(db))
    assert code == 0, err
    assert member_pages(site, db) == {"/members/", *(f"/members/{n}" for n in range(30))}
    code, _, err = await run(tmp_path, "recrawl", "--db", str(db))
    assert code == 0, err
    assert len(members.posts) == 1  # neither resume nor recrawl logged in again
    assert members.logins == 1
    assert max(n for n in members.sessions.values()) >= 62  # 31 pages, each twice: one session


async def test_a_wrong_password_is_one_error_line_naming_the_site(
    site: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A refused login ends the crawl with exit 1 and one line naming the site, without the
    password; no members' page is stored."""
    monkeypatch.setenv(SECRET_VAR, "hunter2-wrong-password")
    db = tmp_path / "crawl.db"
    seed = str(site.make_url("/members/"))
    code, out, err = await run(tmp_path, "crawl", seed, *flags(tmp_path, db))
    assert code == 1, err
    assert_one_error_line(err, "site 127.0.0.1")
    assert "login failed" in err
    assert "hunter2" not in err + out
    assert rows(db, "SELECT url FROM pages") == []


async def test_secrets_are_never_stored_logged_or_shown(
    site: TestServer, tmp_path: Path, secret: str
):
    """The password resolved from the environment reaches the site and nothing else: not the
    database file (nor its WAL), the JSON log, ``status``, the crawl's output; the stored
    settings keep the ``${VAR}`` reference."""
    db = tmp_path / "crawl.db"
    log = tmp_path / "crawl.log"
    seed = str(site.make_url("/members/"))
    more = ["--log-file", str(log), "--log-format", "json", "--debug"]
    code, out, err = await run(tmp_path, "crawl", seed, *flags(tmp_path, db, *more))
    assert code == 0, err
    assert [p["password"] for p in site.app[MEMBERS].posts] == [secret]
    assert len(rows(db, "SELECT 1 FROM pages")) == 6
    code, status, status_err = await run(tmp_path, "status", "--db", str(db), "--json")
    assert code == 0, status_err
    files = [db, *db.parent.glob(db.name + "-*"), log]
    assert all(secret.encode() not in path.read_bytes() for path in files)
    assert secret not in out + err + status + status_err
    (settings,) = rows(db, "SELECT value FROM meta WHERE key = 'settings'")
    login = json.loads(settings[0])["sites"]["127.0.0.1"]["login"]
    assert login["fields"] == {"user": USER, "password": f"${{{SECRET_VAR}}}"}
