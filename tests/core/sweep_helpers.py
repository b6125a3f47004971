"""Jobs for sweep tests that run in worker processes (so they live in an importable module):
one that takes its worker down, and one that outlasts any test."""
import os
import signal
import time

from core.experiments.job import run_job

DOOMED = 1  # the job index whose worker dies


def exit_on_doomed(base, job):
    """The worker calls os._exit in the doomed job: no exception, no reply, just gone."""
    if job.index == DOOMED:
        os._exit(3)
    return run_job(base, job)


def exit_twice_on_doomed(base, job):
    """The doomed job's worker dies on its first two attempts (in a pool, then alone: the sweep
    reports it failed) and trains on the third (a retry). The file named by the environment's
    SWEEP_TEST_MARK counts the deaths."""
    mark = os.environ["SWEEP_TEST_MARK"]
    if job.index == DOOMED:
        deaths = os.path.getsize(mark) if os.path.exists(mark) else 0
        if deaths < 2:
            with open(mark, "a") as f:
                f.write("x")
            os._exit(3)
    return run_job(base, job)


def exit_always(base, job):
    """Every worker dies: the trouble is the workers, not one run."""
    os._exit(3)


def kill_on_doomed(base, job):
    """The worker is killed (SIGKILL, as the out-of-memory killer does) in the doomed job."""
    if job.index == DOOMED:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_job(base, job)


def slow_after_first(base, job):
    """Job 0 trains; the others sleep for a minute: a sweep stopped after the first result
    must not wait for them."""
    if job.index > 0:
        time.sleep(60)
    return run_job(base, job)
