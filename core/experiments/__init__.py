"""Experiments: training runs kept with their settings, curves and results (run, run_log),
recorded from the window's training (recorder), and sweeps of settings x seeds trained in
parallel through any concurrent.futures.Executor (job, sweep)."""
