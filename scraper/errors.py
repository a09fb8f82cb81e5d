"""One exception tree for the whole package.

Every error a user can see derives from :class:`ScraperError`; ``cli.main`` turns it into a one-line
message and the exit code it carries. Library errors (aiohttp, sqlite3) are translated into these at
the module that imports the library, never further up.
"""


class ScraperError(Exception):
    """A runtime failure the user should read as one line (exit code 1)."""

    exit_code = 1


class UsageError(ScraperError):
    """The user asked for something impossible: bad flag, bad file, no valid seed (exit code 2)."""

    exit_code = 2


class InvalidURL(UsageError):
    """A string that cannot be crawled as an http(s) URL; ``reason`` says why in a few words."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"invalid URL {url!r}: {reason}")
        self.url = url
        self.reason = reason


class StoreError(ScraperError):
    """The database cannot be used: not a crawl database, locked, corrupt, or unwritable."""


class FetchError(ScraperError):
    """A URL could not be fetched; ``reason`` is short and stable (``timeout``, ``http_503``)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.attempts = 1


class TransientFetchError(FetchError):
    """Worth retrying: connection errors, timeouts, 5xx and 429."""

    def __init__(self, reason: str, detail: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(reason, detail)
        self.retry_after_s = retry_after_s


class PermanentFetchError(FetchError):
    """Not worth retrying: bad scheme, too many redirects, body too large."""


class Interrupted(ScraperError):
    """Stopped by SIGINT or SIGTERM before the end: exit 130 or 143 (128 + the signal number)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum
