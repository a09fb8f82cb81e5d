"""What a running crawl is doing, as a snapshot another process can read.

The engine's ``status`` task builds a :class:`Snapshot` about once a second and stores it
in the database (``meta`` key ``status``) as JSON: counters, rates over the last minute, the
URLs in flight with their age and attempt, the busiest hosts' queues and next allowed start,
and every asyncio task with what it is waiting on. ``scraper status`` reads it back.
"""

import asyncio
import dataclasses
import io
import json
import os
import shlex
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import CoroutineType, FrameType, GeneratorType
from typing import Any

from scraper.storage import WorkerStatus, crawl_running, db_label, open_read_store

RATE_WINDOW_S = 60.0
RATE_COUNTERS = frozenset(
    {"fetched", "stored", "checked", "failed", "blocked", "retried", "discovered"}
)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # scraper/
TOP_HOSTS = 20
TOP_IN_FLIGHT = 50


@dataclass(frozen=True, slots=True)
class TaskInfo:
    name: str
    state: str  # "running", "waiting", "done"
    waiting_on: (
        str  # innermost frame and what it awaits: "Scheduler.next_item (scheduler.py:1) on Future"
    )


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


def _where(frame: FrameType) -> str:
    code = frame.f_code
    return f"{code.co_qualname} ({os.path.basename(code.co_filename)}:{frame.f_lineno})"


def describe_task(task: "asyncio.Task[Any]") -> TaskInfo:
    """A task's name, state and where it is suspended: the innermost frame of this package,
    then the innermost frame of all (a library's), then the kind of object it awaits."""
    if task.done():
        return TaskInfo(task.get_name(), "done", "")
    ours, innermost, awaited = "", "", None
    coro: object = task.get_coro()
    for _ in range(100):  # bounded walk down the await chain
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if isinstance(frame, FrameType):
            innermost = _where(frame)
            if _PACKAGE_DIR in frame.f_code.co_filename:
                ours = innermost
        nxt = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        if not isinstance(nxt, CoroutineType | GeneratorType):
            awaited = nxt
            break
        coro = nxt
    where = ours if ours == innermost or not ours else f"{ours} > {innermost.split(' ')[0]}"
    kind = type(awaited).__name__.removesuffix("Iter")  # _asyncio.FutureIter: a Future
    on = f" on {kind}" if awaited is not None else ""
    return TaskInfo(task.get_name(), "waiting" if awaited is not None else "running", where + on)


def describe_tasks(tasks: Iterable["asyncio.Task[Any]"]) -> list[TaskInfo]:
    return sorted((describe_task(t) for t in tasks), key=lambda t: _task_order(t.name))


def _task_order(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("-")
    return (stem, int(number)) if number.isdigit() else (name, -1)


def task_stacks(tasks: Iterable["asyncio.Task[Any]"]) -> str:
    """Every task's stack as text (for SIGUSR1)."""
    out = io.StringIO()
    for task in tasks:
        out.write(f"--- task {task.get_name()} ---\n")
        task.print_stack(limit=20, file=out)
        info = describe_task(task)
        if info.waiting_on:
            out.write(f"    waiting in {info.waiting_on}\n")
    return out.getvalue()


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
    )


@dataclass(frozen=True, slots=True)
class WorkerReport:
    """One worker of a shared crawl (PostgreSQL): its name, heartbeat and last snapshot."""

    name: str
    alive: bool
    heartbeat_age_s: float
    snapshot: Snapshot | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What ``scraper status`` knows: is a crawl running, and its last snapshot; on a shared
    crawl (PostgreSQL), every worker's (``snapshot`` is then the first live worker's)."""

    db: str
    running: bool
    snapshot: Snapshot | None
    workers: tuple[WorkerReport, ...] = ()
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
        workers = {"workers": [asdict(w) for w in self.workers]} if self.workers else {}
        totals = {"totals": dict(self.totals)}
        return json.dumps(
            {**report, **totals, "age_s": age, "snapshot": snap, **workers}, ensure_ascii=False
        )


async def read_status(db: str | Path) -> StatusReport:
    """Probe the crawl lock (before opening the database), then read the snapshots."""
    running = crawl_running(db)
    async with open_read_store(db) as store:
        workers = await store.workers()
        totals = await store.totals()
    if any(w.name for w in workers):
        return dataclasses.replace(_shared_report(db_label(db), workers), totals=totals)
    text = workers[0].status if workers else None
    snapshot = Snapshot.from_json(text) if text else None
    return StatusReport(db_label(db), running, snapshot, totals=totals)


def _shared_report(db: str, workers: list[WorkerStatus]) -> StatusReport:
    reports = tuple(
        WorkerReport(
            w.name, bool(w.alive), round(w.heartbeat_age_s or 0.0, 1),
            Snapshot.from_json(w.status) if w.status else None,
        )
        for w in workers
    )  # fmt: skip
    live = [w for w in reports if w.alive] or list(reports)
    return StatusReport(db, any(w.alive for w in reports), live[0].snapshot, reports)


def render_text(report: StatusReport, *, tasks: bool = False) -> str:
    """The report as plain text, for a terminal or a pipe: a short summary, with the in-flight
    URLs and busiest hosts while a crawl runs, and every task's stack position with ``tasks``;
    on a shared crawl, that for each worker, a dead one (no heartbeat) said so."""
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
    if running:
        rates = "  ".join(f"{k} {v:g}/min" for k, v in snap.rates_per_min.items() if v)
        lines.append(f"last minute: {rates or '-'}")
        lines += _live_lines(snap)
    if tasks and snap.tasks:
        lines.append("tasks:")
        lines += [f"  {t.name:<18} {t.state:<8} {t.waiting_on}" for t in snap.tasks]
    return lines


def _workers_text(report: StatusReport, *, tasks: bool) -> str:
    alive = sum(w.alive for w in report.workers)
    state = "running" if report.running else "not running"
    lines = [f"{report.db}: {state}; {len(report.workers)} workers, {alive} alive"]
    for worker in report.workers:
        snap = worker.snapshot
        said = f" (pid {snap.pid}, {snap.state})" if snap else " (no snapshot yet)"
        if worker.alive:
            lines.append(f"worker {worker.name}{said}, heartbeat {worker.heartbeat_age_s:.1f}s ago")
        else:
            lines.append(
                f"worker {worker.name}{said}: dead, no heartbeat for {worker.heartbeat_age_s:.1f}s"
                "; its URLs go back to the pool when another worker recovers them"
            )
        if snap is not None:
            lines += ["  " + line for line in _snapshot_lines(snap, worker.alive, tasks)]
    if not report.running and report.stale:
        lines.append(f"to continue the crawl, run: {resume_command(report.db)}")
    return "\n".join(lines)


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
