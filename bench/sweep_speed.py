"""A sweep on local worker processes against the same runs one after another (issue 16):
8 runs of the spiral net (assets/examples/spiral.json, 2-16-16-1, Adam, batch 32: the file's
own settings, seeds 0-7, weights drawn from each seed) on 2 workers.

One after another means run_job called 8 times in this process: no pool, no pickling, no
process start-up, so the reference is the fastest way to run them in sequence. The sweep is
timed whole, as a user waits for it: the pool's start (spawned workers importing the app), sending
the jobs and data, and collecting the runs. Interleaved rounds (sequential, sweep,
sequential, ...), medians; BLAS held to 1 thread here (threadpoolctl) and in every worker
(the job does it). The load average is printed before and after, and the CPU each side
obtained (the runs' CPU seconds over the wall seconds): other programs on the machine take cores from the
sweep and not from the sequence, which only ever needs one. Where the kernel shares the CPU
fairly between sessions (autogroup), a session's processes share one session's part: on a
machine busy with other sessions a sweep gets no more CPU than one process, and its ratio
goes to 1 however many workers it has; the cores column shows when that happened.

    python bench/sweep_speed.py                  # 3 rounds, the file's 600 epochs
    python bench/sweep_speed.py --rounds 5 --epochs 300 --workers 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data.dataset import make_dataset  # noqa: E402
from core.experiments.job import SweepBase, run_job  # noqa: E402
from core.experiments.sweep import local_executor, make_spec, run_sweep  # noqa: E402
from core.project import load_project  # noqa: E402

TARGET = 0.6  # the sweep at most 0.6 of the sequence's time on 2 workers


def timed_job(base: SweepBase, job) -> tuple:
    """run_job and the CPU seconds it took in its process (counted in the process
    that runs it, a worker or this one)."""
    cpu = time.process_time()
    run = run_job(base, job)
    return run, time.process_time() - cpu


def sequential(base: SweepBase, jobs) -> tuple[float, float, list]:
    start = time.perf_counter()
    timed = [timed_job(base, job) for job in jobs]
    return time.perf_counter() - start, sum(c for _, c in timed), [r for r, _ in timed]


def swept(base: SweepBase, jobs, workers: int) -> tuple[float, float, list]:
    start = time.perf_counter()
    results = run_sweep(base, jobs, lambda: local_executor(workers), workers, work=timed_job)
    seconds = time.perf_counter() - start
    failed = [r for r in results if r.run is None]
    if failed:
        raise SystemExit(f"a run failed: {failed[0].error}")
    timed = [r.run for r in sorted(results, key=lambda r: r.job.index)]
    return seconds, sum(c for _, c in timed), [r for r, _ in timed]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, help="per run (default: the file's)")
    args = parser.parse_args()
    project = load_project(ROOT / "assets" / "examples" / "spiral.json")
    epochs = args.epochs or project.training.epochs
    base = SweepBase(project.network.to_dict(), make_dataset(project.data), project.data,
                     project.training, epochs, keep_weights=False)
    jobs = make_spec(["l2=0"], args.runs, project.training).jobs()
    times: dict[str, list[float]] = {"one after another": [], "sweep": []}
    cores: dict[str, list[float]] = {"one after another": [], "sweep": []}
    busy = []
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with threadpool_limits(limits=1, user_api="blas"):
        blas = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        for r in range(args.rounds):
            t_seq, c_seq, seq_runs = sequential(base, jobs)
            t_par, c_par, par_runs = swept(base, jobs, args.workers)
            # The same numbers either way (the sweep's determinism, checked on every round).
            if [x.final for x in seq_runs] != [x.final for x in par_runs]:
                raise SystemExit("the sweep's runs differ from the sequence's")
            times["one after another"].append(t_seq)
            times["sweep"].append(t_par)
            cores["one after another"].append(c_seq / t_seq)
            cores["sweep"].append(c_par / t_par)
            busy.append(sum(x.seconds for x in par_runs) / (t_par * args.workers))
            print(f"round {r + 1}: one after another {t_seq:.2f} s ({c_seq / t_seq:.2f} cores), "
                  f"sweep {t_par:.2f} s ({c_par / t_par:.2f} cores), ratio {t_par / t_seq:.2f}",
                  flush=True)
    seq, par = (statistics.median(times[k]) for k in ("one after another", "sweep"))
    ratios = [p / s for s, p in zip(times["one after another"], times["sweep"])]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"{args.runs} runs of spiral 2-16-16-1, {epochs} epochs each, {args.workers} workers, "
          f"BLAS threads {blas} here and 1 in each worker (threadpoolctl), "
          f"{args.rounds} interleaved rounds, medians:")
    got = {k: statistics.median(v) for k, v in cores.items()}
    print(f"  one after another  {seq:7.2f} s   CPU obtained {got['one after another']:.2f} cores")
    print(f"  sweep              {par:7.2f} s   CPU obtained {got['sweep']:.2f} cores, "
          f"ratio {par / seq:.2f} "
          f"(per-round ratios {', '.join(f'{x:.2f}' for x in ratios)}; target at most {TARGET})")
    print(f"  workers busy training {100 * statistics.median(busy):.0f}% of the sweep's time "
          "(the rest: start-up, hand-over, the last run alone)")
    return 0 if par / seq <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
