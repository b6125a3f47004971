"""The document's list of kept runs: observable like the network (core.network).

Changed only through its own methods, each of which validates, changes, then emits one
RunChange on `changed`; views (the window's Runs panel) listen and never keep a copy. Bounded:
at most MAX_RUNS runs; adding one more drops the oldest (said in the `removed` event).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterator

from core.errors import RunError, shorten
from core.events import Signal
from core.experiments.run import Run, check_name

# Each run's four curves of at most 500 points take 40-60 kB of JSON, its weights about 30 bytes
# a parameter: 500 runs of a small net are a file of 20-30 MB, well under the 200 MB limit.
MAX_RUNS = 500


@dataclass(frozen=True)
class RunChange:
    """One event on `RunLog.changed`. kind: added, removed, updated (a running run's new
    figures), renamed, reset (the whole list replaced: Open, New, undo of those)."""

    kind: str
    ids: tuple[str, ...] = ()


class RunLog:
    def __init__(self, runs: list[Run] | tuple[Run, ...] = ()) -> None:
        self.changed = Signal()
        self._runs: list[Run] = []
        self._next = 1
        for run in runs[-MAX_RUNS:]:
            self._runs.append(self._with_free_id(run))

    # ----- queries ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunLog) and self._runs == other._runs

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __iter__(self) -> Iterator[Run]:
        return iter(list(self._runs))

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        return any(r.id == run_id for r in self._runs)

    def __getitem__(self, run_id: str) -> Run:
        return self._runs[self.index(run_id)]

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(self._runs)

    def ids(self) -> list[str]:
        return [r.id for r in self._runs]

    def index(self, run_id: str) -> int:
        for i, r in enumerate(self._runs):
            if r.id == run_id:
                return i
        raise RunError(f"there is no run {shorten(repr(run_id), 40)}")

    def previous(self, run_id: str) -> Run | None:
        i = self.index(run_id)
        return self._runs[i - 1] if i > 0 else None

    def differences(self, run_id: str) -> list[tuple[str, Any, Any]]:
        """The settings in which this run differs from the one before it in the list."""
        return self[run_id].differences(self.previous(run_id))

    def next_name(self) -> str:
        """'Run N' for the next run, N one more than the largest such name in the log."""
        numbers = [int(m.group(1)) for r in self._runs
                   if (m := re.fullmatch(r"Run (\d{1,9})", r.name))]
        return f"Run {max(numbers, default=0) + 1}"

    # ----- changes ------------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        """Append a run (given a fresh id if it has none or one already used); returns it as
        added. Beyond MAX_RUNS the oldest is dropped first."""
        run = self._with_free_id(run)
        if len(self._runs) >= MAX_RUNS:
            dropped = self._runs[: len(self._runs) - MAX_RUNS + 1]
            del self._runs[: len(dropped)]
            self.changed.emit(RunChange("removed", tuple(r.id for r in dropped)))
        self._runs.append(run)
        self.changed.emit(RunChange("added", (run.id,)))
        return run

    def update(self, run: Run) -> None:
        """Replace the run of the same id (a running run's newer figures)."""
        self._runs[self.index(run.id)] = run
        self.changed.emit(RunChange("updated", (run.id,)))

    def rename(self, run_id: str, name: str) -> None:
        i = self.index(run_id)
        self._runs[i] = self._runs[i].renamed(name)
        self.changed.emit(RunChange("renamed", (run_id,)))

    def remove(self, run_ids: list[str] | tuple[str, ...]) -> list[tuple[int, Run]]:
        """Delete runs; returns (index, run) of each, in list order, for insert() to undo."""
        positions = sorted(self.index(i) for i in set(run_ids))
        removed = [(i, self._runs[i]) for i in positions]
        for i in reversed(positions):
            del self._runs[i]
        self.changed.emit(RunChange("removed", tuple(r.id for _, r in removed)))
        return removed

    def insert(self, removed: list[tuple[int, Run]]) -> None:
        """Put runs back where remove() took them from (ids kept)."""
        for i, run in removed:
            if run.id in self:
                raise RunError(f"there is already a run {shorten(repr(run.id), 40)}")
            self._runs.insert(min(i, len(self._runs)), run)
        self.changed.emit(RunChange("added", tuple(r.id for _, r in removed)))

    def replace_with(self, other: "RunLog") -> None:
        """Take over another log's runs (Open, New): one `reset` event."""
        self._runs, self._next = list(other._runs), other._next
        self.changed.emit(RunChange("reset"))

    def copy(self) -> "RunLog":
        log = RunLog()
        log._runs, log._next = list(self._runs), self._next  # runs are immutable
        return log

    def _with_free_id(self, run: Run) -> Run:
        taken = {r.id for r in self._runs}
        for r in self._runs:
            m = re.fullmatch(r"r(\d{1,9})", r.id)
            if m:
                self._next = max(self._next, int(m.group(1)) + 1)
        if run.id and run.id not in taken:
            return run
        while f"r{self._next}" in taken:
            self._next += 1
        self._next += 1
        return replace(run, id=f"r{self._next - 1}")

    # ----- plain data ---------------------------------------------------------------------
    def to_list(self) -> list[dict]:
        return [r.to_dict() for r in self._runs]

    @classmethod
    def from_list(cls, items: Any, where: str = "runs") -> tuple["RunLog", list[str]]:
        """The log a file holds, and one note for each run dropped or field ignored: a bad
        run never stops the project from opening."""
        notes: list[str] = []
        if not isinstance(items, list):
            return cls(), [f"{where} must be a list; the runs were dropped"]
        if len(items) > MAX_RUNS:
            notes.append(f"{where} holds {len(items):,} runs; the last {MAX_RUNS} were kept")
        runs, ids = [], set()
        for i, item in enumerate(items[-MAX_RUNS:], start=max(0, len(items) - MAX_RUNS)):
            try:
                run = Run.from_dict(item, f"{where}[{i}]", notes)
            except RunError as exc:
                notes.append(f"{exc}; that run was dropped")
                continue
            if run.id in ids:
                run = replace(run, id="")  # the log gives it a free one
            ids.add(run.id)
            runs.append(run)
        return cls(runs), notes
