"""CPU time and resident memory of a process and its children (psutil if present, else /proc)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

try:
    import psutil
except ImportError:  # the runner also works with the standard library alone (Linux /proc)
    psutil = None

_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError)
if psutil is not None:
    _ERRORS = (*_ERRORS, psutil.Error)

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = (task / "children").read_text().split()
        except OSError:
            continue
        for k in kids:
            out.append(int(k))
            out.extend(_children(int(k)))
    return out


def _tree(pid: int) -> list[int]:
    if psutil is not None:
        try:
            p = psutil.Process(pid)
            return [pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.Error:
            return []
    return [pid, *_children(pid)]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its descendants, or None if it is gone."""
    total = 0.0
    found = False
    for p in _tree(pid):
        try:
            if psutil is not None:
                t = psutil.Process(p).cpu_times()
                total += t.user + t.system
            else:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / _TICK
            found = True
        except _ERRORS:
            continue
    return total if found else None


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def rss_bytes(pid: int) -> int:
    """Anonymous resident memory (``RssAnon``) of ``pid`` and its descendants, in bytes.

    File-backed pages are left out: the server reads SQLite through ``mmap``, so pages
    of the database file it reads count in plain RSS while being the OS page cache
    (shared, reclaimable), not memory the server holds.
    """
    total = 0
    for p in _tree(pid):
        try:
            total += _rss_anon(p)
        except (*_ERRORS, OSError, ValueError):
            continue
    return total


def _rss_anon(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise ValueError("no RssAnon")


class PeakRss:
    """Samples ``rss_bytes(pid)`` every ``interval`` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = rss_bytes(pid)
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self.samples += 1
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))
