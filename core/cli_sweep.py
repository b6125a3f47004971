"""`python main.py sweep FILE [--set NAME=V1,V2] [--set ...] [--seeds K] -o results.csv`: the
project trained once per combination of settings and seed, in parallel (core.experiments),
one row per run written as it ends. Exit codes: 0 every run ended (diverged ones included),
1 some run failed (its row says why; --resume retries it), 2 bad input, 130 interrupted
(the finished rows are kept)."""
from __future__ import annotations

import argparse
import os
from typing import TextIO

from core.cli_common import ProgressBar, load
from core.errors import UsageError


def sweep(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.experiments.job import SweepBase
    from core.experiments.results import ResultsFile, check_output, finished_rows
    from core.experiments.sweep import check_jobs, make_spec

    project, data = load(args.file, err)
    spec = make_spec(args.set, args.seeds, project.training)
    check_output(args.output, args.file, args.resume)
    epochs = args.epochs if args.epochs is not None else project.training.epochs
    base = SweepBase(project.network.to_dict(), data, project.data, project.training, epochs,
                     init=True, keep_weights=False)
    jobs = spec.jobs()
    check_jobs(base, jobs)
    kept = finished_rows(args.output, spec) if args.resume else {}
    todo = [j for j in jobs if j.index not in kept]
    executors, in_flight = _executors(args)
    table = ResultsFile(args.output, spec)
    bar = ProgressBar(len(jobs), err, enabled=not args.quiet, unit="runs", eager=True)
    counts = {"done": 0, "diverged": 0, "failed": 0}

    def on_result(result) -> None:
        table.append(result)
        counts[result.status] += 1
        bar.update(len(kept) + sum(counts.values()))

    table.start(kept)
    bar.update(len(kept))
    try:
        from core.experiments.sweep import run_sweep

        run_sweep(base, todo, executors, in_flight, on_result)
    except KeyboardInterrupt:
        bar.close()
        finished = len(kept) + counts["done"] + counts["diverged"]
        print(f"interrupted: {finished} of {len(jobs)} runs finished, kept in {args.output}; "
              "run the same command with --resume for the rest", file=err)
        return 130
    finally:  # stopped, interrupted or done: the rows so far, in the sweep's order
        bar.close()
        table.finish()
        if hasattr(executors, "close"):
            executors.close()
    done = len(kept) + counts["done"]
    print(f"wrote {args.output}: {len(jobs)} runs, {done} done, {counts['diverged']} diverged, "
          f"{counts['failed']} failed", file=out)
    if counts["failed"]:
        print(f"{counts['failed']} run(s) failed (the note column says why); run the same "
              "command with --resume to retry them", file=err)
        return 1
    return 0


def _executors(args: argparse.Namespace):
    """A factory of executors (a broken local pool is replaced) and how many runs to keep in
    flight: every core locally, every thread of a Dask cluster."""
    from core.experiments.sweep import DaskExecutors, local_executor

    if args.scheduler is not None:
        if not args.scheduler.strip():
            raise UsageError("--scheduler needs an address, e.g. tcp://10.0.0.5:8786")
        dask = DaskExecutors(args.scheduler)
        return dask, args.workers or dask.workers
    workers = args.workers or os.cpu_count() or 1
    return (lambda: local_executor(workers)), workers
