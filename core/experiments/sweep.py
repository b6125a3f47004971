"""Sweeps: one or two settings over lists of values x seeds, each combination one job
(core.experiments.job), run in parallel through the standard concurrent.futures.Executor
interface: a local process pool by default, a Dask cluster's executor given a scheduler.

A worker process that dies loses only its own job: the pool it broke is replaced, the jobs
that were in it at the time run again one at a time, and the one that kills its worker alone
is reported failed with why (Dask retries a job on other workers by itself and then reports
it as KilledWorker). Stopping (Ctrl+C, should_stop) keeps every result already reported.
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import re
import signal
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import dataclass, fields
from typing import Any, Callable

from core.activations import ACTIVATIONS
from core.errors import SettingsError, SweepError, UserError, one_line, shorten
from core.experiments.job import HIDDEN_ACTIVATION, Job, JobResult, SweepBase, refusal, run_job
from core.settings import MAX_SEED, TrainingSettings

MAX_AXES = 2  # one or two settings: a line or a grid of final losses
MAX_VALUES = 1000
MAX_JOBS = 100_000
# The sweep's own options stand for these: --seeds and --epochs.
NOT_SWEPT = {"seed": "--seeds", "epochs": "--epochs"}
SWEEPABLE = (*(f.name for f in fields(TrainingSettings) if f.name not in NOT_SWEPT),
             HIDDEN_ACTIVATION)
WAIT_SECONDS = 0.2  # how often a waiting sweep looks at should_stop
CONNECT_SECONDS = 10.0  # how long to try to reach a Dask scheduler
# Runs in a row that took their worker down even alone: past this the workers themselves are
# the problem (they die as they start, memory is gone) and the sweep stops rather than start
# a pool for every remaining run.
DEATHS_IN_A_ROW = 3


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepSpec:
    axes: tuple[Axis, ...]
    seeds: tuple[int, ...]

    def jobs(self) -> list[Job]:
        """Every combination, the first axis outermost and the seeds innermost."""
        combos = itertools.product(*(a.values for a in self.axes), self.seeds)
        names = [a.name for a in self.axes]
        return [Job(i, tuple(zip(names, c[:-1])), c[-1]) for i, c in enumerate(combos)]

    @property
    def size(self) -> int:
        return math.prod(len(a.values) for a in self.axes) * len(self.seeds)


# ----- the spec from the command line -------------------------------------------------------
def parse_axis(text: str, base: TrainingSettings) -> Axis:
    """'learning_rate=0.01,0.1' -> Axis; each value checked as the settings check it."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise SweepError(f"--set needs NAME=V1,V2,... (e.g. learning_rate=0.01,0.1), not "
                         f"{shorten(repr(text), 40)}")
    if name in NOT_SWEPT:
        raise SweepError(f"use {NOT_SWEPT[name]} instead of --set {name}")
    if name not in SWEEPABLE:
        raise SweepError(f"--set {shorten(name, 40)}: not a setting; use one of "
                         f"{', '.join(SWEEPABLE)}")
    parts = [p.strip() for p in values.split(",")]
    if not values.strip() or not all(parts):
        raise SweepError(f"--set {name}: give values separated by commas, none empty")
    if len(parts) > MAX_VALUES:
        raise SweepError(f"--set {name}: {len(parts):,} values; the limit is {MAX_VALUES:,}")
    parsed = tuple(_value(name, p, base) for p in parts)
    repeated = next((p for i, p in enumerate(parsed) if p in parsed[:i]), None)
    if repeated is not None:
        raise SweepError(f"--set {name} lists {shorten(str(repeated), 40)} twice")
    return Axis(name, parsed)


def _value(name: str, text: str, base: TrainingSettings) -> Any:
    """One value of a setting, parsed by the type of its default, then validated."""
    where = f"--set {name}={shorten(text, 40)}"
    if name == HIDDEN_ACTIVATION:
        if text not in ACTIVATIONS:
            raise SweepError(f"{where}: use one of {', '.join(ACTIVATIONS)}")
        return text
    default = getattr(base, name)
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise SweepError(f"{where}: use true or false")
        value: Any = text.lower() == "true"
    elif isinstance(default, int):
        if not re.fullmatch(r"[+-]?[0-9]{1,30}", text):
            raise SweepError(f"{where}: not a whole number")
        value = int(text)
    elif isinstance(default, float):
        if not re.fullmatch(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?", text):
            raise SweepError(f"{where}: not a number")
        value = float(text)
    else:
        value = text
    try:
        TrainingSettings.from_dict({**base.to_dict(), name: value})
    except SettingsError as exc:
        raise SweepError(f"{where}: {exc}") from None
    return value


def make_spec(sets: list[str], seeds: int, base: TrainingSettings) -> SweepSpec:
    """The sweep of `--set` texts x `seeds` seeds: the settings' seed, seed + 1, ...
    (no --set: the project as it is, repeated with `seeds` initialisations)."""
    if len(sets) > MAX_AXES:
        raise SweepError(f"at most {MAX_AXES} --set (a line or a grid of runs)")
    axes = tuple(parse_axis(s, base) for s in sets)
    if len({a.name for a in axes}) < len(axes):
        raise SweepError(f"--set {axes[-1].name} is given twice")
    if not 1 <= seeds <= MAX_JOBS:
        raise SweepError(f"--seeds must be between 1 and {MAX_JOBS:,}")
    if base.seed + seeds - 1 > MAX_SEED:
        raise SweepError(f"--seeds {seeds} from seed {base.seed} goes past {MAX_SEED}")
    spec = SweepSpec(axes, tuple(range(base.seed, base.seed + seeds)))
    if spec.size > MAX_JOBS:
        raise SweepError(f"{spec.size:,} runs; the limit is {MAX_JOBS:,}")
    return spec


def check_jobs(base: SweepBase, jobs: list[Job]) -> None:
    """Refuse the sweep before it starts if a combination cannot train (e.g. softmax_ce on
    one output); each distinct setting combination is checked once."""
    seen: set = set()
    for job in jobs:
        if job.settings in seen:
            continue
        seen.add(job.settings)
        problem = refusal(base, job)
        if problem:
            what = " ".join(f"{k}={v}" for k, v in job.settings)
            raise SweepError(f"{shorten(what, 80)}: {problem}")


# ----- executors ----------------------------------------------------------------------------
def _quiet_worker() -> None:
    """A local worker leaves Ctrl+C to the sweep, which stops it (and keeps what finished)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int | None = None) -> Executor:
    """A process pool of `workers` (default: every core), its workers spawned: fresh
    interpreters with this process's environment as it is now. Not forked (the window's
    process has threads), and not from the forkserver: there is one per process, and it
    keeps the environment and preloads of whoever started it first (the window's training
    processes; in the test suite, a sweep started it without the window's engine setting and
    the window's training then took the compiled path). Spawning costs about 0.4 s more per
    pool on 2 cores, once per sweep."""
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(workers or os.cpu_count() or 1,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_quiet_worker)


class DaskExecutors:
    """Executors of a Dask distributed cluster (the optional extra `cluster`); close() ends
    the connection."""

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
            from distributed.comm import get_address_host_port
        except ImportError:
            raise SweepError("--scheduler needs the optional package distributed: "
                             "pip install -e \".[cluster]\"") from None
        try:  # checked before a Client exists: a half-made one complains as it is collected
            get_address_host_port(address)
        except (ValueError, TypeError) as exc:
            raise SweepError(f"{shorten(address, 80)} is not a scheduler address such as "
                             f"tcp://10.0.0.5:8786 ({one_line(exc, 200)})") from None
        try:
            self.client = Client(address, timeout=CONNECT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - any way of not connecting is one line
            raise SweepError(f"cannot reach the Dask scheduler at {shorten(address, 80)} "
                             f"({one_line(exc, 200)})") from None

    def __call__(self) -> Executor:
        return self.client.get_executor(pure=False)

    @property
    def workers(self) -> int:
        """Threads over all workers: as many jobs are kept in flight."""
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        self.client.close()


# ----- running ------------------------------------------------------------------------------
def run_sweep(base: SweepBase, jobs: list[Job], make_executor: Callable[[], Executor],
              in_flight: int, on_result: Callable[[JobResult], None] = lambda r: None,
              should_stop: Callable[[], bool] = lambda: False,
              work: Callable[[SweepBase, Job], Any] = run_job,
              on_start: Callable[[Job], None] = lambda job: None) -> list[JobResult]:
    """Run `jobs`, at most `in_flight` at a time, calling on_start as each goes to a worker
    (again if it is rerun) and on_result as each ends (in the order they end). Returns the
    results so far, also when stopped (or interrupted: then the KeyboardInterrupt goes on
    after the executor is shut down)."""
    return _Sweep(base, make_executor, in_flight, on_result, should_stop, work,
                  on_start).run(jobs)


class _Sweep:
    def __init__(self, base, make_executor, in_flight, on_result, should_stop, work,
                 on_start) -> None:
        self.base, self.make_executor, self.limit = base, make_executor, max(1, in_flight)
        self.on_result, self.should_stop, self.work = on_result, should_stop, work
        self.on_start = on_start
        self.results: list[JobResult] = []
        self.running: dict[Future, tuple[Job, bool]] = {}  # future -> (job, run alone)
        self.suspects: deque[Job] = deque()  # jobs in a pool that broke: each runs alone
        self.attempts: dict[int, int] = {}
        self.deaths = 0  # runs in a row whose worker died with them alone in it

    def run(self, jobs: list[Job]) -> list[JobResult]:
        pending = deque(jobs)
        executor = self.make_executor()
        try:
            while (pending or self.running or self.suspects) and not self.should_stop():
                self._fill(executor, pending)
                done, _ = wait(list(self.running), timeout=WAIT_SECONDS,
                               return_when=FIRST_COMPLETED)
                broke = [self._finish(f) for f in done]  # every one: no short circuit
                if any(broke):
                    executor = self._replace(executor)
        finally:
            _stop(executor, list(self.running))
        return self.results

    def _fill(self, executor: Executor, pending: deque) -> None:
        """Keep the pool busy; a suspect runs alone, so a death then is its own."""
        if self.suspects:
            if not self.running:
                self._submit(executor, self.suspects.popleft(), alone=True)
            return
        while pending and len(self.running) < self.limit:
            self._submit(executor, pending.popleft(), alone=False)

    def _submit(self, executor: Executor, job: Job, alone: bool) -> None:
        self.attempts[job.index] = self.attempts.get(job.index, 0) + 1
        self.running[executor.submit(self.work, self.base, job)] = (job, alone)
        self.on_start(job)

    def _finish(self, future: Future) -> bool:
        """Report one ended job; True when its pool broke (the pool must be replaced)."""
        job, alone = self.running.pop(future)
        try:
            result = JobResult(job, future.result(), attempts=self.attempts[job.index])
        except BrokenExecutor:
            if not alone:
                self.suspects.append(job)
                return True
            result = JobResult(job, None, "its worker process died (killed, out of memory, "
                               "or crashed)", self.attempts[job.index])
            self._report(result)
            self.deaths += 1
            if self.deaths >= DEATHS_IN_A_ROW:
                raise SweepError(f"{self.deaths} runs in a row took their worker process down "
                                 "(killed, out of memory, or crashed); the sweep stopped")
            return True
        except UserError as exc:
            result = JobResult(job, None, one_line(exc), self.attempts[job.index])
        except Exception as exc:  # noqa: BLE001 - a job's failure is its row, not the sweep's
            result = JobResult(job, None, _failure(exc), self.attempts[job.index])
        else:
            self.deaths = 0
        self._report(result)
        return False

    def _report(self, result: JobResult) -> None:
        self.results.append(result)
        self.on_result(result)

    def _replace(self, executor: Executor) -> Executor:
        """A new pool for a broken one; the jobs it still held are suspects too."""
        for future, (job, _) in list(self.running.items()):
            self.running.pop(future)
            self.suspects.append(job)
        _stop(executor, [])
        return self.make_executor()


def _failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":  # Dask: the job took its worker down every time it was tried
        return f"its worker process died each time it ran it (Dask: {one_line(exc, 200)})"
    return f"{name}: {one_line(exc, 300)}"


def _stop(executor: Executor, unfinished: list[Future]) -> None:
    """Shut the executor down without waiting for jobs still running: a local pool's workers
    are ended (they ignore Ctrl+C, and would otherwise keep the program alive until their
    jobs end); a Dask executor cancels its futures."""
    for f in unfinished:
        f.cancel()
    processes = getattr(executor, "_processes", None)  # ProcessPoolExecutor's, by pid
    if unfinished and processes:
        for p in list(processes.values()):
            if p.is_alive():
                p.terminate()
    executor.shutdown(wait=not unfinished, cancel_futures=True) \
        if _takes_cancel(executor) else executor.shutdown(wait=not unfinished)


def _takes_cancel(executor: Executor) -> bool:
    import inspect

    return "cancel_futures" in inspect.signature(executor.shutdown).parameters
