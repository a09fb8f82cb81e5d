"""Task introspection for status snapshots and SIGUSR1: each asyncio task's name, state and
where it is suspended, and every task's stack as text."""

import asyncio
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import CoroutineType, FrameType, GeneratorType
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # scraper/


@dataclass(frozen=True, slots=True)
class TaskInfo:
    name: str
    state: str  # "running", "waiting", "done"
    waiting_on: (
        str  # innermost frame and what it awaits: "Scheduler.next_item (scheduler.py:1) on Future"
    )


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
