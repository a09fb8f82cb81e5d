"""Sessions: the cookie jar kept in the crawl database, and the logins of the sites that have one.

The jar (cookies on for some host) is loaded from the store before the first page, so a
``resume``, a recrawl or another worker goes on with the session; it is saved when it changed,
at most every :data:`SAVE_EVERY_S` seconds, after each login, and when the workers end.

A site with ``[site."PATTERN".login]`` is logged in to before its first page, once per host
under a lock (concurrent fetchers of the host wait for it): a GET of the form (its hidden
fields, CSRF tokens included, are sent back), then the form sent with the configured fields,
whose ``${VAR}`` references are resolved from the environment at that moment only (a login
page that sends us on to a page passing the ``success`` check means the session is alive:
nothing is sent). A host whose cookies came from the database is not logged in to again.
Landing on ``session_lost`` (by default the login page) means the session is gone: log in again
once and fetch the page again; landing there again fails the page with ``auth_lost``. After
:data:`MAX_STRIKES` such failures in a row on a host, its pages fail at once (no more logins).
Field values never reach a log, an error or the database.
"""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from scraper.config import Settings
from scraper.errors import FetchError, ScraperError
from scraper.fetch import Fetcher, FetchHooks, FetchRequest, jar_cookies, restore_cookies
from scraper.models import FetchResult
from scraper.parse import find_login_form, has_selector
from scraper.sites import LoginSpec, url_matches
from scraper.storage import CrawlStore
from scraper.urls import join_url, url_host

log = logging.getLogger(__name__)

SAVE_EVERY_S = 2.0  # the jar is saved at most this often while the crawl runs
AUTH_LOST = "auth_lost"  # the failure reason of a page whose session could not be restored
MAX_STRIKES = 3  # logins again in a row not followed by a page: the host logs in no more


class LoginFailed(ScraperError):
    """A site's login did not succeed (the message names the site, never a field's value)."""


@dataclasses.dataclass(slots=True)
class _Host:
    """One host's login state: the lock its fetchers wait on, how often it logged in."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    logins: int = 0  # 0: not logged in yet (a session from the database counts as 1)
    strikes: int = 0  # logins again since the host's last page that was not lost


class Sessions:
    """The crawl's cookie jar in the store, and its logins (see the module docstring)."""

    def __init__(self, settings: Settings, fetcher: Fetcher, store: CrawlStore) -> None:
        self._settings = settings
        self._fetcher = fetcher
        self._store = store
        self._hosts: dict[str, _Host] = {}
        self._loading = asyncio.Lock()
        self._loaded = False
        self._kept: set[str] = set()  # hostnames whose cookies came from the database
        self._saved_keys: set[tuple[str, str, str]] = set()
        self._saved_changes = 0
        self._saved_at = 0.0
        self._saving = asyncio.Lock()
        for rule in settings.sites:  # a ${VAR} not set: an error before anything is sent
            for name, value in rule.values:
                if name == "login" and isinstance(value, LoginSpec):
                    value.values(rule.pattern)

    # -- the jar in the store -----------------------------------------------------------------

    async def _load(self) -> None:
        """Put the cookies kept by the crawl in the jar (once, before the first page)."""
        async with self._loading:
            jar = self._fetcher.cookie_jar
            if self._loaded or jar is None:
                self._loaded = True
                return
            kept = await self._store.load_cookies()
            restored = restore_cookies(jar, kept)
            self._kept = {c.domain for c in kept}
            self._saved_keys = {c.key for c in kept}
            self._saved_changes = jar.changes
            self._loaded = True
            if restored:
                log.info("cookies: %d from the crawl database", restored)

    async def save(self, *, force: bool = True) -> None:
        """Save the jar if it changed since the last save (``force=False``: and if that was
        :data:`SAVE_EVERY_S` ago; skipped while another save runs)."""
        jar = self._fetcher.cookie_jar
        if jar is None or not self._loaded or jar.changes == self._saved_changes:
            return
        if not force and (
            time.monotonic() - self._saved_at < SAVE_EVERY_S or self._saving.locked()
        ):
            return
        async with self._saving:
            changes, cookies = jar.changes, jar_cookies(jar)
            keys = {c.key for c in cookies}
            await self._store.save_cookies(cookies, self._saved_keys - keys)
            self._saved_keys, self._saved_changes = keys, changes
            self._saved_at = time.monotonic()

    # -- logins -------------------------------------------------------------------------------

    def _login(self, host: str) -> LoginSpec | None:
        return self._settings.for_host(host).login

    async def ready(self, host: str, url: str, hooks: FetchHooks) -> int:
        """Before a page of ``host``: the jar loaded, and the site logged in to if it has a
        login and is not yet (waiting for a login under way). Returns the host's login count,
        for :meth:`restore`. Raises LoginFailed when the first login fails."""
        if not self._loaded:
            await self._load()
        if self._login(host) is None:
            return 0
        state = self._hosts.setdefault(host, _Host())
        if state.logins:
            return state.logins
        async with state.lock:
            if not state.logins:
                if self._kept_session(urlsplit(url).hostname or ""):
                    log.info("login: %s goes on with the session kept in the database", host)
                else:
                    await self._log_in(host, url, hooks)
                state.logins += 1
        return state.logins

    def _kept_session(self, hostname: str) -> bool:
        """Whether the database gave the jar cookies for ``hostname`` (or a parent domain)."""
        return any(hostname == d or hostname.endswith(f".{d}") for d in self._kept)

    def lost(self, host: str, result: FetchResult) -> bool:
        """Whether ``result`` landed where the site's session is gone (the login page, or its
        ``session_lost`` pattern). A page that did not clears the host's strike."""
        spec = self._login(host)
        if spec is None:
            return False
        landed = result.final_url
        if spec.session_lost:
            gone = url_matches(spec.session_lost, landed)
        else:
            login_url = join_url(landed, spec.url) or spec.url
            gone = urlsplit(landed).path == urlsplit(login_url).path
        if not gone and host in self._hosts:
            self._hosts[host].strikes = 0
        return gone

    async def restore(self, host: str, url: str, hooks: FetchHooks, seen: int) -> bool:
        """The session of ``host`` is gone (seen at login count ``seen``): log in again, unless
        another fetcher did since, or :data:`MAX_STRIKES` logins again came to nothing. Whether
        the page may be fetched again."""
        state = self._hosts.setdefault(host, _Host())
        async with state.lock:
            if state.logins != seen:
                return True  # logged in again meanwhile
            if state.strikes >= MAX_STRIKES:
                return False
            state.strikes += 1
            try:
                await self._log_in(host, url, hooks)
            except LoginFailed as exc:
                log.warning("%s", exc)
                return False
            state.logins += 1
            return True

    async def _log_in(self, host: str, url: str, hooks: FetchHooks) -> None:
        spec = self._login(host)
        assert spec is not None
        login_url = join_url(url, spec.url)
        if login_url is None:
            raise LoginFailed(f"site {host}: login url {spec.url!r} is not a URL")
        hooks = dataclasses.replace(hooks, allow_redirect=_same_host(host))
        log.info("login: %s at %s", host, login_url)
        page = await self._fetch(host, login_url, hooks)
        form = find_login_form(page.body, page.charset, page.final_url, spec.form)
        if form is None and self._logged_in_already(spec, page, login_url):
            log.info("login: %s is logged in already (sent on to %s)", host, page.final_url)
            return
        if form is None:
            raise LoginFailed(f"site {host}: no login form at {page.final_url}")
        fields = dict(form.fields) | spec.values(host)
        if form.method == "POST":
            request = FetchRequest(form.action, method="POST", form=fields)
        else:
            request = FetchRequest(
                form.action + ("&" if "?" in form.action else "?") + urlencode(fields)
            )
        result = await self._fetch(host, request, hooks)
        problem = self._problem(spec, result, login_url)
        if problem:
            raise LoginFailed(f"site {host}: login failed: {problem}")
        log.info("login: %s logged in", host)
        await self.save()

    async def _fetch(
        self, host: str, request: FetchRequest | str, hooks: FetchHooks
    ) -> FetchResult:
        try:
            return await self._fetcher.fetch(request, hooks)
        except FetchError as exc:
            url = request if isinstance(request, str) else request.url
            raise LoginFailed(f"site {host}: login failed: {exc.reason} at {url}") from None

    def _logged_in_already(self, spec: LoginSpec, page: FetchResult, login_url: str) -> bool:
        """Whether the login page, asked for, sent us on to a page that passes the success
        check (a site's answer to a visitor whose session is alive)."""
        moved = urlsplit(page.final_url).path != urlsplit(login_url).path
        return moved and not self._problem(spec, page, login_url)

    def _problem(self, spec: LoginSpec, result: FetchResult, login_url: str) -> str:
        """Why ``result`` (the answer to the form) is not a successful login; "" if it is."""
        landed = urlsplit(result.final_url).path or "/"
        if result.status >= 400:
            return f"status {result.status} at {landed}"
        if spec.success_is_url:
            ok = url_matches(spec.success, result.final_url)
        elif spec.success:
            ok = bool(result.body) and has_selector(result.body, result.charset, spec.success)
        else:
            ok = urlsplit(result.final_url).path != urlsplit(login_url).path
        return "" if ok else f"still not logged in at {landed} (status {result.status})"


def _same_host(host: str) -> Callable[[str], Awaitable[bool]]:
    """A login's redirects: followed while they stay on the site's host."""

    async def allow(target: str) -> bool:
        return url_host(target) == host

    return allow
