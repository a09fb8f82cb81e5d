"""The proxy a rendered page goes through: the one the Fetcher's pool chose for its host.

Chrome takes a proxy per browser context (``Target.createBrowserContext`` with
``proxyServer``), without credentials: those answer the proxy's ``407`` challenge through
``Fetch.authRequired`` -> ``Fetch.continueWithAuth`` (once a request: a second challenge means
the credentials were refused, and is cancelled). Loopback is proxied too (``<-loopback>``
removes Chrome's implicit bypass), like the HTTP transport does. The password is never logged.
"""

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

# Chrome's errors that mean the proxy failed rather than the site (net/base/net_error_list.h).
PROXY_ERRORS = (
    "ERR_PROXY_CONNECTION_FAILED",
    "ERR_TUNNEL_CONNECTION_FAILED",
    "ERR_PROXY_AUTH_UNSUPPORTED",
    "ERR_PROXY_AUTH_REQUESTED",
    "ERR_UNEXPECTED_PROXY_AUTH",
    "ERR_PROXY_CERTIFICATE_INVALID",
    "ERR_SOCKS_CONNECTION_FAILED",
    "ERR_SOCKS_CONNECTION_HOST_UNREACHABLE",
    "ERR_PROXY_HTTP_1_1_REQUIRED",
    "ERR_INVALID_AUTH_CREDENTIALS",
)


@dataclass(frozen=True, slots=True)
class BrowserProxy:
    """``server`` as Chrome takes it (``scheme://host:port``), and the credentials apart."""

    server: str
    username: str = ""
    password: str = field(default="", repr=False)

    def context_params(self) -> dict[str, Any]:
        """What ``Target.createBrowserContext`` adds for this proxy."""
        return {"proxyServer": self.server, "proxyBypassList": "<-loopback>"}


def browser_proxy(url: str) -> BrowserProxy | None:
    """``url`` (a proxy with its credentials expanded, or ``""``) as the browser's proxy."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return BrowserProxy(
        f"{parts.scheme}://{host}{port}",
        unquote(parts.username or ""),
        unquote(parts.password or ""),
    )


def auth_answer(
    proxy: BrowserProxy | None, params: dict[str, Any], answered: set[str]
) -> dict[str, Any]:
    """The ``Fetch.continueWithAuth`` parameters for a ``Fetch.authRequired`` event: the
    proxy's credentials once a request (``answered`` remembers which), else cancelled."""
    request_id = str(params.get("requestId", ""))
    challenge = params.get("authChallenge") or {}
    response: dict[str, str] = {"response": "CancelAuth"}
    if (
        proxy is not None
        and proxy.username
        and challenge.get("source") == "Proxy"
        and request_id not in answered
    ):
        answered.add(request_id)
        response = {
            "response": "ProvideCredentials",
            "username": proxy.username,
            "password": proxy.password,
        }
    return {"requestId": request_id, "authChallengeResponse": response}


def is_proxy_error(text: str) -> bool:
    """Whether a navigation's ``errorText`` is the proxy's failure."""
    return any(code in text for code in PROXY_ERRORS)
