"""URL normalization, link resolution and scope: hypothesis properties plus known cases."""

from urllib.parse import unquote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scraper.errors import InvalidURL
from scraper.models import Scope
from scraper.urls import in_scope, join_url, normalize_url, url_host

# --- strategies ---------------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
HOSTNAME = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
HOST = st.one_of(
    HOSTNAME,
    st.sampled_from(["127.0.0.1", "[::1]", "[2001:DB8::A]", "bücher.de", "xn--bcher-kva.de"]),
)
SCHEME = st.sampled_from(["http", "https"])
PATH_CHARS = st.characters(codec="utf-8")
PATH = st.lists(st.text(PATH_CHARS, max_size=8), max_size=5).map(lambda s: "/" + "/".join(s))
QUERY = st.text(st.characters(codec="utf-8", exclude_characters="#"), max_size=20)
PRINTABLE_QUERY = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc"], exclude_characters="#")
)
PORT = st.integers(min_value=1, max_value=65535)


@st.composite
def valid_urls(draw: st.DrawFn) -> str:
    """Well-formed http(s) URLs built from parts, with random case, ports, queries, fragments."""
    scheme = draw(SCHEME)
    scheme = "".join(c.upper() if draw(st.booleans()) else c for c in scheme)
    port = draw(st.one_of(st.none(), PORT))
    url = f"{scheme}://{draw(HOST)}" + ("" if port is None else f":{port}")
    url += draw(PATH).replace("#", "").replace("?", "")
    if draw(st.booleans()):
        url += "?" + draw(QUERY)
    if draw(st.booleans()):
        url += "#" + draw(st.text(max_size=10))
    return url


CHUNKS = [*":/[]@?#%. \t\n\x00\\aé", "//", "http", "HTTPS", "ftp", "%2", "%7e", "..", ":99999"]
URLISH = st.one_of(valid_urls(), st.lists(st.sampled_from(CHUNKS), max_size=12).map("".join))


def _try(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidURL:
        return None


# --- properties -----------------------------------------------------------------------------


@given(st.one_of(st.text(), URLISH))
@example("http://[")
@example("http://a:b:c/")
@example("http://\ud800/")
@example("http://a:" + "1" * 5000 + "/")
def test_returns_http_url_or_raises_invalid_url(url: str) -> None:
    """Any string either normalizes to an http(s) URL or raises InvalidURL, nothing else."""
    result = _try(url)
    assert result is None or result.startswith(("http://", "https://"))


@given(st.one_of(valid_urls(), URLISH, st.text()))
def test_normalize_is_idempotent(url: str) -> None:
    """Normalizing a normalized URL returns it unchanged."""
    once = _try(url)
    if once is not None:
        assert normalize_url(once) == once


@given(valid_urls())
def test_valid_urls_are_accepted(url: str) -> None:
    """Every URL built from valid parts normalizes without error."""
    assert normalize_url(url).startswith(("http://", "https://"))


@given(SCHEME, HOSTNAME, PATH)
def test_scheme_and_host_are_case_insensitive(scheme: str, host: str, path: str) -> None:
    """Upper-casing the scheme and host does not change the normalized URL."""
    lower = normalize_url(f"{scheme}://{host}{path}")
    assert normalize_url(f"{scheme.upper()}://{host.upper()}{path}") == lower


@given(HOSTNAME, PATH)
def test_default_port_is_removed(host: str, path: str) -> None:
    """An explicit default port (80 for http, 443 for https) is dropped."""
    assert normalize_url(f"http://{host}:80{path}") == normalize_url(f"http://{host}{path}")
    assert normalize_url(f"https://{host}:443{path}") == normalize_url(f"https://{host}{path}")


@given(SCHEME, HOSTNAME, PORT)
def test_non_default_port_is_kept(scheme: str, host: str, port: int) -> None:
    """A non-default port stays in the URL and in its host key."""
    url = normalize_url(f"{scheme}://{host}:{port}/")
    default = {"http": 80, "https": 443}[scheme]
    assert url_host(url) == (host if port == default else f"{host}:{port}")


@given(valid_urls(), st.text())
def test_fragment_never_in_output(url: str, fragment: str) -> None:
    """The fragment is dropped, so no '#' survives normalization."""
    assert "#" not in normalize_url(f"{url}#{fragment}")


@given(SCHEME, HOSTNAME, PRINTABLE_QUERY)
def test_query_is_kept(scheme: str, host: str, query: str) -> None:
    """A query survives in order, equal to the original once percent-decoded."""
    url = normalize_url(f"{scheme}://{host}/p?{query}&end")
    assert unquote(url.split("?", 1)[1]) == unquote(f"{query}&end")


@given(valid_urls())
def test_url_host_matches_normalized_authority(url: str) -> None:
    """url_host returns the lower-case authority of the normalized URL, without userinfo."""
    normalized = normalize_url(url)
    host = url_host(normalized)
    assert host == host.lower()
    assert normalized.split("/")[2] == host


# --- known cases ----------------------------------------------------------------------------

NORMALIZE_CASES = [
    ("HTTP://Example.COM", "http://example.com/"),
    ("http://example.com", "http://example.com/"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com:80/", "https://example.com:80/"),
    ("http://example.com:0080/", "http://example.com/"),
    ("http://example.com:/a", "http://example.com/a"),
    ("http://example.com/%7e%7Euser", "http://example.com/~~user"),
    ("http://example.com/a%2fb", "http://example.com/a%2Fb"),
    ("http://example.com/%41%62%2D%5f", "http://example.com/Ab-_"),
    ("http://example.com/%e2%82%ac", "http://example.com/%E2%82%AC"),
    ("http://example.com/100%", "http://example.com/100%25"),
    ("http://example.com/%zz%2", "http://example.com/%25zz%252"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com/../../x", "http://example.com/x"),
    ("http://example.com/a/%2E%2e/b", "http://example.com/b"),
    ("http://example.com/a//b", "http://example.com/a//b"),
    ("http://example.com/.hidden/x", "http://example.com/.hidden/x"),
    ("http://example.com/?", "http://example.com/"),
    ("http://example.com/a?#frag", "http://example.com/a"),
    ("http://example.com/a#frag", "http://example.com/a"),
    ("http://example.com/s?q=a+b&x=%7e&y=%2f&z", "http://example.com/s?q=a+b&x=~&y=%2F&z"),
    ("http://example.com/s?b=2&a=1", "http://example.com/s?b=2&a=1"),
    ("http://example.com/s?path=/x?y", "http://example.com/s?path=/x?y"),
    ("http://example.com/a b?c d", "http://example.com/a%20b?c%20d"),
    ("http://example.com/café", "http://example.com/caf%C3%A9"),
    ("http://example.com/日本", "http://example.com/%E6%97%A5%E6%9C%AC"),
    ('http://example.com/"<>`{}|\\^', "http://example.com/%22%3C%3E%60%7B%7D%7C%5C%5E"),
    ("http://example.com/a;b=c,d:e@f!$&'()*+", "http://example.com/a;b=c,d:e@f!$&'()*+"),
    ("  http://example.com/a  \n", "http://example.com/a"),
    ("http://exa\tmple.com/a\r\nb", "http://example.com/ab"),
    ("http://bücher.de/", "http://xn--bcher-kva.de/"),
    ("http://BÜCHER.de/", "http://xn--bcher-kva.de/"),
    ("http://例え.jp/", "http://xn--r8jz45g.jp/"),
    ("http://example.com./a", "http://example.com/a"),
    ("http://[2001:DB8:0:0::1]:8080/", "http://[2001:db8::1]:8080/"),
    ("http://[::1]/", "http://[::1]/"),
    ("https://[::1]:443/", "https://[::1]/"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
    ("http://user:secret@example.com/a", "http://example.com/a"),
    ("http://my_host.example.com/", "http://my_host.example.com/"),
]


@pytest.mark.parametrize(("url", "expected"), NORMALIZE_CASES)
def test_normalize_known_cases(url: str, expected: str) -> None:
    """Real-world URLs normalize to the expected canonical form."""
    assert normalize_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "empty"),
        ("   \t", "empty"),
        ("example.com/a", "missing scheme"),
        ("//example.com/a", "missing scheme"),
        ("ftp://example.com/", "scheme must be http or https"),
        ("javascript:alert(1)", "scheme must be http or https"),
        ("http:/example.com", "missing host"),
        ("http:///a", "missing host"),
        ("http://user@/a", "missing host"),
        ("http://:80/", "missing host"),
        ("http://example.com:99999/", "bad port"),
        ("http://example.com:0/", "bad port"),
        ("http://example.com:000/", "bad port"),
        ("http://example.com:" + "9" * 5000, "bad port"),
        ("http://example.com:-1/", "bad port"),
        ("http://example.com:8o/", "bad port"),
        ("http://example.com:\uff11\uff12/", "bad port"),
        ("http://exa mple.com/", "bad host"),
        ("http://<script>/", "bad host"),
        ("http://a..b/", "bad host"),
        ("http://ex%41mple.com/", "bad host"),
        ("http://[bad", "bad host"),
        ("http://[::1/", "bad host"),
        ("http://[::1]x/", "bad host"),
        ("http://[fe80::1%25eth0]/", "bad host"),
        ("http://xn--" + "a" * 70 + "ä.com/", "bad host"),
        ("http://example.com/\ud800", "bad character"),
    ],
)
def test_normalize_rejects(url: str, reason: str) -> None:
    """Strings that are not crawlable http(s) URLs raise InvalidURL with a short reason."""
    with pytest.raises(InvalidURL) as info:
        normalize_url(url)
    assert info.value.reason == reason
    assert info.value.url == url


BASE = "http://a/b/c/d;p?q"

JOIN_CASES = [
    # RFC 3986 section 5.4.1 normal examples, except "#s" and "" (same page: None)
    ("g", "http://a/b/c/g"),
    ("./g", "http://a/b/c/g"),
    ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"),
    ("//g", "http://g/"),
    ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"),
    ("g#s", "http://a/b/c/g"),
    ("g?y#s", "http://a/b/c/g?y"),
    (";x", "http://a/b/c/;x"),
    ("g;x", "http://a/b/c/g;x"),
    (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"),
    ("..", "http://a/b/"),
    ("../", "http://a/b/"),
    ("../g", "http://a/b/g"),
    ("../..", "http://a/"),
    ("../../g", "http://a/g"),
    # RFC 3986 section 5.4.2 abnormal examples
    ("../../../g", "http://a/g"),
    ("/./g", "http://a/g"),
    ("/../g", "http://a/g"),
    ("g.", "http://a/b/c/g."),
    ("..g", "http://a/b/c/..g"),
    ("./../g", "http://a/b/g"),
    ("g/../h", "http://a/b/c/h"),
    ("g;x=1/../y", "http://a/b/c/y"),
    ("http:g", "http://a/b/c/g"),
    # real-world hrefs
    ("https://Other.Example/path", "https://other.example/path"),
    ("HTTPS://Other.Example:443/path", "https://other.example/path"),
    ("//cdn.example/lib.js", "http://cdn.example/lib.js"),
    ("   padded.html   ", "http://a/b/c/padded.html"),
    ("\n\tsib\nling.html ", "http://a/b/c/sibling.html"),
    ("?page=2", "http://a/b/c/d;p?page=2"),
    ("?", "http://a/b/c/d;p"),
    ("https://other.example/a b", "https://other.example/a%20b"),
    ("/cgi-bin/counter.pl?page=home&x=1", "http://a/cgi-bin/counter.pl?page=home&x=1"),
    ("caf%c3%a9/%7euser", "http://a/b/c/caf%C3%A9/~user"),
    ("café", "http://a/b/c/caf%C3%A9"),
]


@pytest.mark.parametrize(("href", "expected"), JOIN_CASES)
def test_join_known_cases(href: str, expected: str) -> None:
    """An href resolves against the base per RFC 3986 section 5.4 and is then normalized."""
    assert join_url(BASE, href) == expected


@pytest.mark.parametrize(
    "href",
    [
        "",
        "   ",
        "#",
        "#top",
        "  #top ",
        "g:h",
        "javascript:void(0)",
        "JavaScript:openMenu()",
        " java\nscript:alert(1)",
        "mailto:team@example.com",
        "tel:+44-20-7946-0000",
        "data:text/html,%3Ch1%3Ehi%3C/h1%3E",
        "ftp://files.example/pub/",
        "http://[bad",
        "http://exa mple.com/",
        "http:#frag",
    ],
)
def test_join_returns_none(href: str) -> None:
    """Same-page, non-http(s) and invalid hrefs resolve to None instead of raising."""
    assert join_url(BASE, href) is None


def test_join_on_root_and_https_bases() -> None:
    """Relative hrefs resolve against the directory of the base path and keep its scheme/port."""
    assert join_url("https://example.com/", "a/b") == "https://example.com/a/b"
    assert join_url("https://example.com:8443/x/y", "z") == "https://example.com:8443/x/z"
    assert join_url("https://example.com:8443/x/y", "/z") == "https://example.com:8443/z"
    assert join_url("https://example.com/x/", "//cdn.example/s") == "https://cdn.example/s"
    assert join_url("https://example.com/x?q=1", "?q=2") == "https://example.com/x?q=2"
    assert join_url("https://example.com/x", "http:y") == "http://y/"


@given(valid_urls(), st.text(max_size=30))
def test_join_returns_normalized_or_none(base: str, href: str) -> None:
    """join_url never raises and returns None or an already-normalized http(s) URL."""
    result = join_url(normalize_url(base), href)
    assert result is None or normalize_url(result) == result


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://example.com/", "example.com"),
        ("http://example.com/a/b?c=d/e", "example.com"),
        ("http://127.0.0.1:8080/x", "127.0.0.1:8080"),
        ("https://[::1]:8443/", "[::1]:8443"),
        ("https://[2001:db8::1]/", "[2001:db8::1]"),
    ],
)
def test_url_host(url: str, host: str) -> None:
    """url_host is the host of a normalized URL plus a non-default port."""
    assert url_host(url) == host


@pytest.mark.parametrize(
    ("raw", "host"),
    [
        ("HTTP://User:pw@Example.COM:80/x", "example.com"),
        ("https://Example.com:8443", "example.com:8443"),
        ("http://[::1]:80/", "[::1]"),
    ],
)
def test_url_host_after_normalize(raw: str, host: str) -> None:
    """url_host of a normalized URL has no userinfo, no default port and is lower-case."""
    assert url_host(normalize_url(raw)) == host


SEEDS = frozenset({"www.example.com", "127.0.0.1:8080", "[::1]:8443", "www.com"})


@pytest.mark.parametrize(
    ("host", "scope", "expected"),
    [
        ("anything.invalid", "any", True),
        ("www.example.com", "host", True),
        ("example.com", "host", False),
        ("www.example.com:8080", "host", False),
        ("127.0.0.1:8080", "host", True),
        ("127.0.0.1", "host", False),
        ("www.example.com", "domain", True),
        ("example.com", "domain", True),
        ("shop.example.com", "domain", True),
        ("a.b.example.com", "domain", True),
        ("shop.example.com:8080", "domain", True),
        ("notexample.com", "domain", False),
        ("example.com.evil.net", "domain", False),
        ("127.0.0.1", "domain", True),
        ("127.0.0.1:9999", "domain", True),
        ("x.127.0.0.1", "domain", False),
        ("127.0.0.2", "domain", False),
        ("[::1]", "domain", True),
        ("[::2]:8443", "domain", False),
        ("www.com", "domain", True),
        ("shop.www.com", "domain", True),
        ("other.com", "domain", False),
    ],
)
def test_in_scope(host: str, scope: str, expected: bool) -> None:
    """Scope 'any' admits all, 'host' exact seed hosts, 'domain' the seed domains sans 'www.'."""
    assert in_scope(host, SEEDS, scope) is expected


@pytest.mark.parametrize("scope", list(Scope))
def test_in_scope_accepts_scope_enum(scope: Scope) -> None:
    """The Scope StrEnum works wherever the plain string does."""
    assert in_scope("www.example.com", SEEDS, scope) is True


def test_in_scope_rejects_unknown_scope() -> None:
    """An unknown scope is a programming error and raises ValueError."""
    with pytest.raises(ValueError, match="unknown scope"):
        in_scope("example.com", SEEDS, "galaxy")
