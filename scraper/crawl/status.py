"""What a running crawl is doing, as a snapshot another process can read.

The engine's ``status`` task builds a :class:`Snapshot` about once a second and stores it
in the database (``meta`` key ``status``) as JSON: counters, rates over the last minute, the
URLs in flight with their age and attempt, the busiest hosts' queues and next allowed start,
and every asyncio task with what it is waiting on. ``scraper status`` reads it back.
"""

import dataclasses
import json
import os
import shlex
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from scraper.crawl.tasks import TaskInfo
from scraper.storage import (
    PendingHosts,
    WorkerStatus,
    crawl_running,
    db_label,
    open_read_store,
)

RATE_WINDOW_S = 60.0
RATE_COUNTERS = frozenset(
    {"fetched", "stored", "checked", "failed", "blocked", "retried", "discovered"}
)
TOP_HOSTS = 20
TOP_IN_FLIGHT = 50


@dataclass(frozen=True, slots=True)
class FlightInfo:
    url: str
    host: str
    age_s: float
    attempt: int


@dataclass(frozen=True, slots=True)
class HostInfo:
    host: str
    queued: int
    in_flight: int
    delay_s: float
    next_start_in_s: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    pid: int
    state: str  # "running", "stopping", "finished", "interrupted"
    updated_at: str  # ISO-8601 UTC
    started_at: str
    elapsed_s: float
    counters: dict[str, int]
    rates_per_min: dict[str, float]
    in_flight: list[FlightInfo] = field(default_factory=list)
    hosts: list[HostInfo] = field(default_factory=list)
    tasks: list[TaskInfo] = field(default_factory=list)
    renderer: str = ""  # the headless browser's line, once it has started

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "Snapshot":
        raw: dict[str, Any] = json.loads(text)
        raw["in_flight"] = [FlightInfo(**x) for x in raw.get("in_flight", [])]
        raw["hosts"] = [HostInfo(**x) for x in raw.get("hosts", [])]
        raw["tasks"] = [TaskInfo(**x) for x in raw.get("tasks", [])]
        return cls(**raw)

    def age_s(self) -> float:
        """Seconds since this snapshot was taken."""
        return (datetime.now(UTC) - datetime.fromisoformat(self.updated_at)).total_seconds()


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Rates:
    """Counter deltas over a sliding window, per minute."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self._window_s = window_s
        self._samples: deque[tuple[float, Mapping[str, int]]] = deque()

    def update(self, counters: Mapping[str, int], now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        self._samples.append((now, dict(counters)))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window_s:
            self._samples.popleft()
        then, old = self._samples[0]
        span = now - then
        if span <= 0:
            return dict.fromkeys(counters, 0.0)
        return {k: round((v - old.get(k, 0)) * 60 / span, 1) for k, v in counters.items()}


def build_snapshot(
    *,
    state: str,
    started_at: str,
    elapsed_s: float,
    counters: dict[str, int],
    rates: Rates,
    in_flight: list[FlightInfo],
    hosts: list[HostInfo],
    tasks: list[TaskInfo],
    renderer: str = "",
) -> Snapshot:
    busiest = sorted(hosts, key=lambda h: (h.queued + h.in_flight, h.host), reverse=True)
    oldest = sorted(in_flight, key=lambda f: f.age_s, reverse=True)
    return Snapshot(
        pid=os.getpid(),
        state=state,
        updated_at=_now_iso(),
        started_at=started_at,
        elapsed_s=round(elapsed_s, 1),
        counters=counters,
        rates_per_min=rates.update({k: v for k, v in counters.items() if k in RATE_COUNTERS}),
        in_flight=oldest[:TOP_IN_FLIGHT],
        hosts=busiest[:TOP_HOSTS],
        tasks=tasks,
        renderer=renderer,
    )


class WorkerEnd(StrEnum):
    """How a worker of a shared crawl left it (it says so in the database as it goes)."""

    FINISHED = "finished"  # the crawl was over, or nothing was left for it
    STOPPED = "stopped"  # a signal (Ctrl-C, SIGTERM): its claims went back to pending
    FAILED = "failed"  # an error ended it


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One worker of a shared crawl (PostgreSQL): its name, heartbeat and last snapshot; how it
    ended, if it did; the hosts it holds, and whether it is idle (alive, holding no host and
    fetching nothing)."""

    name: str
    alive: bool
    heartbeat_age_s: float
    snapshot: Snapshot | None
    ended: WorkerEnd | None = None
    ended_age_s: float | None = None
    error: str | None = None
    hosts_held: int | None = None
    idle: bool = False

    @property
    def dead(self) -> bool:
        """Silent without having said it left: killed, crashed or cut off."""
        return not self.alive and self.ended is None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What ``scraper status`` knows: is a crawl running, and its last snapshot; on a shared
    crawl (PostgreSQL), every worker's (``snapshot`` is then the first live worker's)."""

    db: str
    running: bool
    snapshot: Snapshot | None
    workers: tuple[WorkerReport, ...] = ()
    pending: PendingHosts | None = None  # a shared crawl's hosts with pending URLs, held or not
    totals: tuple[tuple[str, int], ...] = ()  # the crawl's, from the store: pages, URLs by state

    @property
    def stale(self) -> bool:
        """The last snapshot says running but no crawl holds the database: it died."""
        live_states = ("running", "stopping")
        return not self.running and self.snapshot is not None and self.snapshot.state in live_states

    def to_json(self) -> str:
        snap = asdict(self.snapshot) if self.snapshot else None
        age = round(self.snapshot.age_s(), 1) if self.snapshot else None
        report = {"db": self.db, "running": self.running, "stale": self.stale}
        workers: dict[str, object] = {}
        if self.workers:
            workers["workers"] = [asdict(w) for w in self.workers]
            workers["pending_hosts"] = asdict(self.pending) if self.pending else None
        totals = {"totals": dict(self.totals)}
        return json.dumps(
            {**report, **totals, "age_s": age, "snapshot": snap, **workers}, ensure_ascii=False
        )


async def read_status(db: str | Path) -> StatusReport:
    """Probe the crawl lock (before opening the database), then read the snapshots."""
    running = crawl_running(db)
    async with open_read_store(db) as store:
        workers = await store.workers()
        pending = await store.pending_hosts() if any(w.name for w in workers) else None
        totals = await store.totals()
    if any(w.name for w in workers):
        return dataclasses.replace(_shared_report(db_label(db), workers, pending), totals=totals)
    text = workers[0].status if workers else None
    snapshot = Snapshot.from_json(text) if text else None
    return StatusReport(db_label(db), running, snapshot, totals=totals)


def _shared_report(
    db: str, workers: list[WorkerStatus], pending: PendingHosts | None
) -> StatusReport:
    reports = tuple(_worker_report(w) for w in workers)
    live = [w for w in reports if w.alive] or list(reports)
    return StatusReport(db, any(w.alive for w in reports), live[0].snapshot, reports, pending)


def _worker_report(w: WorkerStatus) -> WorkerReport:
    snap = Snapshot.from_json(w.status) if w.status else None
    alive = bool(w.alive)
    working = snap is None or snap.state != "running" or bool(snap.in_flight)
    return WorkerReport(
        w.name, alive, round(w.heartbeat_age_s or 0.0, 1), snap, ended=_end_of(w, snap),
        ended_age_s=None if w.ended_age_s is None else round(w.ended_age_s, 1),
        error=w.end_error, hosts_held=w.hosts_held,
        idle=alive and w.hosts_held == 0 and not working,
    )  # fmt: skip


def _end_of(w: WorkerStatus, snap: Snapshot | None) -> WorkerEnd | None:
    """How the worker left, from its end and its last snapshot (a signal's stop publishes
    ``interrupted``; a second signal cuts it at ``stopping``)."""
    if w.ended_age_s is None:
        return None
    if w.end_error:
        return WorkerEnd.FAILED
    if snap is not None and snap.state in ("interrupted", "stopping"):
        return WorkerEnd.STOPPED
    return WorkerEnd.FINISHED


def render_text(report: StatusReport, *, tasks: bool = False) -> str:
    """The report as plain text, for a terminal or a pipe: a short summary, with the in-flight
    URLs and busiest hosts while a crawl runs, and every task's stack position with ``tasks``;
    on a shared crawl, that for each worker: how it ended if it did, dead if it went silent
    without saying so, idle if it holds no host."""
    totals = [_totals_line(report.totals)] if report.totals else []
    if report.workers:
        head, _, rest = _workers_text(report, tasks=tasks).partition("\n")
        return "\n".join([head, *totals, *([rest] if rest else [])])
    snap = report.snapshot
    if snap is None:
        state = "running (no snapshot yet)" if report.running else "not running"
        return "\n".join([f"{report.db}: {state}; no crawl status recorded yet", *totals])
    run, *more = _snapshot_lines(snap, report.running, tasks)
    run = ("this run: " if report.running else "last run: ") + run
    return "\n".join([_headline(report, snap), *totals, run, *more])


def _totals_line(totals: tuple[tuple[str, int], ...]) -> str:
    """The crawl's totals, every run's: ``crawl: 529 pages  done 529  failed 3 ...``."""
    counts = dict(totals)
    pages = counts.pop("pages", 0)
    return "  ".join([f"crawl: {pages} pages", *(f"{k} {v}" for k, v in counts.items())])


def _snapshot_lines(snap: Snapshot, running: bool, tasks: bool) -> list[str]:
    counters = "  ".join(f"{k} {v}" for k, v in snap.counters.items())
    lines = [f"elapsed {snap.elapsed_s:.0f}s  {counters}"]
    if snap.renderer:
        lines.append(snap.renderer)
    if running:
        rates = "  ".join(f"{k} {v:g}/min" for k, v in snap.rates_per_min.items() if v)
        lines.append(f"last minute: {rates or '-'}")
        lines += _live_lines(snap)
    if tasks and snap.tasks:
        lines.append("tasks:")
        lines += [f"  {t.name:<18} {t.state:<8} {t.waiting_on}" for t in snap.tasks]
    return lines


def _workers_text(report: StatusReport, *, tasks: bool) -> str:
    lines = [_workers_headline(report)]
    for worker in report.workers:
        snap = worker.snapshot
        lines.append(_worker_line(worker))
        if snap is not None:
            lines += ["  " + line for line in _snapshot_lines(snap, worker.alive, tasks)]
    if not report.running and _unfinished(report):
        lines.append(f"to continue the crawl, run: {resume_command(report.db)}")
    return "\n".join(lines)


def _unfinished(report: StatusReport) -> bool:
    """Is work left: URLs claimed by a worker that died or failed, or pending after one was
    stopped? (Workers finish when the database says the crawl is over: --max-pages reached
    leaves URLs pending.)"""
    if any(w.dead or w.ended == WorkerEnd.FAILED for w in report.workers):
        return True
    stopped = any(w.ended == WorkerEnd.STOPPED for w in report.workers)
    return stopped and (report.pending is None or report.pending.hosts > 0)


def _workers_headline(report: StatusReport) -> str:
    """``running; 3 workers, 2 alive, 1 finished, 1 idle: every host with pending URLs is
    held``: the counts that are not zero (alive always)."""
    workers = report.workers
    parts = [_count(len(workers), "worker"), f"{sum(w.alive for w in workers)} alive"]
    parts += [f"{n} {end}" for end in WorkerEnd if (n := sum(w.ended == end for w in workers))]
    if dead := sum(w.dead for w in workers):
        parts.append(f"{dead} dead")
    if idle := sum(w.idle for w in workers):
        parts.append(f"{idle} idle{_why_idle(report.pending)}")
    return f"{report.db}: {'running' if report.running else 'not running'}; " + ", ".join(parts)


def _why_idle(pending: PendingHosts | None) -> str:
    """Why a live worker holds no host: one host is fetched by one worker at a time."""
    if pending is None or (pending.hosts and pending.held < pending.hosts):
        return ""  # free hosts: it leases one at its next claim
    if not pending.hosts:
        return ": no URL is pending"
    return ": every host with pending URLs is held"


def _worker_line(worker: WorkerReport) -> str:
    snap = worker.snapshot
    if worker.ended is not None:
        pid = f" (pid {snap.pid})" if snap else ""
        why = f": {worker.error}" if worker.error else ""
        return f"worker {worker.name}{pid}: {worker.ended} {worker.ended_age_s:.1f}s ago{why}"
    said = f" (pid {snap.pid}, {snap.state})" if snap else " (no snapshot yet)"
    if worker.dead:
        return (
            f"worker {worker.name}{said}: dead, no heartbeat for {worker.heartbeat_age_s:.1f}s"
            "; its URLs go back to the pool when another worker recovers them"
        )
    holds = "" if worker.hosts_held is None else f", holds {_count(worker.hosts_held, 'host')}"
    idle = ", idle" if worker.idle else ""
    return f"worker {worker.name}{said}, heartbeat {worker.heartbeat_age_s:.1f}s ago{holds}{idle}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _headline(report: StatusReport, snap: Snapshot) -> str:
    age = f"{snap.age_s():.1f}s ago"
    if report.running:
        state = "" if snap.state == "running" else f", {snap.state}"
        return f"{report.db}: running (pid {snap.pid}){state}, updated {age}"
    if report.stale:
        return (
            f"{report.db}: not running; the last snapshot ({age}) says {snap.state}: "
            f"the crawl died (killed or crashed). To continue it, run: {resume_command(report.db)}"
        )
    return f"{report.db}: not running; the last crawl {snap.state} {age}"


def _live_lines(snap: Snapshot) -> list[str]:
    lines = []
    if snap.in_flight:
        lines.append("in flight (age, attempt):")
        lines += [f"  {f.age_s:6.1f}s  #{f.attempt}  {f.url}" for f in snap.in_flight]
    if snap.hosts:
        lines.append("hosts (queued, in flight, delay, next start in):")
        lines += [
            f"  {h.host}  {h.queued}  {h.in_flight}  {h.delay_s:g}s  {h.next_start_in_s:g}s"
            for h in snap.hosts
        ]
    return lines


def resume_command(db: str | Path) -> str:
    """The full command that resumes the crawl in ``db``, quoted for a POSIX shell."""
    return f"scraper resume --db {shlex.quote(str(db))}"
