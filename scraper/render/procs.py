"""The memory of a process and its descendants, read from /proc (Linux; 0 elsewhere)."""

import os
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _pss(pid: int) -> int:
    """Proportional resident bytes (shared pages split among their sharers), else plain RSS."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def _kids(pid: int) -> list[int] | None:
    """``pid``'s children from ``/proc/PID/task/*/children`` (every thread's), None if the
    kernel has no such files: far cheaper than reading every process's ``stat``."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []
    kids: list[int] = []
    for task in tasks:
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except FileNotFoundError:
            if not (task / "stat").exists():
                continue  # the thread ended
            return None
        except OSError:
            continue
    return kids


def tree_rss(pid: int) -> int:
    """Resident bytes (PSS) of ``pid`` and every process under it (0 if it is gone)."""
    if pid <= 0 or not Path("/proc").is_dir():
        return 0
    direct = _kids(pid)
    tree = _children() if direct is None else None
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += _pss(current)
        except (OSError, ValueError, IndexError):
            continue
        todo.extend(tree.get(current, ()) if tree is not None else _kids(current) or ())
    return total


def marked_pids(marker: str) -> list[int]:
    """Processes whose command line carries ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker.encode() in argv:
                found.append(int(entry.name))
    return found
