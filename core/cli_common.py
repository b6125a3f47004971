"""What the command line's commands share: loading a project with its data, and the
progress bar on stderr."""
from __future__ import annotations

import time
from pathlib import Path
from typing import TextIO

from core.errors import one_line


def load(path: str, err: TextIO | None = None):
    """The project and its data; what loading left out (a bad kept run) is said on `err`."""
    from core.data.dataset import make_dataset
    from core.project import load_project

    project = load_project(path)
    for note in project.notes if err is not None else ():
        print(f"note: {one_line(note)}", file=err)
    return project, make_dataset(project.data, Path(path).resolve().parent)


class ProgressBar:
    """A one-line progress bar (with the loss when given), redrawn at most 10 times a second.

    Nothing is drawn during the first second, so quick runs print no bar at all unless
    `eager` (training shows its bar from the start, as it always has).
    """

    def __init__(self, total: int, stream: TextIO, enabled: bool = True, width: int = 30,
                 unit: str = "epoch", eager: bool = False) -> None:
        self.total, self.stream, self.width = max(total, 1), stream, width
        self.enabled, self.unit = enabled, unit
        self._start = time.monotonic()
        self._last = 0.0 if eager else self._start + 0.9
        self._drawn = False

    def update(self, done: int, loss: float | None = None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < self.total):
            return
        if not self._drawn and done >= self.total and self._last > self._start:
            return  # finished before the first draw was due
        self._last = now
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "-" * (self.width - filled)
        if self.unit == "epoch":
            text = f"epoch {done}/{self.total}"
        else:
            left = time_left(now - self._start, done, self.total)
            text = f"{done:,}/{self.total:,} {self.unit}{left}"
        tail = "" if loss is None else f"  loss {loss:.5g}"
        self.stream.write(f"\r[{bar}] {text}{tail}   ")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def time_left(elapsed: float, done: int, total: int) -> str:
    """', about 4 h left': a long check says how long it will take (Ctrl+C stops it)."""
    if done <= 0 or done >= total:
        return ""
    left = elapsed / done * (total - done)
    if left >= 3600:
        return f", about {left / 3600:.0f} h left"
    return f", about {left / 60:.0f} min left" if left >= 60 else f", about {left:.0f} s left"
