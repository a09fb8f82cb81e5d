"""The Renderer: a fixed number of tabs in one headless browser, recycled and restarted.

Each page gets a fresh browser context (no cookies or storage carried between pages). The
browser is recycled after ``recycle_after`` pages or when the resident memory of its process
tree passes ``memory_cap`` bytes: new pages go to a new browser while the pages in flight finish
in the old one. A crash (the pipe closes) restarts the browser and retries the page once.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from scraper.render.browser import Browser, BrowserCrashed, find_browser
from scraper.render.hosts import HostGate
from scraper.render.page import NET_END, Page
from scraper.render.procs import tree_rss
from scraper.render.proxy import auth_answer, browser_proxy
from scraper.render.requests import RequestFilter
from scraper.render.results import RenderResult, RenderStats, Site

_READ_DOM = "document.documentElement ? document.documentElement.outerHTML : ''"
_POLL = 0.05
MEASURE_EVERY_S = 0.5  # the browser's memory is read after a page at most this often


class _Instance:
    """One browser process and the pages in it."""

    def __init__(
        self,
        check: RequestFilter,
        tasks: asyncio.TaskGroup,
        gate: HostGate | None,
        documents: HostGate,
    ) -> None:
        self.tasks = tasks
        self.gate = gate  # sub-requests: per_host at a time
        self.documents = documents  # pages' own requests: one at a time a host, until answered
        self.browser = Browser(self._event, tasks)
        self.check = check
        self.pages: dict[str, Page] = {}
        self.served = 0
        self.inflight = 0
        self.retired = False

    def _event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        page = self.pages.get(session or "")
        if page is None:
            return
        page.track(method, params)
        if method in NET_END:
            self._ended(page, params.get("requestId", ""))
        if method == "Fetch.requestPaused":
            task = self.tasks.create_task(self._verdict(page, params))
            page.verdicts.add(task)
            task.add_done_callback(page.verdicts.discard)
        elif method == "Fetch.authRequired":
            answer = auth_answer(page.proxy, params, page.answered)
            self.browser.post("Fetch.continueWithAuth", answer, page.session)
        elif method == "Page.lifecycleEvent" and params.get("name") == "networkIdle":
            page.idle_loaders.add(params.get("loaderId", ""))
            if page.loader in page.idle_loaders:
                page.idle.set()
        elif method == "Network.responseReceived" and params.get("type") == "Document":
            self._answered(page, params)

    def _ended(self, page: Page, key: str) -> None:
        """A request finished or failed: its places in the gates are free."""
        self.documents.leave(key)
        if self.gate is not None:
            self.gate.leave(key)

    def _answered(self, page: Page, params: dict[str, Any]) -> None:
        """A page's own response came: the host's next page request may go (its delay counted
        from now, when the server surely had this one)."""
        self.documents.leave(params.get("requestId", ""))
        if page.on_sent is not None:
            page.on_sent(time.monotonic())
        if page.status is None:
            page.status = int(params["response"]["status"])
            page.final_url = params["response"]["url"]
            page.content_type = str(params["response"].get("mimeType") or page.content_type)
            found = params["response"].get("headers") or {}
            page.headers = tuple((str(k), str(v)) for k, v in found.items())

    async def _verdict(self, page: Page, params: dict[str, Any]) -> None:
        request_id = params["requestId"]
        try:
            reason = await self.check.refusal(
                params["request"]["url"], params.get("resourceType", "")
            )
        except Exception:  # a check that fails refuses (and must not end the TaskGroup)
            reason = "check_failed"
        document = params.get("resourceType") == "Document"
        if reason is None and self.gate is not None and not document:
            key = str(params.get("networkId") or request_id)
            await self.gate.enter(params["request"]["url"], key)
            page.held.add(key)
            if page.closed:  # the page ended while the request waited
                self.gate.leave(key)
                return
        if reason is None and document:
            key = str(params.get("networkId") or request_id)
            await self.documents.enter(params["request"]["url"], key)  # one at a time a host
            page.held.add(key)
            if page.closed:
                self.documents.leave(key)
                return
            if page.before_send is not None:
                await page.before_send()  # the host's pace, right before the request goes out
        if reason is None:
            page.requests += 1
            self.browser.post("Fetch.continueRequest", {"requestId": request_id}, page.session)
            if page.on_sent is not None and document:
                page.on_sent(time.monotonic())  # the navigation (each redirect hop too)
        else:
            page.refused += 1
            verdict = {"requestId": request_id, "errorReason": "BlockedByClient"}
            self.browser.post("Fetch.failRequest", verdict, page.session)


class Renderer:
    """``async with Renderer(...) as r: await r.render(url)``; one browser, ``tabs`` pages."""

    def __init__(
        self,
        check: RequestFilter,
        *,
        tabs: int = 2,
        recycle_after: int = 100,
        memory_cap: int = 600 * 1024 * 1024,
        timeout: float = 15.0,
        binary: str | None = None,
        user_agent: str | None = None,
        per_host: Callable[[str], int] | None = None,
    ) -> None:
        """``per_host(host)``: the most sub-requests to ``host`` in flight at once (no limit
        without it)."""
        self._check = check
        self._gate = None if per_host is None else HostGate(per_host)
        self._documents = HostGate(lambda host: 1)
        self._tabs = asyncio.Semaphore(tabs)
        self._setup = asyncio.Semaphore(tabs)
        self._recycle_after = recycle_after
        self._memory_cap = memory_cap
        self._timeout = timeout
        self._binary = binary or find_browser()
        self._user_agent = user_agent
        self._current: _Instance | None = None
        self._starting = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()
        self._tasks = asyncio.TaskGroup()  # every task of the browser and its pages
        self.stats = RenderStats(tabs=tabs)
        self._measured_at = 0.0

    @property
    def pid(self) -> int:
        """The current browser's process id (0 when none runs)."""
        return self._current.browser.pid if self._current else 0

    async def __aenter__(self) -> "Renderer":
        if self._binary is None:
            raise FileNotFoundError("no headless Chromium found (install chromium-headless-shell)")
        await self._tasks.__aenter__()
        await self._instance()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
        await self._tasks.__aexit__(None, None, None)

    async def close(self) -> None:
        if self._current is not None:
            self._closing.add(self._tasks.create_task(self._current.browser.close()))
            self._current = None
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _instance(self) -> _Instance:
        async with self._starting:
            if self._current is None or self._current.browser.dead:
                if self._current is not None:  # died between pages: restart
                    self._retire(self._current)
                    self.stats.restarts += 1
                instance = _Instance(self._check, self._tasks, self._gate, self._documents)
                assert self._binary is not None
                await instance.browser.start(self._binary)
                self._current = instance
            return self._current

    def _retire(self, instance: _Instance) -> None:
        instance.retired = True
        if self._current is instance:
            self._current = None
        if instance.inflight == 0:
            task = self._tasks.create_task(instance.browser.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def render(
        self,
        url: str,
        *,
        wait_for: str | None = None,
        before: Callable[[], Awaitable[None]] | None = None,
        site: "Site | None" = None,
    ) -> RenderResult:
        """Load ``url`` in a fresh context and return its DOM; one retry after a browser crash.

        ``before`` is awaited right before the page's own request goes out (in its interception:
        the host's politeness slot).
        ``site`` gives the headers and cookies the page's requests carry, and who is told when
        the page's own request goes out.
        """
        try:
            return await self._render_once(url, wait_for, before, site or Site())
        except BrowserCrashed:
            self.stats.restarts += 1
            if self._current is not None and self._current.browser.dead:
                self._retire(self._current)
            return await self._render_once(url, wait_for, before, site or Site())

    async def _render_once(
        self,
        url: str,
        wait_for: str | None,
        before: Callable[[], Awaitable[None]] | None,
        site: "Site",
    ) -> RenderResult:
        """Set the page up (``tabs`` at a time), then load it in a tab (``tabs`` at a time): one
        page is made ready while another loads, so a tab never waits for the set-up."""
        instance: _Instance | None = None
        context, page = "", Page("")
        try:
            async with self._setup:
                instance = await self._instance()
                instance.inflight += 1
                proxy = browser_proxy(site.proxy)
                made = {"disposeOnDetach": True, **(proxy.context_params() if proxy else {})}
                context = (await instance.browser.send("Target.createBrowserContext", made))[
                    "browserContextId"
                ]
                page = await self._open(instance, context, url, site)
                await self._tabs.acquire()  # held: at most ``tabs`` pages wait set up
            try:
                return await self._load(instance, page, url, wait_for, before)
            finally:
                self._tabs.release()
        finally:
            if instance is not None:
                instance.inflight -= 1
                instance.pages.pop(page.session, None)
                page.closed = True
                for key in page.held:
                    instance._ended(page, key)
                if context and not instance.browser.dead:
                    with contextlib.suppress(Exception):
                        await instance.browser.send(
                            "Target.disposeBrowserContext", {"browserContextId": context}
                        )
                self._after_page(instance)

    async def _open(self, instance: _Instance, context: str, url: str, site: "Site") -> Page:
        """A blank page in ``context``, its events on, the site's headers and cookies set."""
        send = instance.browser.send
        target = await send(
            "Target.createTarget", {"url": "about:blank", "browserContextId": context}
        )
        attached = await send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        proxy = browser_proxy(site.proxy)
        page = Page(session=attached["sessionId"], on_sent=site.on_sent, proxy=proxy)
        instance.pages[page.session] = page
        session = page.session
        fetch = {
            "patterns": [{"urlPattern": "*", "requestStage": "Request"}],
            "handleAuthRequests": bool(proxy and proxy.username),
        }
        steps = [
            send("Page.enable", None, session),
            send("Page.setLifecycleEventsEnabled", {"enabled": True}, session),
            send("Network.enable", None, session),
            send("Fetch.enable", fetch, session),
        ]
        user_agent = site.user_agent or self._user_agent
        if user_agent:
            steps.append(send("Network.setUserAgentOverride", {"userAgent": user_agent}, session))
        if site.headers:
            headers = {"headers": dict(site.headers)}
            steps.append(send("Network.setExtraHTTPHeaders", headers, session))
        if site.cookies:
            cookies = [{"name": k, "value": v, "url": url} for k, v in site.cookies]
            steps.append(send("Network.setCookies", {"cookies": cookies}, session))
        await asyncio.gather(*steps)
        return page

    async def _load(
        self,
        instance: _Instance,
        page: Page,
        url: str,
        wait_for: str | None,
        before: Callable[[], Awaitable[None]] | None,
    ) -> RenderResult:
        def send(method: str, params: dict[str, Any] | None = None) -> Awaitable[dict[str, Any]]:
            return instance.browser.send(method, params, page.session)

        page.before_send = before
        navigated = await send("Page.navigate", {"url": url})
        if navigated.get("errorText"):
            raise ConnectionError(f"{url}: {navigated['errorText']}")
        page.loader = navigated.get("loaderId")
        if page.loader in page.idle_loaders:
            page.idle.set()
        page.rearm()
        timed_out = not await self._ready(instance, page, wait_for)
        dom = await send("Runtime.evaluate", {"expression": _READ_DOM, "returnByValue": True})
        html = str(dom.get("result", {}).get("value", ""))
        self.stats.pages += 1
        self.stats.refused += page.refused
        return RenderResult(
            url,
            page.final_url or url,
            page.status,
            html,
            page.requests,
            page.refused,
            timed_out,
            page.content_type,
            page.headers,
        )

    async def _ready(self, instance: _Instance, page: Page, wait_for: str | None) -> bool:
        """Wait for network idle (or ``wait_for`` to match); False at the timeout."""
        deadline = time.monotonic() + self._timeout
        if wait_for is None:
            idle = asyncio.ensure_future(page.idle.wait())
            ended = asyncio.ensure_future(instance.browser.ended.wait())
            try:
                await asyncio.wait(
                    {idle, ended}, timeout=self._timeout, return_when="FIRST_COMPLETED"
                )
            finally:
                idle.cancel()
                ended.cancel()
            if instance.browser.dead:
                raise BrowserCrashed("the browser went away")
            return page.idle.is_set()
        probe = f"!!document.querySelector({_js_string(wait_for)})"
        while time.monotonic() < deadline:
            found = await instance.browser.send(
                "Runtime.evaluate", {"expression": probe, "returnByValue": True}, page.session
            )
            if found.get("result", {}).get("value") is True:
                return True
            await asyncio.sleep(_POLL)
        return False

    def _after_page(self, instance: _Instance) -> None:
        instance.served += 1
        if instance.browser.dead:
            if not instance.retired:
                self._retire(instance)
            return
        if not instance.retired:
            if time.monotonic() - self._measured_at >= MEASURE_EVERY_S:  # costs a few ms
                self.stats.memory = tree_rss(instance.browser.pid)
                self._measured_at = time.monotonic()
            if instance.served >= self._recycle_after or self.stats.memory > self._memory_cap:
                self.stats.recycles += 1
                self._retire(instance)
        elif instance.inflight == 0:
            self._retire(instance)


def _js_string(text: str) -> str:
    return json.dumps(text)
