"""A sweep's results as a CSV table: one row per run, written as each run ends (so a stopped
sweep keeps what finished) and put in the sweep's order at the end; read back to resume a
sweep, retrying the runs that failed and running the ones it never reached."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from core.errors import SweepError, shorten
from core.experiments.job import JobResult, value_text
from core.experiments.sweep import SweepSpec
from core.files import check_save_target, read_user_file, write_atomically
from core.safe_text import csv_cell

FIGURES = ("train_loss", "test_loss", "train_accuracy", "test_accuracy")
TAIL = ("seed", "status", *FIGURES, "steps", "epochs", "seconds", "note")
FINISHED = ("done", "diverged")  # rows --resume keeps; "failed" ones run again
MAX_RESULTS_BYTES = 200 * 2**20


def header(spec: SweepSpec) -> list[str]:
    return ["job", *(a.name for a in spec.axes), *TAIL]


def row(result: JobResult) -> list[str]:
    job, run = result.job, result.run
    final = run.final if run is not None else None
    figures = ["" if final is None or getattr(final, k) is None else repr(getattr(final, k))
               for k in FIGURES]
    counts = ["", "", ""] if run is None else [str(run.steps), str(run.epochs),
                                                f"{run.seconds:.3f}"]
    note = result.error if run is None else run.note
    return [str(job.index), *(csv_cell(value_text(v)) for _, v in job.settings), str(job.seed),
            result.status, *figures, *counts, csv_cell(" ".join(note.split()))]


class ResultsFile:
    """The output table: rows appended (and flushed) as runs end; finish() puts them in job
    order, atomically."""

    def __init__(self, path: str | Path, spec: SweepSpec) -> None:
        self.path, self.header = Path(path), header(spec)
        self.rows: dict[int, list[str]] = {}
        self._stream = None

    def start(self, kept: dict[int, list[str]] | None = None) -> None:
        self.rows = dict(kept or {})
        self._stream = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._stream)
        self._writer.writerow(self.header)
        for index in sorted(self.rows):
            self._writer.writerow(self.rows[index])
        self._stream.flush()

    def append(self, result: JobResult) -> None:
        cells = row(result)
        self.rows[result.job.index] = cells
        self._writer.writerow(cells)
        self._stream.flush()

    def finish(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        out = io.StringIO(newline="")
        writer = csv.writer(out)
        writer.writerow(self.header)
        for index in sorted(self.rows):
            writer.writerow(self.rows[index])
        write_atomically(self.path, out.getvalue().encode("utf-8"))


def check_output(path: str | Path, project_file: str | Path, resume: bool) -> None:
    """Refuse an output the sweep must not write: the project itself, a folder, or an
    existing file that is not a sweep's results (a project, someone's table)."""
    check_save_target(path)
    target = Path(path)
    if target.exists() and target.resolve() == Path(project_file).resolve():
        raise SweepError(f"{shorten(str(path), 80)} is the project file; choose another -o")
    if not target.exists():
        if resume:
            raise SweepError(f"--resume: {shorten(str(path), 80)} does not exist yet")
        return
    first = read_user_file(target, MAX_RESULTS_BYTES)[:200].decode("utf-8", "replace")
    if not first.startswith("job,"):
        raise SweepError(f"{shorten(str(path), 80)} exists and is not a sweep's results; "
                         "choose another -o")


def finished_rows(path: str | Path, spec: SweepSpec) -> dict[int, list[str]]:
    """The rows of an earlier run of this same sweep that finished, by job index."""
    name = shorten(Path(path).name, 60)
    text = read_user_file(Path(path), MAX_RESULTS_BYTES).decode("utf-8", "replace")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:  # a NUL byte, a cell over the csv module's size limit
        raise SweepError(f"{name} is not a readable table ({exc}); --resume needs the "
                         "sweep's own results") from None
    expected = header(spec)
    if not rows or rows[0] != expected:
        raise SweepError(f"{name} has the columns of another sweep; --resume needs the same "
                         "--set names")
    jobs = {tuple(row(JobResult(j))[1: len(spec.axes) + 2]): j.index for j in spec.jobs()}
    kept: dict[int, list[str]] = {}
    for line, cells in enumerate(rows[1:], start=2):
        if len(cells) != len(expected):
            raise SweepError(f"{name}, line {line}: {len(cells)} cells, not {len(expected)}")
        key = tuple(cells[1: len(spec.axes) + 2])
        if key not in jobs:
            raise SweepError(f"{name}, line {line}: {shorten(' '.join(key), 60)} is not in this "
                             "sweep; --resume needs the same values and --seeds")
        if cells[len(spec.axes) + 2] in FINISHED:
            kept[jobs[key]] = [str(jobs[key]), *cells[1:]]
    return kept
