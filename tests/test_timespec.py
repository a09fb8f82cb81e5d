"""Durations and times as users write them (``--older-than``, ``--since``, ``--changed-since``)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from scraper.errors import UsageError
from scraper.timespec import iso, later, parse_duration, parse_time

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("6h", 21600), ("2d", 172800), ("1w", 604800),
     ("1.5h", 5400), (" 2D ", 172800), ("0s", 0)],
)  # fmt: skip
def test_durations_take_a_number_and_a_unit(text: str, seconds: float):
    """A number with s, m, h, d or w (any case; none: seconds) is that many seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "2 days", "-1h", "1y", "1h30m"])
def test_a_bad_duration_names_the_option(text: str):
    """Anything else is a usage error naming the option and giving examples."""
    with pytest.raises(UsageError, match=r"--older-than: .* is not a duration \(examples: 90s"):
        parse_duration(text, "--older-than")


@pytest.mark.parametrize(
    ("text", "moment"),
    [("2026-03-03", datetime(2026, 3, 3, tzinfo=UTC)),
     ("2026-03-03T10:00", datetime(2026, 3, 3, 10, tzinfo=UTC)),
     ("2026-03-03T10:00:00+02:00", datetime(2026, 3, 3, 8, tzinfo=UTC)),
     ("2026-03-03T10:00:00Z", datetime(2026, 3, 3, 10, tzinfo=UTC)),
     ("6h", NOW - timedelta(hours=6)),
     ("2d", NOW - timedelta(days=2))],
)  # fmt: skip
def test_times_are_iso_dates_or_durations_ago(text: str, moment: datetime):
    """ISO-8601 dates and times (UTC without an offset) or a duration before now, in UTC."""
    assert parse_time(text, now=NOW) == moment


def test_a_bad_time_names_the_option():
    """Neither form: a usage error naming the option."""
    with pytest.raises(UsageError, match="--since: 'last week' is neither an ISO-8601 date"):
        parse_time("last week", "--since", now=NOW)


def test_stored_times_have_one_width_and_compare_as_text():
    """Stored times are UTC with milliseconds, so text order is time order."""
    east = datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    assert iso(east) == "2026-03-02T20:00:00.000+00:00"
    assert later("2026-03-02T20:00:00.000+00:00", 86400.5) == "2026-03-03T20:00:00.500+00:00"
    assert iso(NOW) < later(iso(NOW), 0.001)
