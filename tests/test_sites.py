"""Site patterns: which [site."PATTERN"] tables apply to a host, and in which order."""

from pathlib import Path

import pytest

from scraper.config import load_settings, settings_from_json, settings_to_json
from scraper.crawl.links import LinkFilter
from scraper.errors import UsageError
from scraper.models import Scope
from scraper.sites import HostSettings, LoginSpec

TABLES = """
[site."example.com"]
delay_s = 1.0
[site."*.example.com"]
delay_s = 2.0
per_host = 2
[site."shop.example.com"]
delay_s = 3.0
[site."*.example.com:8080"]
per_host = 1
"""


@pytest.mark.parametrize(
    ("host", "delay_s", "per_host"),
    [
        ("example.com", 1.0, 4),  # *.example.com is its subdomains only
        ("example.com:8080", 1.0, 4),
        ("www.example.com", 2.0, 2),
        ("shop.example.com", 3.0, 2),  # exact beats the wildcard, which still sets per_host
        ("shop.example.com:8080", 3.0, 1),  # a port beats no port
        ("notexample.com", 0.25, 4),  # no table: the globals
    ],
)
def test_the_most_specific_pattern_wins(tmp_path: Path, host: str, delay_s: float, per_host: int):
    """Every matching table applies, the most specific last; a host without one gets the globals."""
    path = tmp_path / "sites.toml"
    path.write_text(TABLES)
    site = load_settings(path).for_host(host)
    assert (site.delay_s, site.per_host) == (delay_s, per_host)


LOGIN = """
[site."members.test"]
logout_patterns = ["bye"]
[site."members.test".login]
url = "/login"
fields = { user = "alice", password = "${MEMBERS_PASSWORD}" }
success = "#account"
"""


def test_a_login_table_is_read_stored_with_its_references_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A site's login keeps its ${VAR} references through the stored settings (never their
    values), turns cookies on for the site, and resolves them from the environment."""
    path = tmp_path / "c.toml"
    path.write_text(LOGIN)
    settings = load_settings(path)
    stored = settings_from_json(settings_to_json(settings), "db")
    site = stored.for_host("members.test")
    assert site.login is not None
    assert dict(site.login.fields) == {"user": "alice", "password": "${MEMBERS_PASSWORD}"}
    assert (site.login.success, site.login.success_is_url) == ("#account", False)
    assert site.logout_patterns == ("bye",)
    assert site.cookies_on
    assert stored.for_host("other.test").login is None
    monkeypatch.setenv("MEMBERS_PASSWORD", "s3cret")
    assert site.login.values("members.test") == {"user": "alice", "password": "s3cret"}


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('[site."m.test".login]\nuser = "a"\n', r'\[site\."m\.test"\]: login must be a table'),
        (
            '[site."m.test".login]\nurl = "/l"\npasword = "x"\n',
            r"\[site\.\"m\.test\"\]: login: bad key 'pasword'",
        ),
        ('[site."m.test".login]\nurl = "/l"\nfields = { a = 1 }\n', "login fields must be"),
        ('[site."m.test"]\nlogout_patterns = "out"\n', "logout_patterns must be a list"),
    ],
)
def test_a_bad_login_table_is_an_error_naming_it(tmp_path: Path, table: str, error: str):
    """A login table without url, with an unknown key or a field that is not a string, and
    logout_patterns that are not a list, are UsageErrors naming the table."""
    path = tmp_path / "c.toml"
    path.write_text(table)
    with pytest.raises(UsageError, match=error):
        load_settings(path)


def test_logout_links_and_the_login_page_are_not_followed_on_login_sites_only(tmp_path: Path):
    """On a site with a login, links that look like a logout (default or own patterns, any
    case) and the login page are not admitted; on any other site they are."""
    path = tmp_path / "c.toml"
    path.write_text(LOGIN + '[site."plain.test"]\ndelay_s = 1.0\n')
    s = load_settings(path)
    links = LinkFilter({"members.test", "plain.test"}, Scope.DOMAIN, (), (), 5, 2048, s.for_host)
    urls = [
        "http://members.test/a",
        "http://members.test/account/BYE?x=1",
        "http://members.test/login",
        "http://members.test/logout",  # own patterns replace the default ones
        "http://plain.test/logout",
        "http://plain.test/login",
    ]
    admitted = [url for url, _ in links.admit(urls, 0)]
    assert admitted == [urls[0], urls[3], urls[4], urls[5]]
    default = HostSettings(login=LoginSpec("/signin"))
    links = LinkFilter({"x.test"}, Scope.HOST, (), (), 5, 2048, lambda host: default)
    urls = ["http://x.test/Sign-Out", "http://x.test/a?action=logoff", "http://x.test/signin"]
    assert links.admit([*urls, "http://x.test/b"], 0) == (("http://x.test/b", "x.test"),)


PROXY_TABLES = """
[fetch]
proxy = "http://u:${PW}@10.0.0.1:3128"
proxy_rotation = "request"
[site."direct.example.com"]
proxies = []
[site."socks.example.com"]
proxy = "socks5://10.0.0.2:1080"
[site."*.example.com"]
proxies = ["http://10.0.0.3:3128", "http://10.0.0.4:3128"]
"""


def test_proxies_per_site(tmp_path: Path):
    """``[fetch] proxy`` is every host's proxy; a site's ``proxy`` or ``proxies`` replaces it
    (``proxies = []``: direct); a host with a delay behind a proxy gets one request at a time."""
    path = tmp_path / "c.toml"
    path.write_text(PROXY_TABLES)
    s = load_settings(path)
    assert s.proxy_rotation == "request"
    assert s.for_host("other.org").proxies == ("http://u:${PW}@10.0.0.1:3128",)
    assert s.for_host("direct.example.com").proxies == ()
    assert (s.for_host("other.org").per_host, s.for_host("direct.example.com").per_host) == (1, 4)
    assert s.for_host("socks.example.com").proxies == ("socks5://10.0.0.2:1080",)
    assert s.for_host("www.example.com").proxies == (
        "http://10.0.0.3:3128",
        "http://10.0.0.4:3128",
    )


def test_stored_settings_mask_proxy_passwords(tmp_path: Path):
    """A password written in a proxy URL is stored masked (an ${ENV} reference as written), and
    a crawl resumed from the masked URL is told to give the proxy again."""
    from scraper.config import settings_from_json, settings_to_json
    from scraper.errors import UsageError
    from scraper.fetch import Fetcher

    path = tmp_path / "c.toml"
    path.write_text('[site."a.com"]\nproxy = "http://bob:pa55word@10.0.0.9:3128"\n')
    s = load_settings(path, proxies=("http://amy:hunter2@10.0.0.8:3128", "http://u:${PW}@h:1"))
    text = settings_to_json(s)
    assert "pa55word" not in text
    assert "hunter2" not in text
    back = settings_from_json(text, "x.db")
    assert back.proxies == ("http://amy:***@10.0.0.8:3128", "http://u:${PW}@h:1")
    assert back.for_host("a.com").proxies == ("http://bob:***@10.0.0.9:3128",)
    with pytest.raises(UsageError, match="password was not stored; give --proxy again"):
        Fetcher(back)


def test_bad_proxy_rotation_is_a_usage_error(tmp_path: Path):
    """proxy_rotation is host or request."""
    path = tmp_path / "c.toml"
    path.write_text('[fetch]\nproxy_rotation = "random"\n')
    with pytest.raises(Exception, match="must be one of host, request"):
        load_settings(path)
