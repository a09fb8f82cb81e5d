"""Durations and points in time as users write them: ``90s``, ``15m``, ``6h``, ``2d``, ``1w``
(a plain number is seconds), and ISO-8601 dates and times (``2026-03-03``,
``2026-03-03T10:00``, with an offset or in UTC) or a duration meaning that long ago.

Times are stored as ISO-8601 text in UTC with milliseconds (``2026-03-03T10:00:00.000+00:00``,
as ``pages.fetched_at``): one fixed width, so they compare as text in SQLite.
"""

import re
from datetime import UTC, datetime, timedelta

from scraper.errors import UsageError

DURATION_EXAMPLES = "90s, 15m, 6h, 2d, 1w"  # what help and errors show, the same list
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in ``text`` (``2d``, ``6h``, ``90``); UsageError naming ``what`` otherwise."""
    found = _DURATION.fullmatch(text)
    if found is None:
        raise UsageError(f"{what}: {text!r} is not a duration (examples: {DURATION_EXAMPLES})")
    return float(found[1]) * _UNITS[(found[2] or "s").lower()]


def parse_time(text: str, what: str = "time", now: datetime | None = None) -> datetime:
    """The UTC moment ``text`` names: an ISO-8601 date or date and time (no offset: UTC), or a
    duration before ``now`` (``2d``: two days ago)."""
    if _DURATION.fullmatch(text):
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(text, what))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what}: {text!r} is neither an ISO-8601 date or time (2026-03-03, "
            "2026-03-03T10:00) nor a duration ago (6h, 2d)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as stored: UTC, milliseconds, ``+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def later(at: str, seconds: float) -> str:
    """The stored form of ``seconds`` after the stored time ``at``."""
    return iso(datetime.fromisoformat(at) + timedelta(seconds=seconds))
