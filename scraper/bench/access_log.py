"""What a site saw of a crawl: per-host request timings read from the bench server's access log.

The server (:func:`scraper.bench.site.serve` with an access log) writes one line per request:
``host end_s duration_s status`` (nginx's ``$host $msec $request_time $status``: seconds with
millisecond resolution; the request started at ``end - duration``, when the server read its
first bytes). :func:`read_access_log` parses it; :func:`analyze` computes what politeness is
about, per host: the gaps between the starts of consecutive requests, and the most requests in
flight to one host at once. Times are whole milliseconds, so no float rounding decides a gap.
"""

import heapq
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scraper.errors import ScraperError

TOLERANCE_MS = 10  # a gap this much below the delay counts as short (the log's resolution is 1)


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the server logged it: host name, start and end (ms since the epoch)."""

    host: str
    start_ms: int
    end_ms: int
    status: int


@dataclass(frozen=True, slots=True)
class SiteView:
    """Per-host politeness as the site saw it (gaps: between starts of one host's requests)."""

    requests: int
    hosts: int
    ok: int  # status 200
    fewest_per_host: int
    most_per_host: int
    span_s: float  # first request's start to the last one's end
    gaps: int
    shortest_gap_s: float | None  # None: no host had two requests
    median_gap_s: float | None
    p99_gap_s: float | None
    short_gaps: int  # gaps below the delay less TOLERANCE_MS
    max_in_flight: int  # most requests in flight to one host at once


def _millis(text: str) -> int:
    """``"1733456789.123"`` as 1733456789123: whole milliseconds, without a float."""
    whole, _, fraction = text.partition(".")
    return int(whole) * 1000 + int((fraction + "000")[:3])


def parse_line(line: str) -> Request:
    """One access-log line; ValueError if it is not ``host end_s duration_s status``."""
    host, end, duration, status = line.split()
    end_ms = _millis(end)
    return Request(host, end_ms - _millis(duration), end_ms, int(status))


def read_access_log(path: Path) -> list[Request]:
    """Every request in the log at ``path``; ScraperError naming the line if one is malformed."""
    requests = []
    with path.open(encoding="utf-8", errors="replace") as log:
        for number, line in enumerate(log, 1):
            if not line.strip():
                continue
            try:
                requests.append(parse_line(line))
            except ValueError:
                raise ScraperError(f"bench: {path}:{number}: not an access-log line") from None
    return requests


def nearest_rank(ordered: list[int], fraction: float) -> int:
    """The nearest-rank percentile of an ascending, non-empty list: p99 is ``fraction`` 0.99."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def most_in_flight(requests: Iterable[Request]) -> int:
    """The most of these requests in flight at once; one ending in the millisecond another
    starts does not overlap it (the log cannot tell which came first)."""
    ends: list[int] = []
    most = 0
    for request in sorted(requests, key=lambda r: r.start_ms):
        while ends and ends[0] <= request.start_ms:
            heapq.heappop(ends)
        heapq.heappush(ends, request.end_ms)
        most = max(most, len(ends))
    return most


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000


def analyze(requests: list[Request], delay_s: float) -> SiteView:
    """Gaps between consecutive request starts per host, and in-flight requests per host."""
    by_host: defaultdict[str, list[Request]] = defaultdict(list)
    for request in requests:
        by_host[request.host].append(request)
    gaps: list[int] = []
    in_flight = 0
    for host_requests in by_host.values():
        starts = sorted(r.start_ms for r in host_requests)
        gaps += [b - a for a, b in itertools.pairwise(starts)]
        in_flight = max(in_flight, most_in_flight(host_requests))
    gaps.sort()
    counts = [len(rs) for rs in by_host.values()] or [0]
    floor_ms = round(delay_s * 1000) - TOLERANCE_MS
    return SiteView(
        requests=len(requests),
        hosts=len(by_host),
        ok=sum(r.status == 200 for r in requests),
        fewest_per_host=min(counts),
        most_per_host=max(counts),
        span_s=(
            (max(r.end_ms for r in requests) - min(r.start_ms for r in requests)) / 1000
            if requests
            else 0.0
        ),
        gaps=len(gaps),
        shortest_gap_s=_seconds(gaps[0] if gaps else None),
        median_gap_s=_seconds(nearest_rank(gaps, 0.5) if gaps else None),
        p99_gap_s=_seconds(nearest_rank(gaps, 0.99) if gaps else None),
        short_gaps=sum(1 for gap in gaps if gap < floor_ms),
        max_in_flight=in_flight,
    )


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where a crawl's wall time went, in seconds from its first worker's start: the first
    request's start, when half and nine tenths of the hosts had their last answer, and the last
    answer (after it: the workers seeing the end and exiting)."""

    first_request_s: float
    half_hosts_done_s: float
    most_hosts_done_s: float  # nine tenths
    last_answer_s: float


def timeline(requests: list[Request], started_ms: int) -> Timeline | None:
    """The crawl's :class:`Timeline` from its requests; None without requests."""
    if not requests:
        return None
    done: defaultdict[str, int] = defaultdict(int)
    for request in requests:
        done[request.host] = max(done[request.host], request.end_ms)
    ends = sorted(done.values())
    return Timeline(
        first_request_s=(min(r.start_ms for r in requests) - started_ms) / 1000,
        half_hosts_done_s=(nearest_rank(ends, 0.5) - started_ms) / 1000,
        most_hosts_done_s=(nearest_rank(ends, 0.9) - started_ms) / 1000,
        last_answer_s=(ends[-1] - started_ms) / 1000,
    )
